package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// yaml.v3's KnownFields(true) stops at the first custom unmarshaler and reports only the first
// problem, so radmfa decodes the node tree itself: it walks the tree against the structs' yaml
// tags, reports every unknown key and wrong type with its path and line, and remembers where
// each key is for the validation messages that follow.

// maxMergeDepth bounds "<<" merges through anchors, which yaml.v3 lets refer to themselves.
const maxMergeDepth = 32

// keys records, for each key path seen, its line and whether it had a non-null value, so
// validation can both quote lines and tell "absent, use the default" from "set to zero".
type keys struct {
	line map[string]int
	set  map[string]bool
}

// lineOf returns the line of path, or of its nearest ancestor present in the file.
func (k keys) lineOf(path string) int {
	for {
		if l, ok := k.line[path]; ok {
			return l
		}
		if path == "" {
			return 1
		}
		path = parentPath(path)
	}
}

// isSet reports whether path was given a non-null value.
func (k keys) isSet(path string) bool { return k.set[path] }

// parentPath strips the last ".key" or "[i]" from path.
func parentPath(path string) string {
	if strings.HasSuffix(path, "]") {
		if i := strings.LastIndexByte(path, '['); i >= 0 {
			return path[:i]
		}
	}
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return ""
}

func childPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func indexPath(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// parseDocument parses data into the node of its single document; nil for an empty file.
func parseDocument(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("line %d: %s", extra.Line, msgMultiDoc)
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		return doc.Content[0], nil
	}
	return nil, nil
}

// walker decodes a node tree into a value strictly, collecting every problem.
type walker struct {
	keys keys
	errs []FieldError
}

func newWalker() *walker {
	return &walker{keys: keys{line: map[string]int{}, set: map[string]bool{}}}
}

func (w *walker) fail(path string, line int, msg string) {
	w.errs = append(w.errs, FieldError{Path: path, Line: line, Msg: msg})
}

// decodeRoot decodes the document root into out, a pointer to a struct.
func (w *walker) decodeRoot(root *yaml.Node, out any) {
	if root == nil {
		w.keys.line[""] = 1
		return
	}
	w.keys.line[""] = root.Line
	w.decode(root, reflect.ValueOf(out).Elem(), "")
}

func (w *walker) decode(n *yaml.Node, v reflect.Value, path string) {
	n = resolveAlias(n)
	if isNull(n) {
		v.SetZero()
		return
	}
	if v.CanAddr() {
		if u, ok := v.Addr().Interface().(yaml.Unmarshaler); ok {
			if err := u.UnmarshalYAML(n); err != nil {
				w.fail(path, n.Line, err.Error())
			}
			return
		}
	}
	switch v.Kind() {
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		w.decode(n, p.Elem(), path)
		v.Set(p)
	case reflect.Struct:
		w.mapping(n, v, path)
	case reflect.Slice:
		w.sequence(n, v, path)
	case reflect.Map:
		w.stringMap(n, v, path)
	default:
		if n.Kind != yaml.ScalarNode {
			w.fail(path, n.Line, fmt.Sprintf(msgExpected, kindName(v.Type()), describe(n)))
			return
		}
		// The value is a plain scalar here, so yaml.v3's own rules for ints and bools apply;
		// only its message is replaced, as it names Go types rather than keys.
		if err := n.Decode(v.Addr().Interface()); err != nil {
			w.fail(path, n.Line, fmt.Sprintf(msgExpected, kindName(v.Type()), describe(n)))
		}
	}
}

func (w *walker) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		w.fail(path, n.Line, fmt.Sprintf(msgExpected, "a mapping", describe(n)))
		return
	}
	fields := yamlFields(v.Type())
	seen := map[string]int{}
	for _, kv := range w.pairs(n, path, 0) {
		k := kv.key
		if k.Kind != yaml.ScalarNode {
			w.fail(path, k.Line, fmt.Sprintf(msgKeyNotString, describe(k)))
			continue
		}
		p := childPath(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			w.fail(p, k.Line, fmt.Sprintf(msgDuplicateKey, first))
			continue
		}
		seen[k.Value] = k.Line
		i, ok := fields[k.Value]
		if !ok {
			w.fail(p, k.Line, msgUnknownKey)
			continue
		}
		w.keys.line[p] = k.Line
		w.keys.set[p] = !isNull(resolveAlias(kv.value))
		w.decode(kv.value, v.Field(i), p)
	}
}

// stringMap decodes a mapping with free-form string keys (attribute names, header names).
func (w *walker) stringMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		w.fail(path, n.Line, fmt.Sprintf(msgExpected, "a mapping", describe(n)))
		return
	}
	m := reflect.MakeMap(v.Type())
	seen := map[string]int{}
	for _, kv := range w.pairs(n, path, 0) {
		k := kv.key
		if k.Kind != yaml.ScalarNode {
			w.fail(path, k.Line, fmt.Sprintf(msgKeyNotString, describe(k)))
			continue
		}
		p := childPath(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			w.fail(p, k.Line, fmt.Sprintf(msgDuplicateKey, first))
			continue
		}
		seen[k.Value] = k.Line
		w.keys.line[p] = k.Line
		w.keys.set[p] = !isNull(resolveAlias(kv.value))
		val := reflect.New(v.Type().Elem()).Elem()
		w.decode(kv.value, val, p)
		m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), val)
	}
	v.Set(m)
}

func (w *walker) sequence(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		w.fail(path, n.Line, fmt.Sprintf(msgExpected, "a list", describe(n)))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		p := indexPath(path, i)
		w.keys.line[p] = item.Line
		w.keys.set[p] = !isNull(resolveAlias(item))
		w.decode(item, s.Index(i), p)
	}
	v.Set(s)
}

type pair struct{ key, value *yaml.Node }

// pairs lists a mapping's entries with "<<" merges expanded: the mapping's own keys win over
// merged ones, and an earlier merge source wins over a later one, as YAML's merge key says.
// Duplicates among the mapping's own keys are kept so mapping can report them.
func (w *walker) pairs(n *yaml.Node, path string, depth int) []pair {
	if depth > maxMergeDepth {
		w.fail(path, n.Line, msgTooDeep)
		return nil
	}
	var own, merged []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!merge" {
			own = append(own, pair{k, val})
			continue
		}
		val = resolveAlias(val)
		var sources []*yaml.Node
		switch val.Kind {
		case yaml.MappingNode:
			sources = []*yaml.Node{val}
		case yaml.SequenceNode:
			for _, s := range val.Content {
				sources = append(sources, resolveAlias(s))
			}
		}
		if len(sources) == 0 {
			w.fail(path, k.Line, msgBadMerge)
		}
		for _, s := range sources {
			if s.Kind != yaml.MappingNode {
				w.fail(path, s.Line, msgBadMerge)
				continue
			}
			merged = append(merged, w.pairs(s, path, depth+1)...)
		}
	}
	have := map[string]bool{}
	for _, p := range own {
		have[p.key.Value] = true
	}
	for _, p := range merged {
		if !have[p.key.Value] {
			have[p.key.Value] = true
			own = append(own, p)
		}
	}
	return own
}

// yamlFields maps a struct's yaml key names to field indexes, the way yaml.v3 names them.
func yamlFields(t reflect.Type) map[string]int {
	fields := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = strings.ToLower(f.Name)
		}
		fields[name] = i
	}
	return fields
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// describe names a node's value for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	default:
		return "nothing"
	}
}

// kindName names what a Go type expects, in YAML words.
func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Struct, reflect.Map:
		return "a mapping"
	case reflect.Slice, reflect.Array:
		return "a list"
	default:
		return t.String()
	}
}
