// Package bulk runs one change (deactivate, activate, revoke, delete,
// rotate) over every client a list filter matches, as a confirmed job kept
// in the database.
//
// A job snapshots the matching client IDs as its items when it is created.
// A Runner works through them with the client.Service methods, so
// privileges, protected clients and tenant policies apply exactly as for
// single writes. Each client's change and the marking of its item done
// commit in one transaction (client.WithinTx), so a process killed
// mid-run resumes where it stopped and never changes a client twice. A
// lease with expiry lets one instance at a time run a job.
//
// A job stops at the first validation error (a policy rule or any other
// field error): the client and its field errors are recorded and the job
// fails. Other per-client refusals (a protected client, a client deleted
// since the snapshot, one the actor may no longer change) are recorded on
// the item and the job goes on.
package bulk
