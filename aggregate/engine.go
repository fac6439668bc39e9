package aggregate

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/msixguard/msixguard/event"
	"github.com/msixguard/msixguard/rules"
)

// Kind says why a risk message was produced.
type Kind string

// The kinds of DESIGN.md.
const (
	KindEarly Kind = "early" // first match of a group in a window, at once
	KindFinal Kind = "final" // the window closed: Splunk parity
	KindLate  Kind = "late"  // a match for a window already final
)

// Group is the state of one (rule, window, by-fields) group.
type Group struct {
	Rule        *rules.Rule
	WindowStart int64    // unix nanoseconds
	By          []string // by-field values, in rule order
	Count       int64
	First, Last int64 // min and max event time, unix nanoseconds
	Values      [][]string
	Truncated   []bool // per values(): the cap cut values
	Packages    []event.Package
	PackagesCut bool

	// Room for the common shape (three by-fields, one values() field with
	// one value, one package), so that an open group is two allocations,
	// this struct and its blob (see Engine.Add), instead of eight.
	inline struct {
		by     [3]string
		values [1][]string
		value  [1]string
		trunc  [1]bool
		pkg    [1]event.Package
	}
}

// WindowEnd is the exclusive end of the group's window.
func (g *Group) WindowEnd() int64 { return g.WindowStart + int64(g.Rule.Window.Size) }

// Result is a group ready to be written as a risk message.
type Result struct {
	Kind  Kind
	Group Group
}

// Options bound the engine's state.
type Options struct {
	// MaxGroups caps open groups; a match that would open one more is
	// dropped and counted (DropGroupLimit). 0 means DefaultMaxGroups.
	MaxGroups int
	// PackagesLimit caps the parsed packages kept per group.
	PackagesLimit int
}

// DefaultMaxGroups holds well under 1 GiB of state (see docs/BENCHMARKS.md).
const DefaultMaxGroups = 1_000_000

// Drop reasons the engine counts.
const (
	DropGroupLimit  = "group_limit"
	DropUnknownRule = "unknown_rule"
)

// Engine holds the open groups of one stream (one repartition partition in
// stage 2, the whole input in `check`).
type Engine struct {
	rules     map[string]*rules.Rule
	opts      Options
	open      map[string]*Group // by groupKey
	keyBuf    []byte
	watermark int64
	hasWM     bool
	// nextFinal is the earliest end+lag among open groups: Advance skips the
	// scan of open groups until the watermark reaches it.
	nextFinal int64
	// Dropped counts matches not aggregated, by reason.
	Dropped map[string]int64
	bytes   int64 // estimate of the memory held by open groups
}

// New returns an engine for rs.
func New(rs []*rules.Rule, opts Options) *Engine {
	if opts.MaxGroups <= 0 {
		opts.MaxGroups = DefaultMaxGroups
	}
	if opts.PackagesLimit <= 0 {
		opts.PackagesLimit = rules.DefaultValuesLimit
	}
	e := &Engine{rules: map[string]*rules.Rule{}, opts: opts, open: map[string]*Group{}, Dropped: map[string]int64{}}
	for _, r := range rs {
		e.rules[r.ID] = r
	}
	return e
}

// Watermark returns the event time through which windows are final, and
// whether the engine has seen one.
func (e *Engine) Watermark() (time.Time, bool) { return time.Unix(0, e.watermark).UTC(), e.hasWM }

// OpenGroups is the number of groups in open windows.
func (e *Engine) OpenGroups() int { return len(e.open) }

// Final reports whether the window of rule r starting at start is final at
// the current watermark.
func (e *Engine) Final(r *rules.Rule, start int64) bool {
	return e.hasWM && start+int64(r.Window.Size)+int64(r.Window.Lag) <= e.watermark
}

