package admin

import (
	_ "embed"
	"net/http"
	"slices"
	"strconv"
)

// openAPI is the OpenAPI 3.1 document of the API. It is written by hand
// and held to the router by the package's tests: every route is in it with
// its permission, every operation in it is a route, its schemas compile and
// the handlers' bodies validate against them. Being a compile-time
// constant, it is checked there rather than parsed at start-up: a build
// whose tests pass cannot serve a broken document.
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI 3.1 document of the API, as
// GET <prefix>/openapi.json serves it. The caller may keep or change the
// copy it is given.
func OpenAPI() []byte { return slices.Clone(openAPI) }

// serveOpenAPI serves the document. It needs no token: it says what the
// API is, nothing about any tenant, and is the same at every prefix.
func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(openAPI)))
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(openAPI)
	}
}
