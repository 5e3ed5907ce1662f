package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/errs"
	"github.com/latchkey/latchkey/internal/jsonbody"
)

// readBody reads a JSON object body, refusing another media type (415),
// a body over MaxBody (413), malformed JSON, and a key given twice at any
// depth: JSON parsers disagree on which of two equal keys wins, so the API
// takes neither. types are the media types accepted.
func readBody(r *http.Request, types ...string) ([]byte, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !slices.Contains(types, mt) {
		p := NewProblem(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"send the body as "+strings.Join(types, " or "))
		return nil, &p
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err // a *http.MaxBytesError, or the client went away
	}
	if err := jsonbody.Check(b); err != nil {
		p := NewProblem(http.StatusBadRequest, "malformed", err.Error())
		return nil, &p
	}
	return b, nil
}

// decodeInto decodes a checked body into v, which must be a pointer to a
// struct: an unknown key or a value of the wrong type is a field error
// (422) naming the key.
func decodeInto(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	err := d.Decode(v)
	var te *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &te):
		return errs.Invalid(te.Field, "must be "+jsonKind(te.Type.Kind().String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return errs.Invalid(name, "is not a field of this request")
	}
	p := NewProblem(http.StatusBadRequest, "malformed", "the body is not valid JSON")
	return &p
}

// jsonKind names a Go kind as the JSON type it decodes from.
func jsonKind(k string) string {
	switch {
	case k == "string":
		return "a string"
	case k == "bool":
		return "true or false"
	case k == "slice":
		return "an array"
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"), strings.HasPrefix(k, "float"):
		return "a number"
	}
	return "of another type"
}

// queryParams checks a request's query: every parameter one of known,
// none given twice. The errors are field errors naming the parameter.
func queryParams(r *http.Request, known ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, errs.Invalid("query", "is not a valid query string")
	}
	var fe []errs.FieldError
	for k, vs := range q {
		switch {
		case !slices.Contains(known, k):
			fe = append(fe, errs.FieldError{Field: k, Message: "is not a parameter of this endpoint"})
		case len(vs) > 1:
			fe = append(fe, errs.FieldError{Field: k, Message: "is given more than once"})
		}
	}
	if fe != nil {
		return nil, &errs.ValidationError{Fields: sortFields(fe)}
	}
	return q, nil
}

// confirmed reads the confirm=true query parameter that a change to a
// protected client needs.
func confirmed(q url.Values) (bool, error) {
	switch q.Get("confirm") {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, errs.Invalid("confirm", `must be "true" or "false"`)
}

// sortFields orders field errors by field, so a response lists them the
// same way every time.
func sortFields(fe []errs.FieldError) []errs.FieldError {
	slices.SortFunc(fe, func(a, b errs.FieldError) int { return strings.Compare(a.Field, b.Field) })
	return fe
}

// confirmParam reads the query of a request whose one parameter is the
// confirm=true a change to a protected client needs.
func confirmParam(r *http.Request) (bool, error) {
	v, err := queryParams(r, "confirm")
	if err != nil {
		return false, err
	}
	return confirmed(v)
}

// patch reads the values of a JSON merge patch (RFC 7396), collecting a
// field error for each of the wrong type; null reads as the empty value.
type patch struct{ fe []errs.FieldError }

// readPatch splits a checked body into its keys.
func readPatch(body []byte) (map[string]json.RawMessage, *patch, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, nil, err
	}
	return m, &patch{}, nil
}

func (p *patch) bad(field, msg string) {
	p.fe = append(p.fe, errs.FieldError{Field: field, Message: msg})
}

// value decodes raw into v unless it is null, or says what it must be.
func (p *patch) value(k string, raw json.RawMessage, v any, must string) {
	if string(raw) != "null" && json.Unmarshal(raw, v) != nil {
		p.bad(k, must)
	}
}

func (p *patch) str(k string, raw json.RawMessage) *string {
	s := ""
	p.value(k, raw, &s, "must be a string or null")
	return &s
}

func (p *patch) list(k string, raw json.RawMessage) *[]string {
	s := []string{}
	p.value(k, raw, &s, "must be an array of strings or null")
	return &s
}

func (p *patch) boolean(k string, raw json.RawMessage) *bool {
	b := false
	p.value(k, raw, &b, "must be true, false or null")
	return &b
}

func (p *patch) seconds(k string, raw json.RawMessage) *time.Duration {
	var n int64
	p.value(k, raw, &n, "must be a whole number of seconds or null")
	d := seconds(n)
	return &d
}

// err returns the field errors collected, sorted, or nil.
func (p *patch) err() error {
	if p.fe == nil {
		return nil
	}
	return &errs.ValidationError{Fields: sortFields(p.fe)}
}

// readCreate reads the body of a create: no query parameters, one JSON
// object.
func readCreate(r *http.Request) ([]byte, error) {
	if _, err := queryParams(r); err != nil {
		return nil, err
	}
	return readBody(r, "application/json")
}
