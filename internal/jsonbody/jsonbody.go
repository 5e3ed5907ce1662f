// Package jsonbody checks request bodies before they are decoded: one
// JSON object, no key given twice at any depth (JSON parsers disagree on
// which of two equal keys wins, so Latchkey takes neither), bounded
// nesting.
package jsonbody

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Check reports whether b is one JSON object without a key given twice at
// any depth, nesting at most maxDepth levels. Its errors say what is wrong
// in words fit for a response.
func Check(b []byte) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	tok, err := d.Token()
	if err != nil {
		return errors.New("the body is not JSON")
	}
	if tok != json.Delim('{') {
		return errors.New("the body must be a JSON object")
	}
	if err := checkObject(d, "", 1); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return errors.New("the body must hold one JSON object")
	}
	return nil
}

// maxDepth bounds how deeply a body nests: no request of the API nests
// more than a few levels, and walking a megabyte of "[" would cost more.
const maxDepth = 32

// checkObject walks an object whose '{' was read, depth levels deep.
func checkObject(d *json.Decoder, path string, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("the body nests deeper than %d levels", maxDepth)
	}
	seen := map[string]bool{}
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return errors.New("the body is not valid JSON")
		}
		k := tok.(string)
		if seen[k] {
			return fmt.Errorf("the key %q is given twice", path+k)
		}
		seen[k] = true
		if err := checkValue(d, path+k+".", depth); err != nil {
			return err
		}
	}
	if _, err := d.Token(); err != nil {
		return errors.New("the body is not valid JSON")
	}
	return nil
}

func checkValue(d *json.Decoder, path string, depth int) error {
	tok, err := d.Token()
	if err != nil {
		return errors.New("the body is not valid JSON")
	}
	switch tok {
	case json.Delim('{'):
		return checkObject(d, path, depth+1)
	case json.Delim('['):
		if depth+1 > maxDepth {
			return fmt.Errorf("the body nests deeper than %d levels", maxDepth)
		}
		for d.More() {
			if err := checkValue(d, path, depth+1); err != nil {
				return err
			}
		}
		if _, err := d.Token(); err != nil {
			return errors.New("the body is not valid JSON")
		}
	}
	return nil
}
