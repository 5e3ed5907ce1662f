package provision_test

import (
	"context"
	"testing"

	"github.com/latchkey/latchkey/internal/provision"
)

// TestGeneratedAdminPasswordMustBeChanged: the admin a first start makes
// with a generated password is asked to choose their own; one the
// operator gave is theirs already.
func TestGeneratedAdminPasswordMustBeChanged(t *testing.T) {
	for _, tc := range []struct {
		name, password string
		want           bool
	}{{"generated", "", true}, {"given", "correct horse battery staple", false}} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(t)
			res, err := provision.Run(context.Background(), st, provision.Params{Issuer: issuer, AdminPassword: tc.password})
			if err != nil {
				t.Fatal(err)
			}
			if generated := res.AdminPassword != ""; generated != tc.want {
				t.Fatalf("AdminPassword returned: %v, want %v", generated, tc.want)
			}
			u, err := st.User(context.Background(), res.Admin.ID)
			if err != nil {
				t.Fatal(err)
			}
			if u.PasswordChangeRequired != tc.want || res.Admin.PasswordChangeRequired != tc.want {
				t.Errorf("PasswordChangeRequired stored %v, returned %v; want %v", u.PasswordChangeRequired,
					res.Admin.PasswordChangeRequired, tc.want)
			}
		})
	}
}
