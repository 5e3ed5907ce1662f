package admin

import "net/http"

// finishRotation revokes the client's retiring secrets now, answering the
// secrets revoked.
func finishRotation(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	confirm, err := confirmParam(r)
	if err != nil {
		return err
	}
	revoked, err := a.Clients.FinishRotation(r.Context(), c.actor, r.PathValue("id"), confirm)
	if err != nil {
		return err
	}
	out := SecretList{Secrets: make([]Secret, 0, len(revoked))}
	for _, s := range revoked {
		out.Secrets = append(out.Secrets, NewSecret(s))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
