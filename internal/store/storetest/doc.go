// Package storetest is the conformance suite every storage backend passes.
//
// A backend's test calls RunTests with a function that returns a new,
// empty, migrated store.Store for one test. The suite covers every method
// of store.Store in named subtests, so a failure reads as, for example,
// TestSQLite/Clients/ListSort/name_desc.
package storetest
