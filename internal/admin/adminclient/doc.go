// Package adminclient is a Go client of Latchkey's admin API: the
// operations the command line runs against a server instead of its
// database. It sends the domain's parameters in the API's wire form and
// returns the API's own views (package admin), and it turns a problem
// response back into the error the domain would have returned, so a
// caller words a failure the same whether it ran locally or remotely.
package adminclient
