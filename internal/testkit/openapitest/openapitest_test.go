package openapitest

import (
	"strings"
	"testing"
)

const doc = `{"openapi": "3.1.0", "paths": {"/things/{id}": {
 "put": {"requestBody": {"content": {"application/json": {"schema": {"type": "object", "additionalProperties": false,
   "required": ["name"], "properties": {"name": {"type": "string"}}}}}}, "responses": {"200": {}}},
 "get": {"responses": {
  "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}},
                      "text/event-stream": {"x-events": {"thing": {"$ref": "#/components/schemas/Thing"}}}}},
  "404": {"content": {"application/json": {"schema": {"type": "object", "required": ["detail"]}}}},
  "409": {"$ref": "#/components/responses/Conflict"}, "410": {"$ref": "#/components/responses/Gone"}}}}},
 "components": {"responses": {"Conflict": {"content": {"application/json": {"schema": {"type": "object", "required": ["detail"]}}}}},
  "schemas": {"Thing": {"type": "object", "required": ["id", "at"], "properties": {
   "id": {"type": "string"}, "n": {"type": ["integer", "null"]}, "at": {"type": "string", "format": "date-time"},
   "tags": {"type": "array", "items": {"type": "string"}}}}}}}`

// TestCheck: what fits passes, and each kind of misfit is named.
func TestCheck(t *testing.T) {
	d, err := Load([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		status int
		ctype  string
		body   string
		want   string // "" passes
	}{
		{200, "application/json", `{"id": "a", "n": null, "at": "2026-11-30T05:00:00Z", "tags": ["x"]}`, ""},
		{200, "application/json; charset=utf-8", `{"id": "a", "n": 3, "at": "2026-11-30T05:00:00Z"}`, ""},
		{200, "application/json", `{"n": 3, "at": "2026-11-30T05:00:00Z"}`, `required property "id"`},
		{200, "application/json", `{"id": "a", "n": 1.5, "at": "2026-11-30T05:00:00Z"}`, "$.n: a number is not of type"},
		{200, "application/json", `{"id": "a", "at": "yesterday"}`, "not a date-time"},
		{200, "application/json", `{"id": "a", "at": "2026-11-30T05:00:00Z", "tags": [1]}`, "$.tags[0]"},
		{200, "text/html", `<p>`, "content type"},
		{500, "application/json", `{"detail": "x"}`, "status 500"},
		{404, "application/json", `{"detail": "x"}`, ""},
		{409, "application/json", `{"detail": "x"}`, ""},
		{409, "application/json", `{"message": "x"}`, `required property "detail"`},
		{410, "application/json", `{"detail": "x"}`, "names no response"},
	} {
		err := d.CheckBody("GET", "/things/1", c.status, c.ctype, []byte(c.body))
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%d %s %s: %v, want %q", c.status, c.ctype, c.body, err, c.want)
		}
	}
	if err := d.CheckEvent("GET", "/things/1", "thing", []byte(`{"id": "a"}`)); err == nil || !strings.Contains(err.Error(), `"at"`) {
		t.Errorf("a misfit event: %v", err)
	}
	if err := d.CheckEvent("GET", "/things/1", "other", []byte(`{}`)); err == nil {
		t.Error("an event x-events does not name passed")
	}
	for body, want := range map[string]string{`{"name": "x"}`: "", `{}`: "required", `{"name": "x", "extra": 1}`: `"extra" is not in the schema`} {
		err := d.CheckRequest("PUT", "/things/1", "application/json", []byte(body))
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("request %s: %v, want %q", body, err, want)
		}
	}
	if err := d.CheckRequest("GET", "/things/1", "", []byte("x")); err == nil {
		t.Error("a body the document names none for passed")
	}
	if err := d.CheckBody("GET", "/nothing", 200, "application/json", []byte(`{}`)); err == nil {
		t.Error("a path of no operation passed")
	}
}
