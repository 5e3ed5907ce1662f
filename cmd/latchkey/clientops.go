package main

import (
	"context"
	"fmt"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/admin/adminclient"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
)

// clientOps is what the clients commands ask of Latchkey: the domain
// service on the database (localClients) or a server's admin API
// (remoteClients). Both take the domain's parameters and return the API's
// views, and fail with the domain's errors, so each command is written,
// and prints, once.
type clientOps interface {
	// Create returns the new client with its issued secret, if any.
	Create(ctx context.Context, p client.CreateParams) (admin.Client, error)
	List(ctx context.Context, q client.ListQuery) (admin.ClientList, error)
	// Get returns the client with its secrets' metadata.
	Get(ctx context.Context, id string) (admin.Client, error)
	// Update and SetStatus return the client without its secrets.
	Update(ctx context.Context, id string, p client.UpdateParams) (admin.Client, error)
	SetStatus(ctx context.Context, id string, to client.Status, confirm bool) (admin.Client, error)
	// RotateSecret returns the client with its secrets' metadata and the
	// new secret.
	RotateSecret(ctx context.Context, id string, p client.RotateParams) (admin.Client, error)
	// FinishRotation revokes the client's retiring secrets and returns
	// the client with its secrets' metadata.
	FinishRotation(ctx context.Context, id string, confirm bool) (admin.Client, error)
	// Stale is List of the clients unused for days days.
	Stale(ctx context.Context, days int, q client.ListQuery) (admin.ClientList, error)
	Delete(ctx context.Context, id string) error
	// UserID returns the ID of the user with this email.
	UserID(ctx context.Context, email string) (string, error)
}

var (
	_ clientOps = localClients{}
	_ clientOps = remoteClients{}
)

// localClients runs the operations on the database, as the operator.
type localClients struct {
	svc   *client.Service
	users *account.Users
	actor authz.Actor
}

func (l localClients) Create(ctx context.Context, p client.CreateParams) (admin.Client, error) {
	c, sec, err := l.svc.Create(ctx, l.actor, p)
	if err != nil {
		return admin.Client{}, err
	}
	var secrets []client.Secret
	if sec != nil {
		secrets = []client.Secret{sec.Secret}
	}
	return admin.NewClient(c, secrets).WithSecret(sec), nil
}

func (l localClients) List(ctx context.Context, q client.ListQuery) (admin.ClientList, error) {
	page, err := l.svc.List(ctx, l.actor, q)
	if err != nil {
		return admin.ClientList{}, err
	}
	return clientList(page), nil
}

// clientList is a page of clients as the admin API writes it, so local and
// remote listings print alike.
func clientList(page *client.ListPage) admin.ClientList {
	out := admin.ClientList{Clients: make([]admin.Client, 0, len(page.Clients)), NextPageToken: page.Next,
		Total: page.Total, TotalEstimated: page.TotalEstimated}
	for _, c := range page.Clients {
		out.Clients = append(out.Clients, admin.NewClient(c, nil))
	}
	return out
}

func (l localClients) Get(ctx context.Context, id string) (admin.Client, error) {
	c, secrets, err := l.svc.Get(ctx, l.actor, id)
	if err != nil {
		return admin.Client{}, err
	}
	return admin.NewClient(c, secrets), nil
}

func (l localClients) Update(ctx context.Context, id string, p client.UpdateParams) (admin.Client, error) {
	c, err := l.svc.Update(ctx, l.actor, id, p)
	if err != nil {
		return admin.Client{}, err
	}
	return admin.NewClient(c, nil), nil
}

func (l localClients) SetStatus(ctx context.Context, id string, to client.Status, confirm bool) (admin.Client, error) {
	c, err := l.svc.SetStatus(ctx, l.actor, id, to, confirm)
	if err != nil {
		return admin.Client{}, err
	}
	return admin.NewClient(c, nil), nil
}

