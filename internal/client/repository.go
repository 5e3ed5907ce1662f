package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/notify/event"
)

// Repository is the persistence the client domain needs. The storage
// adapters implement it; they return ErrNotFound and ErrConflict (wrapped or
// not) for missing and duplicate records, and never a driver error type.
type Repository interface {
	// RoleSource reads a tenant's custom roles, to resolve an actor's.
	authz.RoleSource
	PolicySource
	// Client returns the client with the given ID in any tenant.
	Client(ctx context.Context, id string) (*Client, error)
	// Secrets returns the client's secrets, newest first.
	Secrets(ctx context.Context, clientID string) ([]Secret, error)
	// SecretByHash returns the secret stored with this hash, of any
	// client in any tenant, or ErrNotFound: how a leak report, which
	// knows only a secret's value, finds it (an index lookup).
	SecretByHash(ctx context.Context, hash string) (*Secret, error)
	// ListClients returns one page of a tenant's clients.
	ListClients(ctx context.Context, q ListQuery) (*ListPage, error)
	// InTx runs fn in one transaction, committed when fn returns nil and
	// rolled back otherwise. Transactions that lock the same client
	// serialize.
	InTx(ctx context.Context, fn func(Tx) error) error
	// RecordUse stores last-used times, keeping the later of the stored and
	// given time; a secret's source address goes with its time, so the
	// stored address is that of the later use. Uses of records that no
	// longer exist are ignored.
	RecordUse(ctx context.Context, uses []Use) error
	// RecordActivity stores clients' last authorizations and last issued
	// tokens, each only when later than the stored one. Activity of
	// clients that no longer exist is ignored.
	RecordActivity(ctx context.Context, acts []Activity) error
	// AddTokenCounts adds tokens issued to the daily counters of their
	// clients and tenants, in one transaction: all are added or none.
	// The tenant's counters keep the tokens of every client, also of
	// clients since deleted; a client's counters go with it, and counts
	// of a client that no longer exists are added to its tenant's only.
	AddTokenCounts(ctx context.Context, counts []TokenCount) error
	// FleetCounts counts a tenant's clients and the tokens they were
	// issued, as FleetQuery says, in one snapshot.
	FleetCounts(ctx context.Context, q FleetQuery) (*FleetCounts, error)
	// ClientTokenDays returns the tokens issued to a client per UTC day
	// from from to to (UTC midnights, to excluded), oldest first, leaving
	// out days without tokens.
	ClientTokenDays(ctx context.Context, clientID string, from, to time.Time) ([]DayCount, error)
}

// PolicySource reads tenants' policies.
type PolicySource interface {
	// Policy returns the tenant's policy: the zero Policy (with TenantID
	// and RequireAdminMFA set) when none was saved, ErrNotFound for an
	// unknown tenant.
	Policy(ctx context.Context, tenantID string) (*Policy, error)
}

// TokenCount is how many tokens a client was issued in one UTC day, with
// the tenant and division it was in then, which its tenant's counters
// keep after the client is gone.
type TokenCount struct {
	ClientID   string
	TenantID   string
	DivisionID string
	Day        time.Time // UTC midnight
	Tokens     int64
}

// FleetQuery says what FleetCounts counts: the clients of one tenant, of
// the divisions listed or, when Divisions is nil, of every division.
type FleetQuery struct {
	TenantID  string
	Divisions []string
	// ExpiresBefore are instants, in any order: for each, FleetCounts
	// counts the active clients whose secret (Client.SecretExpiresAt)
	// expires before it, exactly to the microsecond stored.
	ExpiresBefore []time.Time
	// TokensFrom and TokensTo are UTC midnights: FleetCounts sums the
	// tokens issued to the clients of the divisions (by their division at
	// issue) per day from TokensFrom, to TokensTo excluded.
	TokensFrom, TokensTo time.Time
}

// FleetCounts answers a FleetQuery.
type FleetCounts struct {
	// ByStatus counts the clients of each status; a status without
	// clients may be missing.
	ByStatus map[Status]int64
	// ExpiringBefore[i] is how many active clients' secrets expire before
	// ExpiresBefore[i].
	ExpiringBefore []int64
	// Tokens are the tokens issued per day, oldest first, leaving out
	// days without tokens.
	Tokens []DayCount
}

// Activity is one coalesced observation of a client's latest
// authorization or token; a nil part is left as stored.
type Activity struct {
	ClientID      string
	Authorization *Authorization
	Token         *Issue
}

