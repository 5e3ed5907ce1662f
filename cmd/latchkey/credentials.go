package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/oauth2"
)

// The sign-ins "latchkey login" keeps, in os.UserConfigDir()/latchkey/
// credentials.json: a refresh token per server, never an access token
// (those last minutes; each run gets a fresh one). The server rotates a
// refresh token on every use and revokes the whole sign-in when a used
// one comes back, so a refresh and the storing of its successor happen
// under a lock that every latchkey process takes.

// credentials is the file's content.
type credentials struct {
	// Logins are by the URL the commands talk to: the endpoint, with
	// /t/{slug} for a tenant other than the default.
	Logins map[string]storedLogin `json:"logins"`
}

// storedLogin is one sign-in.
type storedLogin struct {
	Endpoint     string `json:"endpoint"`
	Tenant       string `json:"tenant,omitempty"`
	Issuer       string `json:"issuer"`
	ClientID     string `json:"client_id"`
	RefreshToken string `json:"refresh_token"`
	Email        string `json:"email"`
}

// userConfigDir is os.UserConfigDir, reading the environment the command
// runs in.
func (a *app) userConfigDir() (string, error) {
	switch runtime.GOOS {
	case "windows", "darwin", "ios", "plan9":
		return os.UserConfigDir()
	}
	if d := a.env.lookup("XDG_CONFIG_HOME"); d != "" {
		if !filepath.IsAbs(d) {
			return "", fmt.Errorf("XDG_CONFIG_HOME %q is not an absolute path", d)
		}
		return d, nil
	}
	home := a.env.lookup("HOME")
	if home == "" {
		return "", errors.New("neither XDG_CONFIG_HOME nor HOME is set: there is nowhere to keep the sign-in")
	}
	return filepath.Join(home, ".config"), nil
}

// credentialsPath is where the sign-ins are kept.
func (a *app) credentialsPath() (string, error) {
	dir, err := a.userConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "latchkey", "credentials.json"), nil
}

// updateCredentials runs fn on the file's content under the lock, and
// writes the content back when fn reports a change.
func updateCredentials(path string, fn func(c *credentials) (changed bool, err error)) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	// The directory holds credentials: no one else reads it, whatever
	// made it.
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return fmt.Errorf("locking %s: %w", path, err)
	}
	defer unlock()
	c, err := readCredentials(path)
	if err != nil {
		return err
	}
	changed, err := fn(c)
	if err != nil || !changed {
		return err
	}
	return writeCredentials(path, c)
}

// readCredentials reads the file; a missing one holds no sign-in.
func readCredentials(path string) (*credentials, error) {
	c := &credentials{Logins: map[string]storedLogin{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("%s is not a latchkey credentials file (remove it and sign in again): %v", path, err)
	}
	if c.Logins == nil {
		c.Logins = map[string]storedLogin{}
	}
	return c, nil
}

// writeCredentials replaces the file at once: a reader sees the old
// content or the new, never part of it. The file is the user's alone.
func writeCredentials(path string, c *credentials) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".credentials-*.json")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // once renamed, there is nothing to remove
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// refreshLogin obtains an access token with the stored sign-in of r,
// and stores the refresh token the server rotated it to.
func (a *app) refreshLogin(ctx context.Context, r *remote) (*oauth2.Token, error) {
	path, err := a.credentialsPath()
	if err != nil {
		return nil, err
	}
	notSignedIn := fmt.Errorf("no credentials for %s: not signed in.\n  %s", r.base, r.credentialsHint())
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, notSignedIn
	}
	var tok *oauth2.Token
	err = updateCredentials(path, func(c *credentials) (bool, error) {
		l, ok := c.Logins[r.base]
		if !ok {
			return false, notSignedIn
		}
		md, err := r.discover(ctx)
		if err != nil {
			return false, err
		}
		conf := oauth2.Config{ClientID: l.ClientID, Endpoint: oauth2.Endpoint{TokenURL: md.TokenEndpoint, AuthStyle: oauth2.AuthStyleInParams}}
		t, err := conf.TokenSource(context.WithValue(ctx, oauth2.HTTPClient, r.hc), &oauth2.Token{RefreshToken: l.RefreshToken}).Token()
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
			return false, fmt.Errorf("the sign-in to %s as %s has ended (signed out, expired or revoked).\n  Run %q to sign in again",
				r.base, l.Email, r.loginCommand())
		}
		if err != nil {
			return false, tokenError("renewing the sign-in to "+r.base, err)
		}
		tok = t
		if t.RefreshToken == "" || t.RefreshToken == l.RefreshToken {
			return false, nil
		}
		l.RefreshToken = t.RefreshToken
		c.Logins[r.base] = l
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return tok, nil
}
