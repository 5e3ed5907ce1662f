package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authz"
	"github.com/latchkey/latchkey/internal/bulk"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/errs"
	"github.com/latchkey/latchkey/internal/jsonbody"
)

// docMethods are the keys of a path item that are operations.
var docMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// docOperation is one operation of the document.
type docOperation struct {
	method, path string
	op           map[string]any
}

func docOperations(tb testing.TB) []docOperation {
	tb.Helper()
	doc := loadSpec(tb)
	var out []docOperation
	paths, _ := doc["paths"].(map[string]any)
	for _, p := range docKeys(paths) {
		item, _ := paths[p].(map[string]any)
		for _, m := range docMethods {
			if op, ok := item[m].(map[string]any); ok {
				out = append(out, docOperation{strings.ToUpper(m), p, op})
			}
		}
	}
	return out
}

var wildcard = regexp.MustCompile(`\{[^}]*\}`)

// opKey names an operation by method and path, wildcard names aside.
func opKey(method, path string) string { return method + " " + wildcard.ReplaceAllString(path, "{}") }

// TestOpenAPIMatchesRoutes holds the document to the router: every route
// is an operation with the route's permission, and every operation is a
// route. GET /openapi.json is served by Mount beside the routes.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	served := map[string]string{opKey("GET", "/openapi.json"): ""}
	for _, rt := range Routes() {
		k := opKey(rt.Method, rt.Path)
		if _, dup := served[k]; dup {
			t.Errorf("route %s is listed twice", k)
		}
		served[k] = string(rt.Permission)
	}
	documented := map[string]bool{}
	for _, o := range docOperations(t) {
		k := opKey(o.method, o.path)
		documented[k] = true
		perm, ok := served[k]
		if !ok {
			t.Errorf("the document has %s %s, which no route serves", o.method, o.path)
			continue
		}
		got, has := o.op["x-permission"].(string)
		switch {
		case perm == "" && has:
			t.Errorf("%s %s: x-permission is %q, but the route needs none (leave it out)", o.method, o.path, got)
		case perm != "" && got != perm:
			t.Errorf("%s %s: x-permission is %q, the route needs %q", o.method, o.path, got, perm)
		}
		if desc, _ := o.op["description"].(string); perm != "" && !strings.Contains(desc, perm) {
			t.Errorf("%s %s: the description does not name the %s permission", o.method, o.path, perm)
		}
	}
	for _, rt := range Routes() {
		if !documented[opKey(rt.Method, rt.Path)] {
			t.Errorf("route %s %s is not in the document", rt.Method, rt.Path)
		}
	}
}

// TestOpenAPIDocument checks the document is one JSON object without a
// key given twice, of OpenAPI 3.1, whose every $ref resolves and whose
// every schema compiles as JSON Schema 2020-12.
func TestOpenAPIDocument(t *testing.T) {
	if err := jsonbody.Check(openAPI); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !bytes.Equal(OpenAPI(), openAPI) {
		t.Fatal("OpenAPI() is not the document")
	}
	doc := loadSpec(t)
	if doc["openapi"] != "3.1.0" || doc["jsonSchemaDialect"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("openapi %v, jsonSchemaDialect %v", doc["openapi"], doc["jsonSchemaDialect"])
	}
	if info, _ := doc["info"].(map[string]any); info["title"] != "Latchkey admin API" || info["version"] != "1" {
		t.Errorf("info %v", info)
	}
	var schemas []string
	var walk func(ptr string, v any, inSchema bool)
	walk = func(ptr string, v any, inSchema bool) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if k == "$ref" {
					ref, _ := c.(string)
					if !strings.HasPrefix(ref, "#/") || docLookup(doc, ref[1:]) == nil {
						t.Errorf("%s: $ref %q resolves to nothing", ptr, ref)
					}
					continue
				}
				p := ptr + docPointer(k)
				// A "schema" outside the components' schemas is a
				// parameter's, a header's or a media type's.
				if k == "schema" && !inSchema {
					schemas = append(schemas, p)
				}
				walk(p, c, inSchema || k == "schema")
			}
		case []any:
			for i, c := range x {
				walk(ptr+"/"+strconv.Itoa(i), c, inSchema)
			}
		}
	}
	components, _ := doc["components"].(map[string]any)
	for name := range components["schemas"].(map[string]any) {
		schemas = append(schemas, docPointer("components", "schemas", name))
	}
	walk("", doc, false)
	slices.Sort(schemas)
	for _, ptr := range slices.Compact(schemas) {
		if strings.HasPrefix(ptr, "/components/schemas/") && strings.Count(ptr, "/") > 3 {
			continue // inside a component, compiled with it
		}
		if _, err := compileAt(t, ptr); err != nil {
			t.Errorf("schema %s: %v", ptr, err)
		}
	}
}

