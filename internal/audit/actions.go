package audit

// Results of an audited action, besides ResultSuccess.
const (
	// ResultFailure is the result of an action that was attempted and
	// refused: a wrong password, a client that did not authenticate.
	ResultFailure = "failure"
)

// Target types: what an event's TargetID names. Every action is named
// "<target type>.<what happened>" by the package that records it
// (client.ActionUpdated, account.ActionLogin, oauth.ActionClientAuthFailed),
// so a Query's Action prefix such as "client." selects a target type's.
const (
	TargetClient = "client"
	TargetUser   = "user"
	TargetTenant = "tenant"
)
