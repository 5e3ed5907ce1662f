// Package admin is the management surface's vocabulary: how clients and
// secrets are shown to the admin API and the CLI's --json output, so both
// speak exactly the same shape, and the one table (Classify) from a domain
// error to the status, code and message every management surface reports.
package admin