// TestOpenAPIOperations checks what every operation must say: a unique
// operationId, its path's wildcards as required path parameters, and the
// responses every request of its kind can get, each error a problem.
func TestOpenAPIOperations(t *testing.T) {
	doc := loadSpec(t)
	ids := map[string]bool{}
	for _, o := range docOperations(t) {
		name := o.method + " " + o.path
		id, _ := o.op["operationId"].(string)
		if id == "" || ids[id] {
			t.Errorf("%s: operationId %q is missing or not unique", name, id)
		}
		ids[id] = true
		declared := map[string]bool{}
		var query []string
		params, _ := o.op["parameters"].([]any)
		for i := range params {
			_, p := docDeref(doc, docPointer("paths", o.path, strings.ToLower(o.method), "parameters", strconv.Itoa(i)))
			pm := p.(map[string]any)
			switch pm["in"] {
			case "path":
				declared[pm["name"].(string)] = pm["required"] == true
			case "query":
				query = append(query, pm["name"].(string))
			}
		}
		for _, m := range wildcard.FindAllString(o.path, -1) {
			if !declared[strings.Trim(m, "{}")] {
				t.Errorf("%s: path parameter %s is not declared as required", name, m)
			}
		}
		if len(declared) != len(wildcard.FindAllString(o.path, -1)) {
			t.Errorf("%s: declares path parameters its path does not have", name)
		}
		if slices.Contains(query, "confirm") != docTakesConfirm(o) {
			t.Errorf("%s: the confirm parameter is documented %v", name, slices.Contains(query, "confirm"))
		}

		responses := o.op["responses"].(map[string]any)
		var want []string
		if sec, ok := o.op["security"].([]any); !ok || len(sec) > 0 {
			want = append(want, "401", "404", "429", "500")
		}
		if _, ok := o.op["x-permission"]; ok {
			want = append(want, "403", "422", "503")
		}
		if _, ok := o.op["requestBody"]; ok {
			want = append(want, "400", "413", "415", "422")
		}
		for _, s := range want {
			if responses[s] == nil {
				t.Errorf("%s: no %s response", name, s)
			}
		}
		for status := range responses {
			ptr, r := docDeref(doc, docPointer("paths", o.path, strings.ToLower(o.method), "responses", status))
			rm := r.(map[string]any)
			if d, _ := rm["description"].(string); d == "" {
				t.Errorf("%s %s: no description", name, status)
			}
			content, _ := rm["content"].(map[string]any)
			if n, _ := strconv.Atoi(status); n >= 400 {
				if len(content) != 1 || docLookup(doc, ptr+"/content/application~1problem+json/schema/$ref") != "#/components/schemas/Problem" {
					t.Errorf("%s %s: an error must be application/problem+json with the Problem schema", name, status)
				}
			}
			if status == "204" && content != nil {
				t.Errorf("%s 204: has content", name)
			}
		}
	}
}

// docTakesConfirm reports whether the route's handler reads confirm: the
// changes that a protected client refuses without it.
func docTakesConfirm(o docOperation) bool {
	return o.method == "PATCH" && o.path == "/clients/{id}" ||
		o.method == "POST" && strings.HasPrefix(o.path, "/clients/{id}/")
}

// TestOpenAPIServed fetches the document through the mux at both prefixes,
// without a token.
func TestOpenAPIServed(t *testing.T) {
	mux := http.NewServeMux()
	(&API{}).Mount(mux)
	for _, path := range []string{Prefix + "/openapi.json", "/t/acme" + Prefix + "/openapi.json"} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("GET %s: %d %q", path, rec.Code, rec.Header().Get("Content-Type"))
		}
		if !bytes.Equal(rec.Body.Bytes(), OpenAPI()) {
			t.Errorf("GET %s: not the document", path)
		}
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("HEAD", Prefix+"/openapi.json", nil))
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 || rec.Header().Get("Content-Length") != strconv.Itoa(len(openAPI)) {
		t.Errorf("HEAD: %d, %d bytes, Content-Length %q", rec.Code, rec.Body.Len(), rec.Header().Get("Content-Length"))
	}
}

