package warder

import (
	"encoding/base64"
	"errors"
	"slices"
	"testing"
	"time"
)

func TestCursorRoundTrip(t *testing.T) {
	for _, k := range []AgentKey{
		{CreatedAt: time.Date(2026, 11, 30, 12, 0, 0, 123456000, time.UTC), ID: "0b7c5a8e-55a4-4a8f-9d1e-3f3c2b1a0f9e"},
		{CreatedAt: time.Unix(0, 0).UTC(), ID: "00000000-0000-0000-0000-000000000000"},
	} {
		got, err := ParseCursor(k.Cursor())
		if err != nil || !got.CreatedAt.Equal(k.CreatedAt) || got.ID != k.ID || got.CreatedAt.Location() != time.UTC {
			t.Errorf("ParseCursor(%v.Cursor()) = %v, %v", k, got, err)
		}
	}
}

func TestCursorForged(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, c := range []string{
		"x",
		"!!!!",
		enc(""),
		enc("a1.123"),
		enc("a2.123.0b7c5a8e-55a4-4a8f-9d1e-3f3c2b1a0f9e"),
		enc("a1.abc.0b7c5a8e-55a4-4a8f-9d1e-3f3c2b1a0f9e"),
		enc("a1.-5.0b7c5a8e-55a4-4a8f-9d1e-3f3c2b1a0f9e"),
		enc("a1.123.not-an-id"),
		enc("a1.123.0B7C5A8E-55A4-4A8F-9D1E-3F3C2B1A0F9E"), // not as Warder writes ids
		enc("a1.123.0b7c5a8e-55a4-4a8f-9d1e-3f3c2b1a0f9e.more"),
		enc("a1.123.0b7c5a8e-55a4-4a8f-9d1e-3f3c2b1a0f9e") + "=",
	} {
		if k, err := ParseCursor(c); !errors.Is(err, ErrInvalid) || ErrorMessage(err) == "" {
			t.Errorf("ParseCursor(%q) = %v, %v; want ErrInvalid with a message", c, k, err)
		}
	}
}

func TestAgentQueryValidate(t *testing.T) {
	good := AgentKey{CreatedAt: time.Unix(1, 0).UTC(), ID: "0b7c5a8e-55a4-4a8f-9d1e-3f3c2b1a0f9e"}
	f, err := AgentQuery{Limit: 20, Statuses: []Status{"running", "starting", "running"}, Name: "n", NamePrefix: "p", Cursor: good.Cursor()}.Validate()
	if err != nil || f.Limit != 20 || !slices.Equal(f.Statuses, []Status{"running", "starting"}) || f.Name != "n" || f.NamePrefix != "p" || f.After == nil || f.After.ID != good.ID || f.UserID != "" {
		t.Fatalf("Validate = %+v, %v", f, err)
	}
	for _, q := range []AgentQuery{
		{Limit: -1},
		{Limit: MaxAgentPage + 1},
		{Statuses: []Status{"runing"}},
		{Statuses: []Status{StatusDeleted}},
		{UserID: "bob"},
		{Cursor: "garbage"},
	} {
		if _, err := q.Validate(); !errors.Is(err, ErrInvalid) || ErrorMessage(err) == "" {
			t.Errorf("%+v.Validate() = %v, want ErrInvalid", q, err)
		}
	}
}
