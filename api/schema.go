package api

import (
	"reflect"
	"strings"
	"time"

	"github.com/warder/warder"
)

// schemaGen derives JSON Schemas (2020-12, as OpenAPI 3.1 takes them)
// from the wire types, so the document describes what the server writes
// and cannot drift from it. Named structs become components.
type schemaGen struct {
	defs map[string]any
	// names maps a type to its component name in each mode.
	names map[modeType]string
	// requests are what a request body must hold: nothing is required of
	// a request type but the fields listed here.
	requests map[reflect.Type][]string
}

// modeType is a type as a response (false) or a request body (true): a
// response holds every field not marked omitempty, a request only the
// required ones, so a type used both ways is two components.
type modeType struct {
	t       reflect.Type
	request bool
}

var timeType = reflect.TypeOf(time.Time{})

// egressType is written as a string or a list (wire.Egress.MarshalJSON).
var egressType = reflect.TypeOf(warder.Egress(nil))

// enums are the string types whose values are a closed set: each is a
// component of its own (AgentStatus, Role), so generated clients get a
// type with constants.
var enums = map[reflect.Type]struct {
	name, doc string
	values    []string
}{
	reflect.TypeOf(warder.Status("")): {"AgentStatus", "An agent's status; deleted is only ever the `to` of an agent's last status change", statusValues()},
	reflect.TypeOf(warder.Role("")):   {"Role", "What a user may do beyond their own agents", []string{string(warder.RoleUser), string(warder.RoleAdmin)}},
}

func statusValues() []string {
	var out []string
	for _, s := range append(append([]warder.Status(nil), warder.AgentStatuses...), warder.StatusDeleted) {
		out = append(out, string(s))
	}
	return out
}

// nullableLists are the lists and maps of answers that may be null: an
// agent stored before secret_env_names existed reads back without it.
// Every other list or map the server writes is one, never null (the
// stores and services make them empty), so answers type them as arrays
// and objects; request bodies may send null for any (Go decodes it as
// absent, and Go clients send nil slices as null).
var nullableLists = map[string]bool{"ContainerConfig.SecretEnvNames": true}

func newSchemaGen(requests map[reflect.Type][]string) *schemaGen {
	return &schemaGen{defs: map[string]any{}, names: map[modeType]string{}, requests: requests}
}

// of is t's schema; request says t is (part of) a request body.
func (g *schemaGen) of(t reflect.Type, request bool) map[string]any {
	if t == timeType {
		return map[string]any{"type": "string", "format": "date-time"}
	}
	if t == egressType { // a word or a list: see wire.Egress
		if _, made := g.defs["Egress"]; !made {
			g.defs["Egress"] = map[string]any{"description": `Where the agent may connect: "none", "all", or a list of destinations (docs/egress.md)`,
				"oneOf": []any{map[string]any{"type": "string", "enum": []string{warder.EgressNone, warder.EgressAll}}, map[string]any{"type": "array", "items": map[string]any{"type": "string"}}}}
		}
		return map[string]any{"$ref": "#/components/schemas/Egress"}
	}
	if e, ok := enums[t]; ok {
		if _, made := g.defs[e.name]; !made {
			g.defs[e.name] = map[string]any{"type": "string", "enum": e.values, "description": e.doc}
		}
		return map[string]any{"$ref": "#/components/schemas/" + e.name}
	}
	switch t.Kind() {
	case reflect.Pointer:
		if t.Elem().Kind() == reflect.Struct && t.Elem() != timeType && !request {
			return g.of(t.Elem(), request) // the server never answers a nil object
		}
		return nullable(g.of(t.Elem(), request))
	case reflect.Struct:
		if t.Name() == "" {
			return g.object(t, request)
		}
		return map[string]any{"$ref": "#/components/schemas/" + g.component(t, request)}
	case reflect.Slice, reflect.Array:
		s := map[string]any{"type": "array", "items": g.of(t.Elem(), request)}
		if request {
			return nullable(s)
		}
		return s
	case reflect.Map:
		s := map[string]any{"type": "object", "additionalProperties": g.of(t.Elem(), request)}
		if request {
			return nullable(s)
		}
		return s
	case reflect.Interface:
		return map[string]any{}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	}
	panic("openapi: no schema for " + t.String())
}

// component names t's schema among the components, making it once.
func (g *schemaGen) component(t reflect.Type, request bool) string {
	key := modeType{t, request}
	if name, ok := g.names[key]; ok {
		return name
	}
	name := t.Name()
	if _, taken := g.defs[name]; taken {
		name += "Input"
	}
	g.names[key] = name
	g.defs[name] = nil // taken while it is made: types may refer to themselves
	g.defs[name] = g.object(t, request)
	return name
}

// object is a struct's schema: its JSON fields, those of embedded
// structs flattened beneath them as encoding/json does.
func (g *schemaGen) object(t reflect.Type, request bool) map[string]any {
	props := map[string]any{}
	var required []string
	g.fields(t, request, props, &required)
	if request {
		required = g.requests[t]
	}
	s := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		s["required"] = required
	}
	if request {
		s["additionalProperties"] = false // the server decodes strictly
	}
	return s
}

func (g *schemaGen) fields(t reflect.Type, request bool, props map[string]any, required *[]string) {
	var embedded []reflect.Type
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" && opts == "" {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				embedded = append(embedded, ft)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		s := g.of(f.Type, request)
		if f.Tag.Get("nullable") == "true" || !request && nullableLists[t.Name()+"."+f.Name] {
			s = nullable(s)
		}
		props[name] = s
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			*required = append(*required, name)
		}
	}
	// Embedded fields lie deeper: a field of the outer struct wins.
	for _, et := range embedded {
		inner := map[string]any{}
		var req []string
		g.fields(et, request, inner, &req)
		for k, v := range inner {
			if _, ok := props[k]; !ok {
				props[k] = v
			}
		}
		for _, k := range req {
			if !contains(*required, k) {
				*required = append(*required, k)
			}
		}
	}
}

// nullable lets s be null as well.
func nullable(s map[string]any) map[string]any {
	switch t := s["type"].(type) {
	case string:
		c := copyMap(s)
		c["type"] = []string{t, "null"}
		return c
	case []string:
		if contains(t, "null") {
			return s
		}
		c := copyMap(s)
		c["type"] = append(append([]string(nil), t...), "null")
		return c
	}
	return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
}

func copyMap(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