// docProperties returns a component schema's properties, required
// fields and additionalProperties.
func docProperties(tb testing.TB, name string) (props, required []string, additional any) {
	tb.Helper()
	s, ok := docLookup(loadSpec(tb), docPointer("components", "schemas", name)).(map[string]any)
	if !ok {
		tb.Fatalf("no schema %s", name)
	}
	props = docKeys(s["properties"].(map[string]any))
	req, _ := s["required"].([]any)
	for _, r := range req {
		required = append(required, r.(string))
	}
	slices.Sort(required)
	return props, required, s["additionalProperties"]
}

// jsonFields returns the names encoding/json gives a struct's fields, and
// those it always writes (no omitempty). Embedded structs are flattened,
// as encoding/json flattens them.
func jsonFields(t reflect.Type) (all, always []string) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && tag == "" && f.Type.Kind() == reflect.Struct {
			a, w := jsonFields(f.Type)
			all, always = append(all, a...), append(always, w...)
			continue
		}
		if !f.IsExported() || tag == "-" {
			continue
		}
		if tag == "" {
			tag = f.Name
		}
		all = append(all, tag)
		if !slices.Contains(strings.Split(opts, ","), "omitempty") {
			always = append(always, tag)
		}
	}
	slices.Sort(all)
	slices.Sort(always)
	return all, always
}

// TestOpenAPISchemasMatchTypes holds each body's schema to the Go type
// encoding/json writes or reads it with: the same fields, the fields
// always written required, and no others allowed. A field added to a view
// or a request fails here until the document has it.
func TestOpenAPISchemasMatchTypes(t *testing.T) {
	responses := map[string]any{
		"Client": Client{}, "Secret": Secret{}, "Authorization": Authorization{}, "Issue": Issue{},
		"ClientList": ClientList{}, "IssuedSecret": IssuedSecretView{}, "SecretList": SecretList{},
		"User": User{}, "UserList": UserList{}, "Tenant": Tenant{}, "TenantList": TenantList{}, "Me": Me{},
		"AuditEvent": AuditEvent{}, "AuditList": AuditList{}, "Problem": Problem{}, "FieldError": errs.FieldError{},
		"Role": Role{}, "RoleList": RoleList{}, "Division": Division{}, "DivisionList": DivisionList{},
		"Policy": Policy{}, "Noncompliant": Noncompliant{}, "Violation": client.Violation{}, "ComplianceReport": ComplianceReport{},
		"BulkJob": BulkJob{}, "BulkJobList": BulkJobList{}, "BulkDryRun": BulkDryRun{}, "BulkChange": BulkChange{},
		"BulkFailure": BulkFailure{}, "BulkResult": BulkResult{}, "BulkSecret": bulk.Secret{},
	}
	// The bodies decodeInto reads, refusing unknown fields.
	requests := map[string]any{
		"CreateClientRequest": ClientBody{}, "AddSecretRequest": SecretBody{}, "RotateSecretRequest": RotateBody{},
		"CreateUserRequest": UserBody{}, "CreateTenantRequest": tenantBody{},
		"CreateRoleRequest": roleBody{}, "CreateDivisionRequest": divisionBody{}, "PolicyRequest": PolicyBody{},
		"BulkJobRequest": BulkJobBody{},
	}
	for name, v := range responses {
		props, required, additional := docProperties(t, name)
		all, always := jsonFields(reflect.TypeOf(v))
		if !slices.Equal(props, all) {
			t.Errorf("%s: the document has properties %v, %T writes %v", name, props, v, all)
		}
		if !slices.Equal(required, always) {
			t.Errorf("%s: the document requires %v, %T always writes %v", name, required, v, always)
		}
		if additional != false {
			t.Errorf("%s: additionalProperties must be false", name)
		}
	}
	for name, v := range requests {
		props, _, additional := docProperties(t, name)
		if all, _ := jsonFields(reflect.TypeOf(v)); !slices.Equal(props, all) {
			t.Errorf("%s: the document has properties %v, %T reads %v", name, props, v, all)
		}
		if additional != false {
			t.Errorf("%s: additionalProperties must be false: unknown fields are refused", name)
		}
	}
}

