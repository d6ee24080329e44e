package sqlstore

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// writesAgents matches SQL that changes rows of agents.
var writesAgents = regexp.MustCompile(`(?i)\b(UPDATE\s+agents|DELETE\s+FROM\s+agents|INSERT\s+INTO\s+agents)\b`)

// TestEveryAgentWriterForgets reads this package's source: a function
// whose SQL writes agents must drop the row from the cache (call
// rows.forget), or be an unexported helper whose every caller does. A
// new writer that forgets to forget would leave this replica serving the
// old row for up to rowTTL; the store suite checks the writers of today
// by behaviour, this one the writers of tomorrow.
func TestEveryAgentWriterForgets(t *testing.T) {
	files, err := filepath.Glob("*.go")
	wantNoErr(t, err)
	fset := token.NewFileSet()
	writes, forgets := map[string]bool{}, map[string]bool{}
	callers := map[string][]string{} // callee -> callers, within the package
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		wantNoErr(t, err)
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			me := fn.Name.Name
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.BasicLit:
					if s, err := strconv.Unquote(n.Value); err == nil && writesAgents.MatchString(s) {
						writes[me] = true
					}
				case *ast.CallExpr:
					switch fun := n.Fun.(type) {
					case *ast.SelectorExpr:
						if fun.Sel.Name == "forget" {
							if x, ok := fun.X.(*ast.SelectorExpr); ok && x.Sel.Name == "rows" {
								forgets[me] = true
							}
						}
						callers[fun.Sel.Name] = append(callers[fun.Sel.Name], me)
					case *ast.Ident:
						callers[fun.Name] = append(callers[fun.Name], me)
					}
				}
				return true
			})
		}
	}
	if len(writes) < 5 {
		t.Fatalf("found only %v writing agents: the test no longer reads the writers", writes)
	}
	var covered func(fn string, depth int) bool
	covered = func(fn string, depth int) bool {
		if forgets[fn] {
			return true
		}
		if ast.IsExported(fn) || len(callers[fn]) == 0 || depth > 5 {
			return false
		}
		for _, c := range callers[fn] {
			if !covered(c, depth+1) {
				return false
			}
		}
		return true
	}
	for fn := range writes {
		if !covered(fn, 0) {
			t.Errorf("%s writes agents but neither it nor every caller calls db.rows.forget", fn)
		}
	}
}
