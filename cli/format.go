package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"text/template"
	tparse "text/template/parse"
	"unicode/utf8"
)

// output is how ls and inspect print, as docker's -o and --format say:
// the table (wide: more columns), JSON, YAML, or a Go template run on
// each item.
type output struct {
	mode   string // "", "wide", "json" or "yaml"
	format string // a Go template, or ""
	json   bool   // --json, the older spelling of -o json
}

// outputFlags adds -o/--output and --format (and --json when withJSON)
// to fs.
func outputFlags(fs *flag.FlagSet, wide, withJSON bool) *output {
	o := &output{}
	modes := "json or yaml"
	if wide {
		modes = "json, yaml or wide (more columns)"
	}
	fs.StringVar(&o.mode, "o", "", "output: "+modes)
	fs.StringVar(&o.mode, "output", "", "same as -o")
	fs.StringVar(&o.format, "format", "", `a Go template for each item, such as '{{.Name}}\t{{.Status}}' or '{{json .}}'`)
	if withJSON {
		fs.BoolVar(&o.json, "json", false, "print JSON (same as -o json)")
	}
	return o
}

// check says whether the flags agree, and settles --json into mode.
func (o *output) check(wide bool) error {
	if o.json {
		if o.mode != "" && o.mode != "json" {
			return usagef("--json and -o %s disagree; give one", o.mode)
		}
		o.mode = "json"
	}
	switch o.mode {
	case "", "json", "yaml":
	case "wide":
		if !wide {
			return usagef("-o takes json or yaml here, not wide")
		}
	default:
		if wide {
			return usagef("-o takes json, yaml or wide, not %q", o.mode)
		}
		return usagef("-o takes json or yaml, not %q", o.mode)
	}
	if o.format != "" && o.mode != "" {
		return usagef("give -o or --format, not both")
	}
	if o.format != "" {
		_, err := parseFormat(o.format)
		return err
	}
	return nil
}

// structured prints v as JSON or YAML when that was asked; done is false
// for the table and --format, which the caller prints.
func (c *CLI) structured(o *output, v any) (done bool, err error) {
	switch o.mode {
	case "json":
		return true, c.printJSON(v)
	case "yaml":
		return true, c.printYAML(v)
	}
	return false, nil
}

// printJSONLine writes v as JSON on one line, escaped as printJSON does:
// one object per line for streams (events, stats).
func (c *CLI) printJSONLine(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = c.Stdout.Write(append(escapeJSON(b), '\n'))
	return err
}

// printYAML writes v, as its JSON says it, as YAML (below).
func (c *CLI) printYAML(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := jsonToYAML(&out, b); err != nil {
		return err
	}
	_, err = c.Stdout.Write(out.Bytes())
	return err
}

// printFormat runs the template on each item, a line each, as docker's
// --format does; every value the template prints is escaped (escape),
// and \t and \n written in the template are a tab and a line break.
func (c *CLI) printFormat(format string, items []any) error {
	t, err := parseFormat(format)
	if err != nil {
		return err
	}
	for _, it := range items {
		var b bytes.Buffer
		if err := t.Execute(&b, it); err != nil {
			return usagef("--format: %v", oneLine(err.Error()))
		}
		b.WriteByte('\n')
		if _, err := c.Stdout.Write(b.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// formatFuncs are docker's template functions, most of them; json's
// output is escaped as printJSON's is.
var formatFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(escapeJSON(b)), err
	},
	"join":  func(l []string, sep any) string { return strings.Join(l, text(sep)) },
	"lower": func(v any) string { return strings.ToLower(text(v)) },
	"upper": func(v any) string { return strings.ToUpper(text(v)) },
	"title": func(v any) string {
		s := text(v)
		if s == "" {
			return s
		}
		r, n := utf8.DecodeRuneInString(s)
		return strings.ToUpper(string(r)) + s[n:]
	},
	"truncate": func(v any, n int) string {
		s := text(v)
		if utf8.RuneCountInString(s) <= n {
			return s
		}
		return string([]rune(s)[:n])
	},
	"split":          func(v, sep any) []string { return strings.Split(text(v), text(sep)) },
	escapeOutputFunc: escapePrinted,
}

// text is v as the template prints it, not escaped: named string types
// (an agent's Status) go to the string functions as they are.
func text(v any) string {
	rv := reflect.ValueOf(v)
	for rv.IsValid() && rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv = rv.Elem()
	}
	if !rv.IsValid() {
		return ""
	}
	return fmt.Sprint(rv.Interface())
}

// escapeOutputFunc ends the pipeline of every action that prints.
const escapeOutputFunc = "_warderEscape"

// parseFormat parses a --format template and makes every action that
// prints end in escapePrinted, as html/template adds its escapers: what
// the server sent is escaped however the template reaches it.
func parseFormat(format string) (*template.Template, error) {
	format = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format)
	t, err := template.New("format").Funcs(formatFuncs).Parse(format)
	if err != nil {
		return nil, usagef("--format: %v", oneLine(err.Error()))
	}
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			escapeActions(tt.Tree.Root)
		}
	}
	return t, nil
}