func (l localClients) RotateSecret(ctx context.Context, id string, p client.RotateParams) (admin.Client, error) {
	sec, err := l.svc.RotateSecret(ctx, l.actor, id, p)
	if err != nil {
		return admin.Client{}, err
	}
	v, err := l.Get(ctx, id)
	if err != nil {
		return admin.Client{}, err
	}
	return v.WithSecret(sec), nil
}

func (l localClients) Delete(ctx context.Context, id string) error {
	return l.svc.Delete(ctx, l.actor, id)
}

func (l localClients) UserID(ctx context.Context, email string) (string, error) {
	u, err := l.users.Find(ctx, l.actor, email)
	if err != nil {
		return "", err
	}
	return u.ID, nil
}

// remoteClients runs the operations through a server's admin API, as the
// principal its credentials stand for.
type remoteClients struct {
	api *adminclient.Client
	r   *remote
}

// listFields and rotateFields are the API's names of the fields the
// domain names otherwise.
var (
	listFields   = map[string]string{"q": "search", "page_token": "after", "page_size": "limit", "owner": "owner_user_id"}
	rotateFields = map[string]string{"grace_period": "grace"}
)

// view returns the view an API call answered, and its error as the
// local command would report it.
func (rc remoteClients) view(v *admin.Client, err error) (admin.Client, error) {
	if err != nil {
		return admin.Client{}, rc.r.remoteErr(err)
	}
	return *v, nil
}

func (rc remoteClients) Create(ctx context.Context, p client.CreateParams) (admin.Client, error) {
	return rc.view(rc.api.CreateClient(ctx, p))
}

func (rc remoteClients) List(ctx context.Context, q client.ListQuery) (admin.ClientList, error) {
	p := adminclient.ListParams{Q: q.Search, Status: string(q.Status), Owner: q.OwnerUserID, LastGrant: string(q.LastGrant),
		AuthorizedBy: q.AuthorizedBy, Sort: string(q.Sort), PageSize: q.Limit, PageToken: q.After}
	if q.Desc {
		p.Order = "desc"
	}
	l, err := rc.api.ListClients(ctx, p)
	if err != nil {
		return admin.ClientList{}, rc.r.remoteErr(domainFields(err, listFields))
	}
	return *l, nil
}

func (rc remoteClients) Get(ctx context.Context, id string) (admin.Client, error) {
	return rc.view(rc.api.GetClient(ctx, id))
}

func (rc remoteClients) Update(ctx context.Context, id string, p client.UpdateParams) (admin.Client, error) {
	v, err := rc.view(rc.api.UpdateClient(ctx, id, p))
	v.Secrets = nil
	return v, err
}

// actions are the API's status changes, by the status they lead to.
var actions = map[client.Status]adminclient.ClientAction{
	client.StatusActive: adminclient.Activate, client.StatusInactive: adminclient.Deactivate, client.StatusRevoked: adminclient.Revoke,
}

func (rc remoteClients) SetStatus(ctx context.Context, id string, to client.Status, confirm bool) (admin.Client, error) {
	action, ok := actions[to]
	if !ok {
		return admin.Client{}, fmt.Errorf("no status change leads to %q", to)
	}
	v, err := rc.view(rc.api.SetClientStatus(ctx, id, action, confirm))
	v.Secrets = nil
	return v, err
}

func (rc remoteClients) RotateSecret(ctx context.Context, id string, p client.RotateParams) (admin.Client, error) {
	sec, err := rc.api.RotateSecret(ctx, id, p)
	if err != nil {
		return admin.Client{}, rc.r.remoteErr(domainFields(err, rotateFields))
	}
	v, err := rc.Get(ctx, id)
	if err != nil {
		return admin.Client{}, err
	}
	v.ClientSecret, v.ClientSecretShown = sec.ClientSecret, sec.Notice
	return v, nil
}

func (rc remoteClients) Delete(ctx context.Context, id string) error {
	return rc.r.remoteErr(rc.api.DeleteClient(ctx, id))
}

func (rc remoteClients) UserID(ctx context.Context, email string) (string, error) {
	u, err := rc.api.FindUser(ctx, email)
	if err != nil {
		return "", rc.r.remoteErr(err)
	}
	return u.ID, nil
}
