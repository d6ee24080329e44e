// Package openapitest checks real answers of a Warder against its own
// OpenAPI document (GET /api/openapi.json): the status is one the
// operation names, the content type one it offers, a JSON body fits the
// schema, and each event of a stream fits the schema its x-events gives
// for that event. It implements the part of JSON Schema the document
// uses: type (with null), properties, required, additionalProperties,
// items, $ref, anyOf, enum and format date-time.
package openapitest

import (
	"encoding/json"
	"fmt"
	"math"
	"mime"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Doc is a parsed OpenAPI document.
type Doc struct {
	raw       map[string]any
	schemas   map[string]any
	responses map[string]any
	ops       []operation
}

type operation struct {
	method, path string
	re           *regexp.Regexp
	spec         map[string]any
}

// Load parses an OpenAPI document.
func Load(doc []byte) (*Doc, error) {
	d := &Doc{}
	if err := json.Unmarshal(doc, &d.raw); err != nil {
		return nil, err
	}
	comps, _ := d.raw["components"].(map[string]any)
	d.schemas, _ = comps["schemas"].(map[string]any)
	d.responses, _ = comps["responses"].(map[string]any)
	paths, _ := d.raw["paths"].(map[string]any)
	for path, item := range paths {
		expr := regexp.MustCompile(`\\\{[^/]+\\\}`).ReplaceAllStringFunc(regexp.QuoteMeta(path), func(p string) string {
			if p == `\{path\}` {
				return `.+`
			}
			return `[^/]+`
		})
		re := regexp.MustCompile("^" + expr + "$")
		for method, spec := range item.(map[string]any) {
			d.ops = append(d.ops, operation{strings.ToUpper(method), path, re, spec.(map[string]any)})
		}
	}
	// Literal paths before templates, so /api/auth/keys is not {id}.
	sort.Slice(d.ops, func(i, j int) bool {
		return strings.Count(d.ops[i].path, "{") < strings.Count(d.ops[j].path, "{")
	})
	return d, nil
}

// Operation is the method and path template of the document's operation
// that a request to method and path is, or "" if none is.
func (d *Doc) Operation(method, path string) string {
	if op := d.find(method, path); op != nil {
		return op.method + " " + op.path
	}
	return ""
}

func (d *Doc) find(method, path string) *operation {
	for i := range d.ops {
		if d.ops[i].method == method && d.ops[i].re.MatchString(path) {
			return &d.ops[i]
		}
	}
	return nil
}

// response is the operation's answer for status, and its content.
func (d *Doc) response(method, path string, status int) (map[string]any, error) {
	op := d.find(method, path)
	if op == nil {
		return nil, fmt.Errorf("%s %s: no operation of the document", method, path)
	}
	responses, _ := op.spec["responses"].(map[string]any)
	r, ok := responses[strconv.Itoa(status)].(map[string]any)
	if !ok {
		if r, ok = responses["default"].(map[string]any); !ok {
			return nil, fmt.Errorf("%s %s: status %d is not one the document names", method, op.path, status)
		}
	}
	if ref, ok := r["$ref"].(string); ok { // a named response
		if r, ok = d.responses[strings.TrimPrefix(ref, "#/components/responses/")].(map[string]any); !ok {
			return nil, fmt.Errorf("%s %s: status %d: $ref %s names no response", method, op.path, status, ref)
		}
	}
	return r, nil
}

// mediaType is the content of r for contentType, or an error.
func mediaType(r map[string]any, contentType string) (map[string]any, string, error) {
	content, _ := r["content"].(map[string]any)
	mt, _, _ := mime.ParseMediaType(contentType)
	if len(content) == 0 {
		return nil, mt, nil
	}
	if c, ok := content[mt].(map[string]any); ok {
		return c, mt, nil
	}
	if c, ok := content["*/*"].(map[string]any); ok {
		return c, mt, nil
	}
	var offered []string
	for k := range content {
		offered = append(offered, k)
	}
	return nil, mt, fmt.Errorf("content type %q is not one of %v", mt, offered)
}

// CheckBody checks a whole answer: status, content type and, for JSON,
// the body against the schema.
func (d *Doc) CheckBody(method, path string, status int, contentType string, body []byte) error {
	r, err := d.response(method, path, status)
	if err != nil {
		return err
	}
	c, mt, err := mediaType(r, contentType)
	if err != nil || c == nil {
		return wrap(method, path, status, err)
	}
	if mt != "application/json" {
		return nil
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return wrap(method, path, status, fmt.Errorf("body is not JSON: %v", err))
	}
	return wrap(method, path, status, d.Validate(c["schema"], v))
}

// CheckRequest checks a request's JSON body against the operation's
// requestBody schema: what a client sends is what the document says.
func (d *Doc) CheckRequest(method, path, contentType string, body []byte) error {
	op := d.find(method, path)
	if op == nil {
		return fmt.Errorf("%s %s: no operation of the document", method, path)
	}
	rb, _ := op.spec["requestBody"].(map[string]any)
	if rb == nil {
		if len(body) > 0 {
			return fmt.Errorf("%s %s: a body is sent, and the document names none", method, op.path)
		}
		return nil
	}
	c, mt, err := mediaType(rb, contentType)
	if err != nil {
		return fmt.Errorf("%s %s: request: %w", method, op.path, err)
	}
	if mt != "application/json" {
		return nil
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("%s %s: request body is not JSON: %v", method, op.path, err)
	}
	if err := d.Validate(c["schema"], v); err != nil {
		return fmt.Errorf("%s %s: request: %w", method, op.path, err)
	}
	return nil
}

// CheckEvent checks one event of a stream against the schema x-events
// gives for its name ("message" for an unnamed event).
func (d *Doc) CheckEvent(method, path, name string, data []byte) error {
	r, err := d.response(method, path, http.StatusOK)
	if err != nil {
		return err
	}
	c, _, err := mediaType(r, "text/event-stream")
	if err != nil {
		return wrap(method, path, 200, err)
	}
	if name == "" {
		name = "message"
	}
	events, _ := c["x-events"].(map[string]any)
	schema, ok := events[name]
	if !ok {
		return wrap(method, path, 200, fmt.Errorf("event %q is not one x-events names", name))
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return wrap(method, path, 200, fmt.Errorf("event %q: data is not JSON: %v", name, err))
	}
	if err := d.Validate(schema, v); err != nil {
		return wrap(method, path, 200, fmt.Errorf("event %q: %w", name, err))
	}
	return nil
}

func wrap(method, path string, status int, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s %s → %d: %w", method, path, status, err)
}

// Validate checks a decoded JSON value against schema.
func (d *Doc) Validate(schema any, v any) error { return d.validate(schema, v, "$") }

func (d *Doc) validate(schema any, v any, at string) error {
	s, _ := schema.(map[string]any)
	if ref, ok := s["$ref"].(string); ok {
		target, ok := d.schemas[strings.TrimPrefix(ref, "#/components/schemas/")]
		if !ok {
			return fmt.Errorf("%s: $ref %s names no schema", at, ref)
		}
		return d.validate(target, v, at)
	}
	if any, ok := s["anyOf"].([]any); ok {
		var errs []string
		for _, alt := range any {
			err := d.validate(alt, v, at)
			if err == nil {
				return nil
			}
			errs = append(errs, err.Error())
		}
		return fmt.Errorf("%s: fits none of anyOf: %s", at, strings.Join(errs, "; "))
	}
	if t, ok := s["type"]; ok {
		if !typeOK(t, v) {
			return fmt.Errorf("%s: %s is not of type %v", at, kind(v), t)
		}
	}
	if enum, ok := s["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			found = found || e == v
		}
		if !found {
			return fmt.Errorf("%s: %v is not one of %v", at, v, enum)
		}
	}
	switch x := v.(type) {
	case string:
		if s["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, x); err != nil {
				return fmt.Errorf("%s: %q is not a date-time", at, x)
			}
		}
	case []any:
		if items, ok := s["items"]; ok {
			for i, e := range x {
				if err := d.validate(items, e, fmt.Sprintf("%s[%d]", at, i)); err != nil {
					return err
				}
			}
		}
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		if req, ok := s["required"].([]any); ok {
			for _, name := range req {
				if _, ok := x[name.(string)]; !ok {
					return fmt.Errorf("%s: required property %q is missing", at, name)
				}
			}
		}
		for k, e := range x {
			if p, ok := props[k]; ok {
				if err := d.validate(p, e, at+"."+k); err != nil {
					return err
				}
				continue
			}
			switch extra := s["additionalProperties"].(type) {
			case bool:
				if !extra {
					return fmt.Errorf("%s: property %q is not in the schema", at, k)
				}
			case map[string]any:
				if err := d.validate(extra, e, at+"."+k); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func typeOK(t any, v any) bool {
	switch t := t.(type) {
	case string:
		return isType(t, v)
	case []any:
		for _, one := range t {
			if isType(one.(string), v) {
				return true
			}
		}
	}
	return false
}

func isType(t string, v any) bool {
	switch t {
	case "null":
		return v == nil
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "number":
		_, ok := v.(float64)
		return ok
	case "integer":
		f, ok := v.(float64)
		return ok && f == math.Trunc(f)
	case "array":
		_, ok := v.([]any)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	}
	return false
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case float64:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