// Tx is the write side of Repository, valid only inside InTx.
//
// It is the store's one unit of work as the client domain sees it: besides
// the client records it carries the writes of other domains that must
// commit with a client change, each as a small interface owned by the leaf
// package of that domain (audit.Appender: every change and its audit event
// commit together; event.Appender: so do the webhook deliveries it
// causes). The storage adapters implement every such
// interface on one transaction type, so a service composes them without
// knowing of any other domain's storage.
type Tx interface {
	audit.Appender
	// Appender queues the webhook deliveries of a change with it.
	event.Appender
	// Noticer queues the mails of a change to its client's people.
	event.Noticer
	// RoleSource reads the tenant's custom roles in the transaction,
	// holding them until it ends, so a role assigned is not deleted
	// meanwhile.
	authz.RoleSource

	// PolicySource reads the tenant's policy as the transaction sees it.
	PolicySource
	// LockPolicy is Policy, holding the tenant's policy until the
	// transaction ends, so concurrent changes to it serialize and none is
	// lost.
	LockPolicy(ctx context.Context, tenantID string) (*Policy, error)
	// SavePolicy writes a tenant's policy, with its RequireAdminMFA onto
	// the tenant; ErrNotFound for an unknown tenant.
	SavePolicy(ctx context.Context, p *Policy) error

	// LockClient returns the client and holds its row until the transaction
	// ends, so concurrent changes to one client serialize.
	LockClient(ctx context.Context, id string) (*Client, error)
	Secrets(ctx context.Context, clientID string) ([]Secret, error)
	// UserInTenant reports whether a user with this ID exists in the tenant.
	UserInTenant(ctx context.Context, tenantID, userID string) (bool, error)
	// DivisionInTenant reports whether the tenant has this division,
	// holding it until the transaction ends, so it is not deleted while a
	// client is put in it.
	DivisionInTenant(ctx context.Context, tenantID, divisionID string) (bool, error)
	CreateClient(ctx context.Context, c *Client) error
	UpdateClient(ctx context.Context, c *Client) error
	// DeleteClient removes the client and its secrets.
	DeleteClient(ctx context.Context, id string) error
	CreateSecret(ctx context.Context, s *Secret) error
	UpdateSecret(ctx context.Context, s *Secret) error
	// MarkRetiringWarned records, once, that the warning of a retiring
	// secret still in use late in its grace was given at at. It reports
	// whether this call set the mark: false when it was set before (by
	// this instance or another) or the secret does not exist.
	MarkRetiringWarned(ctx context.Context, clientID, secretID string, at time.Time) (bool, error)
}

// Use is one coalesced "last used" observation.
type Use struct {
	ClientID string
	SecretID string // empty when no secret was involved
	At       time.Time
	// Addr is the source address of the use (after trusted proxies);
	// empty when unknown. It is stored for the secret only.
	Addr string
}

// SortField names a column the client list can be ordered by.
type SortField string

const (
	SortName            SortField = "name"
	SortClientID        SortField = "client_id"
	SortCreatedAt       SortField = "created_at"
	SortLastUsedAt      SortField = "last_used_at"
	SortSecretExpiresAt SortField = "secret_expires_at"
	SortStatus          SortField = "status"
	SortLastAuthorized  SortField = "last_authorized_at"
	SortLastToken       SortField = "last_token_at"
)

// SortFields lists every sortable column.
var SortFields = []SortField{SortName, SortClientID, SortCreatedAt, SortLastUsedAt, SortSecretExpiresAt, SortStatus,
	SortLastAuthorized, SortLastToken}

// Paging limits.
const (
	DefaultListLimit = 50
	MaxListLimit     = 1000
)

// ListQuery selects and orders a tenant's clients. Pages are keyset
// paginated: After is the Next of the previous page.
type ListQuery struct {
	TenantID    string
	OwnerUserID string // only clients owned by this user, when set
	// Search matches a case-insensitive substring of the name or client ID.
	Search string
	Status Status // empty for every status
	// LastGrant keeps only clients whose latest token was issued by this
	// grant, when set.
	LastGrant GrantType
	// AuthorizedBy keeps only clients whose latest authorization was by
	// this user, when set.
	AuthorizedBy string
	// Divisions keeps only clients of these divisions; nil for every
	// division (an empty list matches none).
	Divisions []string
	// Type keeps only confidential or only public clients, when set.
	Type Type
	// GrantType keeps only clients allowed this grant, when set.
	GrantType GrantType
	// CreatedBy keeps only clients created by this actor (Client.CreatedBy
	// exactly), when set.
	CreatedBy string
	// SecretExpiresBefore keeps only clients whose secret expires, before
	// this time: those already expired included. Zero for no filter.
	SecretExpiresBefore time.Time
	// UnusedSince keeps only clients never used or last used before this
	// time. Zero for no filter.
	UnusedSince time.Time
	// NeverUsed keeps only clients never used.
	NeverUsed bool
	// CreatedBefore keeps only clients created before this time. Zero for
	// no filter. With UnusedSince at the same time it selects the clients
	// unused since then, a never-used client counting from its creation.
	CreatedBefore time.Time
	Sort          SortField
	Desc          bool
	Limit         int
	After         string
	// Before, set in place of After, is the Prev of a later page: it
	// selects the Limit clients just before that page, in the same order.
	Before string
}

