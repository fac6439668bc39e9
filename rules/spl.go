package rules

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// SPLCondition is one compiled filter condition, as the rule file writes it.
type SPLCondition struct {
	Field  string
	Op     Op
	Values []string
	// Number: an unquoted numeric literal (EventCode=855). The rule file
	// writes it as a YAML number, so the risk message writes the by-field
	// as a JSON number, as the built-in rule does.
	Number bool
	// Sub holds the conditions of an any (OR) or all group.
	Sub []SPLCondition
}

// group is the one condition that cs, ANDed, make.
func group(cs []SPLCondition) SPLCondition {
	if len(cs) == 1 {
		return cs[0]
	}
	return SPLCondition{Op: OpAll, Sub: cs}
}

// CompiledSearch is a Splunk search of the supported subset, compiled to
// the parts of a rule file.
type CompiledSearch struct {
	SPL         string
	SourceMacro string // leading macro, "" when none
	SourceNote  string // what the macro table says about it
	Filter      []SPLCondition
	By          []string // stats by-fields, in SPL order
	CountAs     string
	MinTimeAs   string // final output name (after rename), "" when absent
	MaxTimeAs   string
	Values      []ValuesSpec      // As is the final output name
	Rename      map[string]string // by-field → output name
	FilterMacro string            // trailing `…_filter` macro, "" when none
}

// splNumber is a plain decimal literal: the rule file writes it as a YAML
// number (the matcher compares numerically either way).
var splNumber = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// Fields whose values Splunk takes from index metadata: msixguard events do
// not carry them, so a condition on them would never hold. Map them through
// the macro table instead.
var splMetadataFields = map[string]bool{
	"index": true, "source": true, "sourcetype": true, "splunk_server": true,
	"eventtype": true, "tag": true, "_raw": true, "_time": true, "_indextime": true,
	"linecount": true, "punct": true, "timestartpos": true, "timeendpos": true,
}

// Stats functions Splunk has that the engine does not compute.
var splStatsKnown = map[string]string{
	"dc": "distinct counts", "distinct_count": "distinct counts",
	"latest": "latest values", "earliest": "earliest values",
	"first": "first values", "last": "last values", "list": "lists",
	"sum": "sums", "avg": "averages", "mean": "averages", "median": "medians",
	"mode": "modes", "stdev": "deviations", "var": "variances", "range": "ranges",
	"latest_time": "latest times", "earliest_time": "earliest times",
}

