// Package leak serves the public endpoint secret-scanning services post
// leaked credentials to (the shape of GitHub's secret scanning partner
// program: a JSON list of {"token", "type", "url", "source"}), and hands
// each credible report to the client domain (client.Service.ReportLeak).
//
// The answer says nothing of what a report held: it is the same for a
// real secret, a wrong one, another server's and one revoked already.
// Only a malformed request is refused (400, 413, 415).
package leak
