package metrics

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"
)

// Every Reason and Result constant the engine declares has its own label value: a new one
// missing here would be counted as "other".
func TestEveryEngineReasonIsALabel(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "../engine/decision.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Values) != 1 {
			return true
		}
		lit, ok := vs.Values[0].(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true
		}
		val, _ := strconv.Unquote(lit.Value)
		for _, name := range vs.Names {
			switch {
			case strings.HasPrefix(name.Name, "Reason"):
				found++
				if !reasons[val] {
					t.Errorf("engine.%s = %q is not in metrics' reasons", name.Name, val)
				}
			case strings.HasPrefix(name.Name, "Result"):
				if !results[val] {
					t.Errorf("engine.%s = %q is not in metrics' results", name.Name, val)
				}
			}
		}
		return true
	})
	if found < 40 {
		t.Errorf("found %d Reason constants in engine/decision.go; did they move?", found)
	}
}
