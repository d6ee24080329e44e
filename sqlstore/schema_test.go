package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestMigrationsAgree: the SQLite and PostgreSQL migrations produce the
// same tables with the same columns, so the shared queries mean the same
// on both (types differ by dialect and are not compared).
func TestMigrationsAgree(t *testing.T) {
	lite := MustOpenSQLite(t)
	pg := MustOpenPostgres(t)
	want := schemaOf(t, lite, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`,
		func(table string) string {
			return fmt.Sprintf(`SELECT name FROM pragma_table_info('%s') ORDER BY name`, table)
		})
	got := schemaOf(t, pg, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`,
		func(table string) string {
			return fmt.Sprintf(`SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = '%s' ORDER BY column_name`, table)
		})
	if len(want) == 0 {
		t.Fatal("SQLite has no tables: the test proves nothing")
	}
	for table, cols := range want {
		if !slices.Equal(cols, got[table]) {
			t.Errorf("table %s: SQLite columns %v, PostgreSQL columns %v", table, cols, got[table])
		}
	}
	for table := range got {
		if _, ok := want[table]; !ok {
			t.Errorf("table %s exists on PostgreSQL only", table)
		}
	}
}

// schemaOf lists every table's column names.
func schemaOf(t *testing.T, db *DB, tables string, columns func(table string) string) map[string][]string {
	t.Helper()
	names := queryStrings(t, db, tables)
	out := make(map[string][]string, len(names))
	for _, n := range names {
		cols := queryStrings(t, db, columns(n))
		for i := range cols {
			cols[i] = strings.ToLower(cols[i])
		}
		slices.Sort(cols)
		out[n] = cols
	}
	return out
}

func queryStrings(t *testing.T, db *DB, q string) []string {
	t.Helper()
	rows, err := db.db.QueryContext(context.Background(), q)
	wantNoErr(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		wantNoErr(t, rows.Scan(&s))
		out = append(out, s)
	}
	wantNoErr(t, rows.Err())
	return out
}
