package leak

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/latchkey/latchkey/internal/client"
)

// Limits of one report.
const (
	// MaxBody bounds a request body: a full list of long URLs fits.
	MaxBody = 256 << 10
	// MaxEntries bounds the credentials of one report.
	MaxEntries = 100
)

// ErrMalformed is a report that is not a JSON list of credential objects.
var ErrMalformed = errors.New("malformed report")

// Parse reads a report: a JSON array of at most MaxEntries objects whose
// token, type, url and source are strings (each may be missing; other
// members are ignored, as scanners add some). Duplicate members, values
// of the wrong type, trailing data and anything else fail with an error
// wrapping ErrMalformed that says what is wrong.
func Parse(body []byte) ([]client.LeakReport, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := expectDelim(dec, '['); err != nil {
		return nil, err
	}
	var out []client.LeakReport
	for dec.More() {
		if len(out) == MaxEntries {
			return nil, fmt.Errorf("%w: more than %d entries", ErrMalformed, MaxEntries)
		}
		r, err := parseEntry(dec)
		if err != nil {
			return nil, fmt.Errorf("%w (entry %d)", err, len(out))
		}
		out = append(out, r)
	}
	if err := expectDelim(dec, ']'); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the list", ErrMalformed)
	}
	return out, nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if d, ok := tok.(json.Delim); err != nil || !ok || d != want {
		return fmt.Errorf("%w: want %q", ErrMalformed, string(want))
	}
	return nil
}

// parseEntry reads one object, member by member, so that a duplicate
// member is seen (encoding/json would keep the last silently).
func parseEntry(dec *json.Decoder) (client.LeakReport, error) {
	var r client.LeakReport
	if err := expectDelim(dec, '{'); err != nil {
		return r, err
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		key, ok := tok.(string)
		if err != nil || !ok {
			return r, fmt.Errorf("%w: want a member name", ErrMalformed)
		}
		if seen[key] {
			return r, fmt.Errorf("%w: member %q twice", ErrMalformed, truncate(key))
		}
		seen[key] = true
		var dst *string
		switch key {
		case "token":
			dst = &r.Token
		case "type":
			dst = &r.Type
		case "url":
			dst = &r.URL
		case "source":
			dst = &r.Source
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return r, fmt.Errorf("%w: bad value of %q", ErrMalformed, truncate(key))
		}
		if dst != nil {
			if err := json.Unmarshal(raw, dst); err != nil {
				return r, fmt.Errorf("%w: %q must be a string", ErrMalformed, key)
			}
		} else if !json.Valid(raw) {
			return r, fmt.Errorf("%w: bad value of %q", ErrMalformed, truncate(key))
		}
	}
	return r, expectDelim(dec, '}')
}

// truncate keeps an echoed member name short.
func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
