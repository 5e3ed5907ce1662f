package account

import (
	"context"
	"fmt"
	"time"
)

// SignedInWithin reports whether sess began at most d ago: its AuthTime
// is when its user last proved who they are, by signing in or by proving
// a second factor in a session begun for it. The pages ask for a recent
// one before anything that takes a way of signing in away.
func (s *Sessions) SignedInWithin(sess *Session, d time.Duration) bool {
	return s.now().Sub(sess.AuthTime) <= d
}

// EndOthers ends every session of keep's user but keep. After the user
// sets up their first second factor, sessions begun on the password
// alone (a stolen one among them) must not carry on as if they had
// proved it.
func (s *Sessions) EndOthers(ctx context.Context, keep *Session) error {
	err := s.Repo.InAccountTx(ctx, func(tx Tx) error { return tx.DeleteOtherSessions(ctx, keep.UserID, keep.ID) })
	if err != nil {
		return fmt.Errorf("account: ending the other sessions of %s: %w", keep.UserID, err)
	}
	return nil
}
