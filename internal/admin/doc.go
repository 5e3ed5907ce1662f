// Package admin is the management surface's JSON vocabulary: how clients and
// secrets are shown to the admin API and the CLI's --json output, so both
// speak exactly the same shape.
package admin
