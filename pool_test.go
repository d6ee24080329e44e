package warder

import (
	"errors"
	"reflect"
	"testing"
)

// TestParsePoolShapes: WARDER_WARM_POOL's forms, merged shapes, and the
// refusals, each naming the variable.
func TestParsePoolShapes(t *testing.T) {
	def := PoolShape{MemoryBytes: 512 << 20, MilliCPUs: 500}
	small := PoolShape{MemoryBytes: 32 << 20, MilliCPUs: 250}
	with := func(s PoolShape, n int) PoolShape { s.Size = n; return s }
	for _, tc := range []struct {
		in   string
		want []PoolShape
	}{
		{"", nil},
		{"0", nil},
		{"2", []PoolShape{with(def, 2)}},
		{"32m/0.25=4", []PoolShape{with(small, 4)}},
		{" 2 , 32m/0.25=4 ", []PoolShape{with(def, 2), with(small, 4)}},
		{"32m/0.25=1,32MiB/0.25=2", []PoolShape{with(small, 3)}},
		{"512m/0.5=1,3", []PoolShape{with(def, 4)}},
	} {
		got, err := ParsePoolShapes(tc.in, 64)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParsePoolShapes(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"-1", "x", "32m=2", "32m/x=2", "1m/0.5=1", "32m/0.001=1", "65", "32m/0.25=40,30"} {
		if _, err := ParsePoolShapes(in, 64); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParsePoolShapes(%q) = %v, want ErrInvalid", in, err)
		}
	}
	if k := (PoolShape{MemoryBytes: 1024, MilliCPUs: 250}).Key(); k != "1024/250" {
		t.Errorf("Key = %q", k)
	}
}