// ListPage is one page of clients.
type ListPage struct {
	Clients []*Client
	// Next continues the listing; empty on the last page.
	Next string
	// Prev goes back to the page before this one (as ListQuery.Before);
	// empty on the first page.
	Prev string
	// Total is how many clients the query matches, across pages: exact up
	// to a cap the store sets, since counting a million rows for every page
	// would cost more than the page. Beyond the cap it is the store's
	// estimate, never below the cap, and TotalEstimated is set.
	Total          int
	TotalEstimated bool
}

// Normalize fills defaults and checks the query, returning field errors for
// anything a caller could have typed wrong.
func (q *ListQuery) Normalize() error {
	var fe fieldErrors
	if q.Sort == "" {
		q.Sort = SortCreatedAt
	}
	valid := false
	for _, f := range SortFields {
		valid = valid || f == q.Sort
	}
	if !valid {
		fe.add("sort", "must be one of name, client_id, created_at, last_used_at, secret_expires_at, status, last_authorized_at, last_token_at")
	}
	if q.Status != "" && !ValidStatus(q.Status) {
		fe.add("status", `must be "active", "inactive" or "revoked"`)
	}
	if q.Limit == 0 {
		q.Limit = DefaultListLimit
	}
	if q.Limit < 1 || q.Limit > MaxListLimit {
		fe.add("limit", "must be from 1 to 1000")
	}
	validateText(&fe, "search", q.Search, 200, false)
	if strings.ContainsAny(q.Search, "\x00\n\r\t") {
		fe.add("search", "must be one line of text")
	}
	if q.LastGrant != "" && CheckGrantType(string(q.LastGrant)) != nil {
		fe.add("last_grant", "must be client_credentials, authorization_code or refresh_token")
	}
	if q.AuthorizedBy != "" && !validRef(q.AuthorizedBy) {
		fe.add("authorized_by", "must be a user ID")
	}
	if q.OwnerUserID != "" && !validRef(q.OwnerUserID) {
		fe.add("owner_user_id", "must be a user ID")
	}
	if slices.ContainsFunc(q.Divisions, func(d string) bool { return !authz.ValidDivisionID(d) }) {
		fe.add("division", "must be division IDs")
	}
	if q.Type != "" && q.Type != Confidential && q.Type != Public {
		fe.add("type", `must be "confidential" or "public"`)
	}
	if q.GrantType != "" && CheckGrantType(string(q.GrantType)) != nil {
		fe.add("grant_type", "must be client_credentials, authorization_code or refresh_token")
	}
	if q.CreatedBy != "" && !validRef(q.CreatedBy) {
		fe.add("created_by", "must be the ID of a user, a client or the system")
	}
	// The list stores "never" as the epoch (see Cursor), so a bound must
	// lie after it; and before the year 10000, which every backend holds.
	checkBound(&fe, "secret_expires_before", q.SecretExpiresBefore)
	checkBound(&fe, "unused_since", q.UnusedSince)
	checkBound(&fe, "created_before", q.CreatedBefore)
	for _, cur := range [][2]string{{"after", q.After}, {"before", q.Before}} {
		if c, err := DecodeCursor(cur[1]); cur[1] != "" && (err != nil || !validRef(c.ID) || !utf8.ValidString(c.Key) || strings.ContainsRune(c.Key, 0)) {
			fe.add(cur[0], "is not a cursor this server issued")
		}
	}
	if q.After != "" && q.Before != "" {
		fe.add("before", "cannot be given with after")
	}
	return fe.err()
}

// checkBound adds a field error unless t is zero or a time the list's
// time filters can compare with.
func checkBound(fe *fieldErrors, field string, t time.Time) {
	if !t.IsZero() && (!t.After(time.Unix(0, 0)) || t.Year() > 9999) {
		fe.add(field, "must be a time after 1970 and before the year 10000")
	}
}

// Cursor is the position after which the next page starts: the sort key of
// the last row and its client ID, which breaks ties.
type Cursor struct {
	// Key is the sort column's value: a string for text columns, Unix
	// nanoseconds for time columns (0 when unset).
	Key string `json:"k"`
	ID  string `json:"i"`
}

// Encode returns the cursor in its opaque, URL-safe form.
func (c Cursor) Encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor parses a cursor produced by Encode.
func DecodeCursor(s string) (Cursor, error) {
	var c Cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err == nil && c.ID == "" {
		err = ErrNotFound
	}
	return c, err
}