// escapeActions adds the escaper to each printing action under n.
func escapeActions(n tparse.Node) {
	switch n := n.(type) {
	case *tparse.ListNode:
		if n == nil {
			return
		}
		for _, m := range n.Nodes {
			escapeActions(m)
		}
	case *tparse.ActionNode:
		if len(n.Pipe.Decl) == 0 {
			n.Pipe.Cmds = append(n.Pipe.Cmds, &tparse.CommandNode{NodeType: tparse.NodeCommand, Pos: n.Pos,
				Args: []tparse.Node{tparse.NewIdentifier(escapeOutputFunc).SetPos(n.Pos)}})
		}
	case *tparse.IfNode:
		escapeActions(n.List)
		escapeActions(n.ElseList)
	case *tparse.RangeNode:
		escapeActions(n.List)
		escapeActions(n.ElseList)
	case *tparse.WithNode:
		escapeActions(n.List)
		escapeActions(n.ElseList)
	}
}

// escapePrinted is v as text/template would print it, escaped.
func escapePrinted(v any) string {
	rv := reflect.ValueOf(v)
	for rv.IsValid() && rv.Kind() == reflect.Pointer && !rv.IsNil() {
		if _, ok := rv.Interface().(fmt.Stringer); ok {
			break
		}
		if _, ok := rv.Interface().(error); ok {
			break
		}
		rv = rv.Elem()
	}
	if !rv.IsValid() {
		return "<no value>"
	}
	if rv.Kind() == reflect.Pointer && rv.IsNil() {
		return "<nil>"
	}
	return escape(fmt.Sprint(rv.Interface()))
}

// jsonToYAML writes the JSON document b as YAML (block style, keys in
// the JSON's order): every string double-quoted unless it is plainly a
// word YAML reads back as that same string, numbers, booleans and null as
// JSON writes them, empty objects and arrays as {} and []. Strings are
// written with escapeKeeping's care: what a terminal obeys is escaped.
func jsonToYAML(w io.Writer, b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := readOrdered(dec)
	if err != nil {
		return err
	}
	var out strings.Builder
	switch v.(type) {
	case orderedMap, []any:
		if isEmpty(v) {
			out.WriteString(yamlScalar(v) + "\n")
		} else {
			writeYAML(&out, v, 0)
		}
	default:
		out.WriteString(yamlScalar(v) + "\n")
	}
	_, err = io.WriteString(w, out.String())
	return err
}

// orderedMap is a JSON object with its keys in order.
type orderedMap []struct {
	key string
	val any
}

func readOrdered(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		m := orderedMap{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := readOrdered(dec)
			if err != nil {
				return nil, err
			}
			m = append(m, struct {
				key string
				val any
			}{k.(string), v})
		}
		_, err := dec.Token()
		return m, err
	case json.Delim('['):
		l := []any{}
		for dec.More() {
			v, err := readOrdered(dec)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		_, err := dec.Token()
		return l, err
	}
	return tok, nil
}

func isEmpty(v any) bool {
	switch v := v.(type) {
	case orderedMap:
		return len(v) == 0
	case []any:
		return len(v) == 0
	}
	return false
}

// writeYAML writes a non-empty object or array at indent.
func writeYAML(out *strings.Builder, v any, indent int) {
	pad := strings.Repeat("  ", indent)
	switch v := v.(type) {
	case orderedMap:
		for _, kv := range v {
			out.WriteString(pad + yamlString(kv.key) + ":")
			writeValue(out, kv.val, indent+1, false)
		}
	case []any:
		for _, e := range v {
			out.WriteString(pad + "-")
			writeValue(out, e, indent+1, true)
		}
	}
}

// writeValue writes what follows "key:" or "-": a scalar on the same
// line, or a block below it (an item's object starts on the dash's line).
func writeValue(out *strings.Builder, v any, indent int, item bool) {
	if isEmpty(v) {
		out.WriteString(" " + yamlScalar(v) + "\n")
		return
	}
	switch v.(type) {
	case orderedMap:
		if item {
			var sub strings.Builder
			writeYAML(&sub, v, indent)
			out.WriteString(" " + strings.TrimPrefix(sub.String(), strings.Repeat("  ", indent)))
			return
		}
		out.WriteString("\n")
		writeYAML(out, v, indent)
	case []any:
		out.WriteString("\n")
		writeYAML(out, v, indent)
	default:
		out.WriteString(" " + yamlScalar(v) + "\n")
	}
}

func yamlScalar(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(v)
	case json.Number:
		return v.String()
	case string:
		return yamlString(v)
	case orderedMap:
		return "{}"
	case []any:
		return "[]"
	}
	return fmt.Sprint(v)
}

// yamlString is s plain when YAML reads that back as the same string
// (letters, digits and a few marks, not starting as a number, a
// keyword or an indicator would), else double-quoted with YAML's
// escapes, every unsafe character among them.
func yamlString(s string) string {
	if plainYAML(s) {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r == utf8.RuneError || r == 0xfeff || unsafeRune(r):
			if r <= 0xffff {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				fmt.Fprintf(&b, `\U%08x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func plainYAML(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	switch strings.ToLower(s) {
	case "null", "true", "false", "yes", "no", "on", "off", "y", "n", "~", ".nan", ".inf", "-.inf", "+.inf":
		return false
	}
	if c := s[0]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '/' || c == '_') {
		return false // a digit, a sign or an indicator: quote it
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_./@+=", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}
