package oauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"unicode/utf8"

	"github.com/latchkey/latchkey/internal/oauth/oautherr"
)

// MaxBodyBytes bounds a protocol request's body.
const MaxBodyBytes = 64 << 10

const formType = "application/x-www-form-urlencoded"

// readParams reads a POST's parameters from its body, as
// application/x-www-form-urlencoded (RFC 6749 §3.2) or as a JSON object of
// strings (which the seeds' integrations send). Each parameter may appear
// once; parameters in the URL query are refused.
func readParams(w http.ResponseWriter, r *http.Request) (url.Values, *oautherr.Error) {
	if r.URL.RawQuery != "" {
		return nil, oautherr.InvalidRequest("parameters must be sent in the request body, not the URL query")
	}
	mt := r.Header.Get("Content-Type")
	if mt != formType && mt != "application/json" {
		// The common exact values skip the full media-type parser.
		var err error
		if mt, _, err = mime.ParseMediaType(mt); err != nil {
			return nil, oautherr.InvalidRequest("Content-Type must be application/x-www-form-urlencoded or application/json")
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			return nil, oautherr.RequestTooLarge(MaxBodyBytes)
		}
		return nil, oautherr.InvalidRequest("the request body could not be read")
	}
	switch mt {
	case formType:
		return parseForm(body)
	case "application/json":
		return parseJSON(body)
	}
	return nil, oautherr.InvalidRequest("Content-Type must be application/x-www-form-urlencoded or application/json")
}

func parseForm(body []byte) (url.Values, *oautherr.Error) {
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, oautherr.InvalidRequest("the form body is malformed")
	}
	return checkValues(v)
}

// checkValues refuses repeated parameters and invalid UTF-8, and drops
// empty values, which RFC 6749 §3.1 says to treat as omitted.
func checkValues(v url.Values) (url.Values, *oautherr.Error) {
	for k, vals := range v {
		if len(vals) > 1 {
			return nil, oautherr.InvalidRequest("parameter %s is repeated", oautherr.Quote(k))
		}
		if !utf8.ValidString(k) || !utf8.ValidString(vals[0]) {
			return nil, oautherr.InvalidRequest("parameters must be valid UTF-8")
		}
		if vals[0] == "" {
			delete(v, k)
		}
	}
	return v, nil
}

// parseJSON reads a JSON object whose values are strings. Duplicate keys are
// refused (encoding/json would silently keep the last).
func parseJSON(body []byte) (url.Values, *oautherr.Error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	bad := oautherr.InvalidRequest("the JSON body must be one object whose values are strings")
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, bad
	}
	v := url.Values{}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, bad
		}
		k, ok := kt.(string) // object keys are strings; never trust that blindly
		if !ok {
			return nil, bad
		}
		vt, err := dec.Token()
		if err != nil {
			return nil, bad
		}
		s, ok := vt.(string)
		if !ok {
			return nil, oautherr.InvalidRequest("parameter %s must be a JSON string", oautherr.Quote(k))
		}
		if _, dup := v[k]; dup {
			return nil, oautherr.InvalidRequest("parameter %s is repeated", oautherr.Quote(k))
		}
		v[k] = []string{s}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return nil, bad
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, bad
	}
	return checkValues(v)
}
