package admin

import (
	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/client"
)

// routes is every operation of the API, in the order the OpenAPI document
// lists them. A route's Permission is its gate (the principal holds it
// somewhere); the domain service decides for the records concerned.
var routes = []Route{
	{"GET", "/me", "", getMe},

	{"GET", "/clients", authz.ClientView, listClients},
	{"POST", "/clients", authz.ClientAdd, createClient},
	{"GET", "/clients/{id}", authz.ClientView, getClient},
	{"PATCH", "/clients/{id}", authz.ClientEdit, updateClient},
	{"DELETE", "/clients/{id}", authz.ClientDelete, deleteClient},
	{"POST", "/clients/{id}/activate", authz.ClientEdit, setStatus(client.StatusActive)},
	{"POST", "/clients/{id}/deactivate", authz.ClientEdit, setStatus(client.StatusInactive)},
	{"POST", "/clients/{id}/revoke", authz.ClientRevoke, setStatus(client.StatusRevoked)},
	{"POST", "/clients/{id}/rotate-secret", authz.ClientRotate, rotateSecret},
	{"GET", "/clients/{id}/secrets", authz.ClientView, listSecrets},
	{"POST", "/clients/{id}/secrets", authz.ClientRotate, addSecret},
	{"POST", "/clients/{id}/secrets/{secret}/revoke", authz.ClientRotate, revokeSecret},
	{"POST", "/clients/{id}/finish-rotation", authz.ClientRotate, finishRotation},
	{"GET", "/reports/stale", authz.ClientView, staleReport},
	{"GET", "/clients/{id}/warnings", authz.ClientView, listWarnings},

	// A bulk change also needs the permission of its operation, which
	// the service checks.
	{"POST", "/bulk-jobs", authz.ClientEdit, createBulkJob},
	{"GET", "/bulk-jobs", authz.ClientView, listBulkJobs},
	{"GET", "/bulk-jobs/{id}", authz.ClientView, getBulkJob},
	{"POST", "/bulk-jobs/{id}/cancel", authz.ClientEdit, cancelBulkJob},
	{"GET", "/bulk-jobs/{id}/result", authz.ClientRotate, getBulkResult},

	// Who may view clients may read the mails and events about them.
	{"GET", "/outbox", authz.ClientView, listOutbox},
	{"GET", "/outbox/{id}", authz.ClientView, getDelivery},

	{"GET", "/webhooks", authz.WebhooksManage, listWebhooks},
	{"POST", "/webhooks", authz.WebhooksManage, createWebhook},
	{"DELETE", "/webhooks/{id}", authz.WebhooksManage, deleteWebhook},

	{"GET", "/users", authz.UsersManage, listUsers},
	{"POST", "/users", authz.UsersManage, createUser},
	{"GET", "/users/{id}", authz.UsersManage, getUser},
	{"PATCH", "/users/{id}", authz.UsersManage, updateUser},
	{"POST", "/users/{id}/disable", authz.UsersManage, setUserStatus(account.UserDisabled)},
	{"POST", "/users/{id}/enable", authz.UsersManage, setUserStatus(account.UserActive)},

	{"GET", "/roles", authz.UsersManage, listRoles},
	{"POST", "/roles", authz.UsersManage, createRole},
	{"GET", "/roles/{name}", authz.UsersManage, getRole},
	{"PATCH", "/roles/{name}", authz.UsersManage, updateRole},
	{"DELETE", "/roles/{name}", authz.UsersManage, deleteRole},

	// Whoever may view clients may see the divisions they are in.
	{"GET", "/divisions", authz.ClientView, listDivisions},
	{"POST", "/divisions", authz.UsersManage, createDivision},
	{"PATCH", "/divisions/{id}", authz.UsersManage, renameDivision},
	{"DELETE", "/divisions/{id}", authz.UsersManage, deleteDivision},

	{"GET", "/tenants", authz.TenantsManage, listTenants},
	{"POST", "/tenants", authz.TenantsManage, createTenant},

	// Whoever may view clients may read the policy they are held to.
	{"GET", "/policy", authz.ClientView, getPolicy},
	{"PUT", "/policy", authz.TenantsManage, putPolicy},
	{"GET", "/compliance", authz.ClientView, getCompliance},

	{"GET", "/audit/events", authz.AuditView, listAudit},
}