// TestOpenAPIEnums holds the document's lists to the domain's.
func TestOpenAPIEnums(t *testing.T) {
	doc := loadSpec(t)
	enum := func(ptr string) []string {
		var out []string
		vs, _ := docLookup(doc, ptr).([]any)
		for _, v := range vs {
			out = append(out, v.(string))
		}
		return out
	}
	sortParam := ""
	for i, p := range docLookup(doc, "/paths/~1clients/get/parameters").([]any) {
		if p.(map[string]any)["name"] == "sort" {
			sortParam = "/paths/~1clients/get/parameters/" + strconv.Itoa(i) + "/schema/enum"
		}
	}
	var perms, sorts []string
	for _, p := range authz.AllPermissions() {
		perms = append(perms, string(p))
	}
	for _, s := range client.SortFields {
		sorts = append(sorts, string(s))
	}
	for _, tt := range []struct {
		ptr  string
		want []string
	}{
		{"/components/schemas/Me/properties/permissions/items/enum", perms},
		{"/components/schemas/User/properties/locale/enum", account.Locales},
		{sortParam, sorts},
	} {
		if got := enum(tt.ptr); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.ptr, got, tt.want)
		}
	}
}

// queryUnchecked are the operations whose handlers do not read the query
// at all, so an unknown parameter is not refused there.
var queryUnchecked = map[string]bool{}

// TestOpenAPIQueryParameters runs each handler with every documented
// query parameter and one more: the handler must refuse exactly the one
// more. It then tries each parameter documented elsewhere, alone: the
// handler must refuse it. queryParams runs before anything else, so no
// store is needed.
func TestOpenAPIQueryParameters(t *testing.T) {
	doc := loadSpec(t)
	byKey := map[string]Route{}
	for _, rt := range Routes() {
		byKey[opKey(rt.Method, rt.Path)] = rt
	}
	documented := map[string][]string{}
	everywhere := slices.Clone(listParams)
	for _, o := range docOperations(t) {
		params, _ := o.op["parameters"].([]any)
		for i := range params {
			_, p := docDeref(doc, docPointer("paths", o.path, strings.ToLower(o.method), "parameters", strconv.Itoa(i)))
			if pm := p.(map[string]any); pm["in"] == "query" {
				documented[o.method+" "+o.path] = append(documented[o.method+" "+o.path], pm["name"].(string))
				everywhere = append(everywhere, pm["name"].(string))
			}
		}
	}
	slices.Sort(everywhere)
	everywhere = slices.Compact(everywhere)

	for _, o := range docOperations(t) {
		rt, ok := byKey[opKey(o.method, o.path)]
		if !ok {
			continue // TestOpenAPIMatchesRoutes reports it
		}
		name := o.method + " " + o.path
		refuses := func(query, param string) (bool, error) {
			err := runHandler(rt, httptest.NewRequest(o.method, "/x?"+query, nil))
			fields := errs.Fields(err)
			return len(fields) == 1 && fields[0].Field == param, err
		}
		q := "zz_undocumented=1"
		for _, p := range documented[name] {
			q += "&" + p + "=x"
		}
		refused, err := refuses(q, "zz_undocumented")
		switch {
		case queryUnchecked[name] && refused:
			t.Errorf("%s now checks its query: take it out of queryUnchecked", name)
		case !queryUnchecked[name] && !refused:
			t.Errorf("%s: with every documented parameter and one more, the handler answered %v", name, err)
		}
		if queryUnchecked[name] {
			continue
		}
		for _, p := range everywhere {
			if slices.Contains(documented[name], p) {
				continue
			}
			if refused, err := refuses(p+"=x", p); !refused {
				t.Errorf("%s takes the query parameter %s, which the document does not give it (%v)", name, p, err)
			}
		}
	}
	if got := documented["GET /clients"]; !slices.Equal(got, listParams) {
		t.Errorf("GET /clients documents %v, the handler takes %v", got, listParams)
	}
}

// runHandler runs a route's handler alone, with an API that has nothing
// behind it: enough for what it checks before it reaches a service.
func runHandler(rt Route, r *http.Request) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panicked: %v", p)
		}
	}()
	return rt.handle(&API{}, httptest.NewRecorder(), r, &call{defaultTenant: true})
}