// Add folds m into its group. It returns an early result when m opened the
// group, or a late result (holding m alone) when m's window is already
// final; the caller decides which kinds to emit. When m is not aggregated it
// returns the drop reason (also counted in Dropped).
func (e *Engine) Add(m rules.Match) ([]Result, string) {
	r, ok := e.rules[m.Rule]
	if !ok {
		e.Dropped[DropUnknownRule]++
		return nil, DropUnknownRule
	}
	start := r.Window.Start(m.Time)
	if e.Final(r, start) {
		g := newGroup(r, start, m.By)
		g.fold(m, e.opts.PackagesLimit, keepAsIs, keepPackageAsIs)
		return []Result{{Kind: KindLate, Group: *g}}, ""
	}
	e.keyBuf = groupKey(e.keyBuf[:0], r.ID, start, m.By)
	g, ok := e.open[string(e.keyBuf)] // no allocation for the lookup
	if !ok {
		if len(e.open) >= e.opts.MaxGroups {
			e.Dropped[DropGroupLimit]++
			return nil, DropGroupLimit
		}
		k, first := e.blob(m)
		g = newGroup(r, start, byInKey(k, r.ID, start, m.By))
		if f := start + int64(r.Window.Size) + int64(r.Window.Lag); len(e.open) == 0 || f < e.nextFinal {
			e.nextFinal = f
		}
		e.open[k] = g
		e.bytes += g.size() + int64(len(k)) + groupKeyOverhead
		e.bytes += g.fold(first, e.opts.PackagesLimit, keepAsIs, keepPackageAsIs)
		return []Result{{Kind: KindEarly, Group: g.snapshot()}}, ""
	}
	// Later matches rarely bring a new value; when they do, the group keeps
	// its own copy rather than pin the memory m was decoded into.
	e.bytes += g.fold(m, e.opts.PackagesLimit, strings.Clone, event.Package.Compact)
	return nil, ""
}

// blob puts everything a new group keeps of its first match m in one
// string: the group key (already in e.keyBuf), the values and the packages'
// full names. It returns the key, a substring, and m with its values and
// packages pointing into the blob. Groups are long-lived and are opened
// between the short-lived garbage of decoding, in the same small sizes; a
// few larger objects per group keep the heap from fragmenting into spans
// that a handful of live strings hold on to (docs/BENCHMARKS.md, memory
// per open group).
func (e *Engine) blob(m rules.Match) (string, rules.Match) {
	b := e.keyBuf
	keyLen := len(b)
	for _, vs := range m.Values {
		for _, v := range vs {
			b = append(b, v...)
		}
	}
	for _, p := range m.Packages {
		b = append(b, p.FullName...)
	}
	s := string(b)
	e.keyBuf = b[:0]
	first := m
	first.Values = make([][]string, len(m.Values))
	off := keyLen
	for i, vs := range m.Values {
		first.Values[i] = make([]string, len(vs))
		for j, v := range vs {
			first.Values[i][j] = s[off : off+len(v)]
			off += len(v)
		}
	}
	first.Packages = make([]event.Package, len(m.Packages))
	for i, p := range m.Packages {
		first.Packages[i] = p.In(s[off : off+len(p.FullName)])
		off += len(p.FullName)
	}
	return s[:keyLen], first
}

func keepAsIs(s string) string                      { return s }
func keepPackageAsIs(p event.Package) event.Package { return p }

// Advance moves the watermark to wm (it never moves back) and returns the
// groups of every window that became final, in a stable order.
func (e *Engine) Advance(wm time.Time) []Result {
	w := wm.UnixNano()
	if e.hasWM && w <= e.watermark {
		return nil
	}
	e.watermark, e.hasWM = w, true
	if len(e.open) == 0 || w < e.nextFinal {
		return nil
	}
	return e.take(func(g *Group) bool { return e.Final(g.Rule, g.WindowStart) })
}

// Flush finalizes every open window, as `check` does at end of input.
func (e *Engine) Flush() []Result {
	return e.take(func(*Group) bool { return true })
}

func (e *Engine) take(done func(*Group) bool) []Result {
	var out []Result
	first := true
	for k, g := range e.open {
		if done(g) {
			out = append(out, Result{Kind: KindFinal, Group: *g})
			e.bytes -= g.size() + int64(len(k)) + groupKeyOverhead
			delete(e.open, k)
			continue
		}
		if f := g.WindowEnd() + int64(g.Rule.Window.Lag); first || f < e.nextFinal {
			e.nextFinal, first = f, false
		}
	}
	SortResults(out)
	return out
}

// OldestOpen returns the earliest window start among open groups.
func (e *Engine) OldestOpen() (int64, bool) {
	var min int64
	found := false
	for _, g := range e.open {
		if !found || g.WindowStart < min {
			min, found = g.WindowStart, true
		}
	}
	return min, found
}

// SortResults orders results by window start, rule and by-field values.
func SortResults(rs []Result) {
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := &rs[i].Group, &rs[j].Group
		if a.WindowStart != b.WindowStart {
			return a.WindowStart < b.WindowStart
		}
		if a.Rule.ID != b.Rule.ID {
			return a.Rule.ID < b.Rule.ID
		}
		for k := 0; k < len(a.By) && k < len(b.By); k++ {
			if a.By[k] != b.By[k] {
				return a.By[k] < b.By[k]
			}
		}
		return false
	})
}