// CompileSPL compiles a search of the supported subset. macros maps the
// leading source macro (nil: DefaultMacros()). Anything outside the subset
// is an *SPLError naming the fragment.
func CompileSPL(spl string, macros MacroTable) (*CompiledSearch, error) {
	if macros == nil {
		macros = DefaultMacros()
	}
	if !utf8.ValidString(spl) {
		i := 0
		for i < len(spl) {
			r, n := utf8.DecodeRuneInString(spl[i:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			i += n
		}
		return nil, &SPLError{i, spl[i : i+1], "the search is not valid UTF-8"}
	}
	toks, err := splLex(spl)
	if err != nil {
		return nil, err
	}
	segs, pipes := splSegments(toks)
	cs := &CompiledSearch{SPL: spl, Rename: map[string]string{}}
	first := segs[0]
	if first[0].Kind == tokEOF {
		frag := spl
		pos := 0
		if len(segs) > 1 {
			pos = segs[1][0].Pos
			frag = segFragment(spl, segs[1])
		}
		return nil, &SPLError{pos, frag, "a search must start with a source macro or search terms; generating commands (tstats, inputlookup, from, datamodel) are not supported"}
	}
	if first[0].Kind == tokWord && strings.EqualFold(first[0].Text, "search") {
		first = first[1:]
	}
	if first[0].Kind == tokMacro {
		m, ok := macros[first[0].Text]
		if !ok {
			return nil, &SPLError{first[0].Pos, spl[first[0].Pos:first[0].End], "unknown source macro: add it to a macro table (--macros FILE)"}
		}
		cs.SourceMacro, cs.SourceNote = m.Name, m.Note
		cs.Filter = append(cs.Filter, m.conds...)
		first = first[1:]
	}
	if first[0].Kind != tokEOF {
		conds, err := compileTerms(spl, first)
		if err != nil {
			return nil, err
		}
		cs.Filter = append(cs.Filter, conds...)
	}
	if len(cs.Filter) == 0 {
		return nil, &SPLError{0, spl[:first[0].Pos], "the search has no condition: msixguard rules need at least one (such as EventCode=…)"}
	}
	st := &splState{cs: cs, spl: spl}
	for i, seg := range segs[1:] {
		last := i == len(segs)-2
		if err := st.command(seg, pipes[i], last); err != nil {
			return nil, err
		}
	}
	if !st.statsSeen {
		return nil, &SPLError{len(spl), "", "the search has no stats command: msixguard rules aggregate with stats count … by …"}
	}
	for _, o := range st.outputs {
		if (o.kind == outMin || o.kind == outMax) && !o.ctime {
			return nil, &SPLError{o.pos, o.frag, fmt.Sprintf("%s is not converted by `security_content_ctime(%s)`: msixguard always writes min/max(_time) as formatted times", o.name, o.name)}
		}
	}
	for _, o := range st.outputs {
		switch o.kind {
		case outBy:
			if o.name != o.field {
				cs.Rename[o.field] = o.name
			}
		case outCount:
			cs.CountAs = o.name
		case outMin:
			cs.MinTimeAs = o.name
		case outMax:
			cs.MaxTimeAs = o.name
		case outValues:
			cs.Values = append(cs.Values, ValuesSpec{Field: o.field, As: o.name})
		}
	}
	return cs, nil
}

func segFragment(spl string, seg []splTok) string {
	if len(seg) == 0 || seg[0].Kind == tokEOF {
		return ""
	}
	return strings.TrimSpace(spl[seg[0].Pos:seg[len(seg)-2].End])
}

// ---- search terms ----

type splNodeKind int

const (
	nodeAnd splNodeKind = iota
	nodeOr
	nodeNot
	nodeCmp
)

type splValue struct {
	text   string
	quoted bool
}

type splNode struct {
	kind     splNodeKind
	kids     []*splNode
	field    string
	op       string // "=", "!=", "IN"
	values   []splValue
	pos, end int
}

type termParser struct {
	spl  string
	toks []splTok
	i    int
}

func (p *termParser) peek() splTok { return p.toks[p.i] }
func (p *termParser) next() splTok { t := p.toks[p.i]; p.i++; return t }

func (p *termParser) fail(t splTok, reason string) error {
	frag := p.spl[t.Pos:t.End]
	if t.Kind == tokEOF {
		frag = ""
	}
	return &SPLError{t.Pos, frag, reason}
}

// compileTerms compiles search terms (everything before the first pipe,
// after the source macro) into ANDed conditions.
func compileTerms(spl string, toks []splTok) ([]SPLCondition, error) {
	p := &termParser{spl: spl, toks: toks}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.Kind != tokEOF {
		if t.Kind == tokRParen {
			return nil, p.fail(t, "unbalanced parenthesis")
		}
		return nil, p.fail(t, "unexpected token")
	}
	return toConditions(spl, n, false)
}

func (p *termParser) or() (*splNode, error) {
	left, err := p.and()
	if err != nil {
		return nil, err
	}
	kids := []*splNode{left}
	for p.peek().Kind == tokWord && p.peek().Text == "OR" {
		p.next()
		right, err := p.and()
		if err != nil {
			return nil, err
		}
		kids = append(kids, right)
	}
	if len(kids) == 1 {
		return left, nil
	}
	return &splNode{kind: nodeOr, kids: kids, pos: kids[0].pos, end: kids[len(kids)-1].end}, nil
}

func (p *termParser) and() (*splNode, error) {
	var kids []*splNode
	for {
		t := p.peek()
		if t.Kind == tokEOF || t.Kind == tokRParen || t.Kind == tokWord && t.Text == "OR" {
			break
		}
		if t.Kind == tokWord && t.Text == "AND" {
			if len(kids) == 0 {
				return nil, p.fail(t, "AND without a condition before it")
			}
			p.next()
			continue
		}
		n, err := p.unary()
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
	}
	if len(kids) == 0 {
		return nil, p.fail(p.peek(), "expected a condition")
	}
	if len(kids) == 1 {
		return kids[0], nil
	}
	return &splNode{kind: nodeAnd, kids: kids, pos: kids[0].pos, end: kids[len(kids)-1].end}, nil
}

func (p *termParser) unary() (*splNode, error) {
	t := p.peek()
	switch {
	case t.Kind == tokWord && t.Text == "NOT":
		p.next()
		kid, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &splNode{kind: nodeNot, kids: []*splNode{kid}, pos: t.Pos, end: kid.end}, nil
	case t.Kind == tokLParen:
		p.next()
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		r := p.peek()
		if r.Kind != tokRParen {
			return nil, p.fail(t, "unbalanced parenthesis")
		}
		p.next()
		n.pos, n.end = t.Pos, r.End
		return n, nil
	case t.Kind == tokWord:
		return p.comparison()
	case t.Kind == tokQuoted:
		return nil, p.fail(t, "free-text search terms are not supported: compare a field (field=value)")
	case t.Kind == tokMacro:
		return nil, p.fail(t, "a macro is only supported first in the search (the source macro) or as a whole command after a pipe")
	}
	return nil, p.fail(t, "unexpected token")
}

func (p *termParser) comparison() (*splNode, error) {
	f := p.next()
	op := p.peek()
	switch {
	case op.Kind == tokEq || op.Kind == tokNeq:
		p.next()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		n := &splNode{kind: nodeCmp, field: f.Text, op: op.Text, values: []splValue{v}, pos: f.Pos, end: p.toks[p.i-1].End}
		return n, p.checkField(n, f)
	case op.Kind == tokWord && op.Text == "IN":
		p.next()
		lp := p.next()
		if lp.Kind != tokLParen {
			return nil, p.fail(lp, "IN needs a parenthesized list: field IN (a, b)")
		}
		var vals []splValue
		for {
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			vals = append(vals, v)
			sep := p.next()
			if sep.Kind == tokRParen {
				break
			}
			if sep.Kind != tokComma {
				return nil, p.fail(sep, "expected , or ) in the IN list")
			}
		}
		n := &splNode{kind: nodeCmp, field: f.Text, op: "IN", values: vals, pos: f.Pos, end: p.toks[p.i-1].End}
		return n, p.checkField(n, f)
	case op.Kind == tokCmp:
		end := op.End
		if v := p.toks[p.i+1]; v.Kind == tokWord || v.Kind == tokQuoted {
			end = v.End
		}
		return nil, &SPLError{f.Pos, p.spl[f.Pos:end], "numeric comparisons (<, >, <=, >=) are not supported"}
	case op.Kind == tokLParen:
		return nil, p.fail(f, "search functions (TERM, CASE, …) are not supported")
	}
	if f.Text == "and" || f.Text == "or" || f.Text == "not" || f.Text == "in" {
		return nil, p.fail(f, "lower-case "+f.Text+" is a search term in SPL, not an operator (write "+strings.ToUpper(f.Text)+")")
	}
	return nil, p.fail(f, "free-text search terms are not supported: compare a field (field=value)")
}

func (p *termParser) value() (splValue, error) {
	t := p.next()
	switch t.Kind {
	case tokWord:
		if t.Text == "AND" || t.Text == "OR" || t.Text == "NOT" {
			return splValue{}, p.fail(t, "expected a value, found the operator "+t.Text)
		}
		return splValue{text: t.Text}, nil
	case tokQuoted:
		if t.Text == "" {
			return splValue{}, p.fail(t, "an empty value is not supported: msixguard treats an empty field as missing")
		}
		return splValue{text: t.Text, quoted: true}, nil
	}
	return splValue{}, p.fail(t, "expected a value")
}

func (p *termParser) checkField(n *splNode, f splTok) error {
	if splMetadataFields[strings.ToLower(f.Text)] {
		return &SPLError{n.pos, p.spl[n.pos:n.end], f.Text + " is Splunk index metadata that msixguard events do not carry: put it in a source macro of the macro table"}
	}
	if !fieldPattern.MatchString(f.Text) {
		return &SPLError{f.Pos, f.Text, "not a field name msixguard supports"}
	}
	return nil
}

// toConditions turns a term tree into ANDed conditions, exactly: NOT is
// pushed down to the terms (De Morgan: NOT over OR is ANDed NOTs, NOT over
// AND an any group of NOTs); an OR of field=value / field IN (…) terms on
// one field is that field's IN list, any other OR an any group.
func toConditions(spl string, n *splNode, neg bool) ([]SPLCondition, error) {
	frag := func() string { return spl[n.pos:n.end] }
	switch n.kind {
	case nodeCmp:
		c := SPLCondition{Field: n.field}
		for _, v := range n.values {
			c.Values = append(c.Values, v.text)
		}
		switch {
		case n.op == "=" && !neg:
			c.Op = OpEquals
			c.Number = !n.values[0].quoted && splNumber.MatchString(n.values[0].text)
		case n.op == "=" && neg:
			c.Op = OpNotIn
		case n.op == "!=" && !neg:
			c.Op = OpNotEquals
			c.Number = !n.values[0].quoted && splNumber.MatchString(n.values[0].text)
		case n.op == "!=" && neg:
			return nil, &SPLError{n.pos, frag(), "NOT of field!=value (the field is missing or equals the value) has no rule operator"}
		case n.op == "IN" && !neg:
			c.Op = OpIn
		default:
			c.Op = OpNotIn
		}
		return []SPLCondition{c}, nil
	case nodeNot:
		return toConditions(spl, n.kids[0], !neg)
	case nodeAnd:
		if neg && len(n.kids) > 1 {
			// NOT (a AND b) = NOT a OR NOT b.
			g := SPLCondition{Op: OpAny}
			for _, k := range n.kids {
				cs, err := toConditions(spl, k, true)
				if err != nil {
					return nil, err
				}
				g.Sub = append(g.Sub, group(cs))
			}
			return []SPLCondition{g}, nil
		}
		var out []SPLCondition
		for _, k := range n.kids {
			cs, err := toConditions(spl, k, neg)
			if err != nil {
				return nil, err
			}
			out = append(out, cs...)
		}
		return out, nil
	case nodeOr:
		if neg {
			// NOT (a OR b) = NOT a AND NOT b.
			var out []SPLCondition
			for _, k := range n.kids {
				cs, err := toConditions(spl, k, true)
				if err != nil {
					return nil, err
				}
				out = append(out, cs...)
			}
			return out, nil
		}
		var kids []SPLCondition
		for _, k := range n.kids {
			cs, err := toConditions(spl, k, false)
			if err != nil {
				return nil, err
			}
			kids = append(kids, group(cs))
		}
		sameField := true
		for _, c := range kids {
			sameField = sameField && (c.Op == OpEquals || c.Op == OpIn) && c.Field == kids[0].Field
		}
		if sameField {
			// One field's values: that field's IN list.
			merged := SPLCondition{Field: kids[0].Field, Op: OpIn}
			for _, c := range kids {
				merged.Values = append(merged.Values, c.Values...)
			}
			return []SPLCondition{merged}, nil
		}
		return []SPLCondition{{Op: OpAny, Sub: kids}}, nil
	}
	return nil, &SPLError{n.pos, frag(), "unsupported expression"}
}

// ---- commands after the search ----

type splOutKind int

const (
	outBy splOutKind = iota
	outCount
	outMin
	outMax
	outValues
)

// splOutput is one field of the stats result, tracked through renames.
type splOutput struct {
	kind  splOutKind
	field string // by-field or values() argument
	name  string // current name
	ctime bool   // security_content_ctime applied (min/max)
	pos   int
	frag  string
}

type splState struct {
	cs        *CompiledSearch
	spl       string
	statsSeen bool
	outputs   []*splOutput
	done      bool // the filter macro was seen
}

func (st *splState) fail(t splTok, reason string) error {
	frag := st.spl[t.Pos:t.End]
	if t.Kind == tokEOF {
		frag = ""
	}
	return &SPLError{t.Pos, frag, reason}
}

func (st *splState) output(name string) *splOutput {
	for _, o := range st.outputs {
		if o.name == name {
			return o
		}
	}
	return nil
}

func (st *splState) command(seg []splTok, pipe int, last bool) error {
	t := seg[0]
	whole := &SPLError{t.Pos, segFragment(st.spl, seg), ""}
	if t.Kind == tokEOF {
		return &SPLError{pipe, "|", "empty command after this pipe"}
	}
	if st.done {
		whole.Reason = "a command after the filter macro is not supported: the filter macro must be last"
		return whole
	}
	switch {
	case t.Kind == tokWord && strings.EqualFold(t.Text, "stats"):
		if st.statsSeen {
			whole.Reason = "a second stats is not supported"
			return whole
		}
		return st.stats(seg[1:])
	case t.Kind == tokWord && strings.EqualFold(t.Text, "rename"):
		if !st.statsSeen {
			whole.Reason = "rename before stats is not supported"
			return whole
		}
		return st.rename(seg[1:])
	case t.Kind == tokMacro:
		if seg[1].Kind != tokEOF {
			return st.fail(seg[1], "unexpected text after a macro")
		}
		return st.macro(t, last)
	case t.Kind == tokWord:
		whole.Reason = fmt.Sprintf("command %q is not supported (supported: stats, rename, `security_content_ctime(…)`, the trailing `…_filter` macro)", strings.ToLower(t.Text))
		return whole
	}
	whole.Reason = "expected a command"
	return whole
}

func (st *splState) macro(t splTok, last bool) error {
	name := t.Text
	if arg, ok := strings.CutPrefix(name, "security_content_ctime("); ok && strings.HasSuffix(arg, ")") {
		arg = strings.TrimSpace(strings.TrimSuffix(arg, ")"))
		if !st.statsSeen {
			return st.fail(t, "security_content_ctime before stats is not supported")
		}
		o := st.output(arg)
		if o == nil || o.kind != outMin && o.kind != outMax {
			return st.fail(t, fmt.Sprintf("security_content_ctime(%s): %s is not min(_time) or max(_time) of the stats; msixguard formats only those", arg, arg))
		}
		o.ctime = true
		return nil
	}
	if strings.HasSuffix(name, "_filter") && !strings.ContainsAny(name, "( ") {
		if !last {
			return st.fail(t, "the filter macro must be the last command")
		}
		st.cs.FilterMacro = name
		st.done = true
		return nil
	}
	return st.fail(t, "unknown macro (supported after a pipe: `security_content_ctime(field)` and the trailing `…_filter` macro)")
}

// stats parses `stats count [as n] min(_time) as a max(_time) as b
// values(X) [as y] … by f1 f2 …`.
func (st *splState) stats(toks []splTok) error {
	st.statsSeen = true
	i := 0
	seen := map[splOutKind]bool{}
	name := func(t splTok) (string, bool) {
		if t.Kind == tokWord || t.Kind == tokQuoted {
			return t.Text, true
		}
		return "", false
	}
	for {
		t := toks[i]
		if t.Kind == tokEOF {
			return st.fail(t, "stats without by: msixguard groups need at least one by-field")
		}
		if t.Kind == tokComma {
			i++
			continue
		}
		if t.Kind == tokWord && strings.EqualFold(t.Text, "by") {
			i++
			break
		}
		if t.Kind != tokWord {
			return st.fail(t, "expected a stats function")
		}
		if toks[i+1].Kind == tokEq {
			return st.fail(t, "stats options ("+t.Text+"=…) are not supported")
		}
		o := &splOutput{pos: t.Pos}
		end := t.End
		fn := strings.ToLower(t.Text)
		if toks[i+1].Kind == tokLParen {
			// fn(arg): find the closing parenthesis for the fragment.
			j, depth := i+1, 0
			for ; toks[j].Kind != tokEOF; j++ {
				if toks[j].Kind == tokLParen {
					depth++
				} else if toks[j].Kind == tokRParen {
					depth--
					if depth == 0 {
						break
					}
				}
			}
			if toks[j].Kind == tokEOF {
				return st.fail(t, "unbalanced parenthesis")
			}
			end = toks[j].End
			frag := st.spl[t.Pos:end]
			simple := j == i+3 && toks[i+2].Kind == tokWord
			arg := toks[i+2].Text
			switch {
			case fn == "count":
				return &SPLError{t.Pos, frag, "count(field) counts events where the field exists; only a plain count is supported"}
			case fn == "min" || fn == "max":
				if !simple || arg != "_time" {
					return &SPLError{t.Pos, frag, fn + "() is supported only of _time"}
				}
				o.kind = outMin
				if fn == "max" {
					o.kind = outMax
				}
			case fn == "values":
				if !simple || !fieldPattern.MatchString(arg) || arg == "_time" {
					return &SPLError{t.Pos, frag, "values() is supported only of an event field"}
				}
				o.kind, o.field = outValues, arg
			case splStatsKnown[fn] != "":
				return &SPLError{t.Pos, frag, fmt.Sprintf("stats %s() is not supported: the engine does not compute %s (supported: count, min(_time), max(_time), values(field))", fn, splStatsKnown[fn])}
			default:
				return &SPLError{t.Pos, frag, "unsupported stats function (supported: count, min(_time), max(_time), values(field))"}
			}
			i = j + 1
		} else {
			if fn != "count" {
				if splStatsKnown[fn] != "" || fn == "c" || fn == "dc" {
					return st.fail(t, "unsupported stats function (supported: count, min(_time), max(_time), values(field))")
				}
				return st.fail(t, "expected a stats function or by")
			}
			o.kind, o.name = outCount, "count"
			i++
		}
		o.frag = st.spl[o.pos:end]
		if toks[i].Kind == tokWord && strings.EqualFold(toks[i].Text, "as") {
			n, ok := name(toks[i+1])
			if !ok {
				return st.fail(toks[i+1], "expected a name after as")
			}
			o.name = n
			end = toks[i+1].End
			i += 2
		} else if o.kind != outCount {
			return &SPLError{o.pos, o.frag, "needs `as NAME`: without it Splunk names the output " + o.frag + ", which is not a field name"}
		}
		o.frag = st.spl[o.pos:end]
		if o.kind != outValues && seen[o.kind] {
			return &SPLError{o.pos, o.frag, "the same stats function twice is not supported"}
		}
		seen[o.kind] = true
		if !fieldPattern.MatchString(o.name) {
			return &SPLError{o.pos, o.frag, fmt.Sprintf("%q is not a field name msixguard supports", o.name)}
		}
		if st.output(o.name) != nil {
			return &SPLError{o.pos, o.frag, fmt.Sprintf("output name %q is used twice", o.name)}
		}
		st.outputs = append(st.outputs, o)
	}
	if !seen[outCount] {
		return st.fail(toks[0], "stats without count: msixguard always writes the event count, so the search must compute it")
	}
	nBy := 0
	for ; toks[i].Kind != tokEOF; i++ {
		t := toks[i]
		if t.Kind == tokComma {
			continue
		}
		if t.Kind != tokWord {
			return st.fail(t, "expected a by-field")
		}
		if !fieldPattern.MatchString(t.Text) || splMetadataFields[strings.ToLower(t.Text)] {
			return st.fail(t, "not a by-field msixguard supports")
		}
		if st.output(t.Text) != nil {
			return st.fail(t, fmt.Sprintf("%q is both a by-field and a stats output", t.Text))
		}
		st.outputs = append(st.outputs, &splOutput{kind: outBy, field: t.Text, name: t.Text, pos: t.Pos, frag: t.Text})
		st.cs.By = append(st.cs.By, t.Text)
		nBy++
	}
	if nBy == 0 {
		return st.fail(toks[i], "stats without by: msixguard groups need at least one by-field")
	}
	return nil
}

// rename parses `rename a as b[, c as d]…`.
func (st *splState) rename(toks []splTok) error {
	i := 0
	n := 0
	for toks[i].Kind != tokEOF {
		if toks[i].Kind == tokComma {
			i++
			continue
		}
		from := toks[i]
		if from.Kind != tokWord && from.Kind != tokQuoted {
			return st.fail(from, "expected a field to rename")
		}
		if toks[i+1].Kind == tokEOF || toks[i+2].Kind == tokEOF {
			return st.fail(from, "expected `rename FIELD as NAME`")
		}
		as, to := toks[i+1], toks[i+2]
		if as.Kind != tokWord || !strings.EqualFold(as.Text, "as") || to.Kind != tokWord && to.Kind != tokQuoted {
			return st.fail(from, "expected `rename FIELD as NAME`")
		}
		pair := &SPLError{from.Pos, st.spl[from.Pos:to.End], ""}
		if strings.Contains(from.Text, "*") || strings.Contains(to.Text, "*") {
			pair.Reason = "wildcard renames are not supported"
			return pair
		}
		o := st.output(from.Text)
		if o == nil {
			pair.Reason = fmt.Sprintf("%s is not a field of the stats result", from.Text)
			return pair
		}
		if !fieldPattern.MatchString(to.Text) {
			pair.Reason = fmt.Sprintf("%q is not a field name msixguard supports", to.Text)
			return pair
		}
		if other := st.output(to.Text); other != nil && other != o {
			pair.Reason = fmt.Sprintf("renaming onto the existing field %s is not supported", to.Text)
			return pair
		}
		o.name = to.Text
		i += 3
		n++
	}
	if n == 0 {
		return st.fail(toks[i], "rename needs FIELD as NAME")
	}
	return nil
}