// TestOpenAPIPatches holds the merge patch schemas to the handlers: every
// documented field is taken, and every field of the view it does not
// document is refused.
func TestOpenAPIPatches(t *testing.T) {
	routeOf := map[string]Route{}
	for _, rt := range Routes() {
		routeOf[rt.Method+" "+rt.Path] = rt
	}
	viaHandler := func(pattern string) func([]byte) error {
		return func(body []byte) error {
			r := httptest.NewRequest("PATCH", "/x", bytes.NewReader(body))
			r.Header.Set("Content-Type", "application/merge-patch+json")
			return runHandler(routeOf["PATCH "+pattern], r)
		}
	}
	patches := []struct {
		schema, view string
		apply        func(body []byte) error
	}{
		{"ClientPatch", "Client", func(body []byte) error { _, err := clientPatch(body); return err }},
		{"UserPatch", "User", viaHandler("/users/{id}")},
		{"RolePatch", "Role", viaHandler("/roles/{name}")},
		{"DivisionPatch", "Division", viaHandler("/divisions/{id}")},
	}
	doc := loadSpec(t)
	for _, p := range patches {
		props, _, additional := docProperties(t, p.schema)
		if additional != false {
			t.Errorf("%s: additionalProperties must be false", p.schema)
		}
		// Every documented field, and one more: only that one is refused.
		m := map[string]any{"zz_undocumented": nil}
		for _, k := range props {
			m[k] = sampleValue(docLookup(doc, docPointer("components", "schemas", p.schema, "properties", k)))
		}
		body, _ := json.Marshal(m)
		if fields := errs.Fields(p.apply(body)); len(fields) != 1 || fields[0].Field != "zz_undocumented" {
			t.Errorf("%s: a patch of every documented field %s got %v", p.schema, body, fields)
		}
		viewProps, _, _ := docProperties(t, p.view)
		for _, k := range viewProps {
			if slices.Contains(props, k) {
				continue
			}
			body, _ := json.Marshal(map[string]any{k: nil})
			if fields := errs.Fields(p.apply(body)); len(fields) != 1 || fields[0].Field != k {
				t.Errorf("%s: %s is not documented, but a patch of it got %v", p.schema, k, fields)
			}
		}
	}
}

// sampleValue returns a value of the JSON type a property's schema
// gives: null when it may be null.
func sampleValue(schema any) any {
	var types []any
	switch t := schema.(map[string]any)["type"].(type) {
	case string:
		types = []any{t}
	case []any:
		types = t
	}
	if slices.Contains(types, "null") || len(types) == 0 {
		return nil
	}
	switch types[0] {
	case "string":
		return "x"
	case "array":
		return []any{}
	case "boolean":
		return false
	case "integer", "number":
		return 0
	}
	return map[string]any{}
}

// TestOpenAPIErrorResponses drives the failures every operation shares
// through the mux and checks them against the document.
func TestOpenAPIErrorResponses(t *testing.T) {
	mux := http.NewServeMux()
	api := &API{Authenticate: func(_ context.Context, slug, _ string) (*Token, error) {
		if slug == "gone" {
			return nil, errs.ErrNotFound
		}
		return nil, nil
	}}
	api.Mount(mux)
	for _, rt := range Routes() {
		path := wildcard.ReplaceAllString(rt.Path, "x")
		for _, tt := range []struct {
			prefix, auth string
			status       int
		}{
			{Prefix, "", http.StatusUnauthorized},
			{Prefix, "Bearer nope", http.StatusUnauthorized},
			{Prefix, "Basic Zm9vOmJhcg==", http.StatusUnauthorized},
			{"/t/gone" + Prefix, "Bearer nope", http.StatusNotFound},
		} {
			r := httptest.NewRequest(rt.Method, tt.prefix+path, nil)
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, r)
			body, _ := io.ReadAll(rec.Body)
			if rec.Code != tt.status {
				t.Errorf("%s %s%s: %d, want %d", rt.Method, tt.prefix, path, rec.Code, tt.status)
			}
			if rec.Header().Get("X-Request-Id") == "" {
				t.Errorf("%s %s%s: no X-Request-Id", rt.Method, tt.prefix, path)
			}
			checkResponse(t, rt.Method, rt.Path, rec.Code, rec.Header().Get("Content-Type"), body)
		}
	}
}