func newGroup(r *rules.Rule, start int64, by []string) *Group {
	g := &Group{Rule: r, WindowStart: start}
	if len(by) <= len(g.inline.by) {
		g.By = g.inline.by[:len(by)]
		copy(g.By, by)
	} else {
		g.By = append([]string(nil), by...)
	}
	if n := len(r.Values); n <= 1 {
		g.Values, g.Truncated = g.inline.values[:n], g.inline.trunc[:n]
		if n == 1 {
			g.Values[0] = g.inline.value[:0]
		}
	} else {
		g.Values, g.Truncated = make([][]string, n), make([]bool, n)
	}
	g.Packages = g.inline.pkg[:0]
	return g
}

// Size estimates, in bytes, of what an open group holds beyond its strings:
// the map entry and key, the Group struct and slice headers.
const (
	groupKeyOverhead = 64
	groupOverhead    = 160
	stringOverhead   = 16
	packageBytes     = 6*stringOverhead + 80
)

// StateBytes estimates the memory held by open groups, for the
// msixguard_state_bytes gauge.
func (e *Engine) StateBytes() int64 { return e.bytes }

// size estimates the bytes a group holds.
func (g *Group) size() int64 {
	n := int64(groupOverhead)
	for _, b := range g.By {
		n += int64(len(b)) + stringOverhead
	}
	for _, vs := range g.Values {
		for _, v := range vs {
			n += int64(len(v)) + stringOverhead
		}
	}
	return n + int64(len(g.Packages))*packageBytes
}

// fold folds m into g and returns the growth estimate. keep and keepPkg
// make what g keeps of a new value or package.
func (g *Group) fold(m rules.Match, pkgLimit int, keep func(string) string, keepPkg func(event.Package) event.Package) int64 {
	var grew int64
	if g.Count == 0 || m.Time < g.First {
		g.First = m.Time
	}
	if g.Count == 0 || m.Time > g.Last {
		g.Last = m.Time
	}
	g.Count++
	for i := range g.Values {
		if i >= len(m.Values) {
			break
		}
		for _, v := range m.Values[i] {
			var cut bool
			var d int64
			g.Values[i], cut, d = insertSorted(g.Values[i], v, g.Rule.ValuesCap, keep)
			g.Truncated[i] = g.Truncated[i] || cut
			grew += d
		}
	}
	if len(m.Packages) > 0 {
		var cut bool
		before := len(g.Packages)
		g.Packages, cut = event.MergePackages(g.Packages, m.Packages, pkgLimit, keepPkg)
		g.PackagesCut = g.PackagesCut || cut
		// Packages are short and bounded: an average size is close enough.
		grew += int64(len(g.Packages)-before) * packageBytes
	}
	return grew
}

// snapshot copies g so a result does not change as the group grows.
func (g *Group) snapshot() Group {
	c := *g
	c.Values = make([][]string, len(g.Values))
	for i, v := range g.Values {
		c.Values[i] = append([]string(nil), v...)
	}
	c.Truncated = append([]bool(nil), g.Truncated...)
	c.Packages = append([]event.Package(nil), g.Packages...)
	return c
}

// byInKey returns the by-values as substrings of k, the group key that
// groupKey made of rule, start and by.
func byInKey(k, rule string, start int64, by []string) []string {
	out := make([]string, len(by))
	var digits [20]byte
	pos := len(rule) + 1 + len(strconv.AppendInt(digits[:0], start, 10))
	for i, v := range by {
		pos += 2 + len(strconv.AppendInt(digits[:0], int64(len(v)), 10))
		out[i] = k[pos : pos+len(v)]
		pos += len(v)
	}
	return out
}

// groupKey appends the map key of a group (rule, window, by-values) to
// buf. Values are length-prefixed: any byte can occur in a field (JSON
// allows \u0000), and a plain separator would let two groups share a key.
func groupKey(buf []byte, rule string, start int64, by []string) []byte {
	buf = append(buf, rule...)
	buf = append(buf, 0)
	buf = strconv.AppendInt(buf, start, 10)
	for _, v := range by {
		buf = append(buf, ':')
		buf = strconv.AppendInt(buf, int64(len(v)), 10)
		buf = append(buf, ':')
		buf = append(buf, v...)
	}
	return buf
}
