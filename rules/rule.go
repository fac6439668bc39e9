package rules

import (
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/lestrrat-go/strftime"

	"github.com/msixguard/msixguard/event"
)

// DefaultValuesLimit caps values() per group, as limits.conf caps
// multivalue output in Splunk; the message says when it cut values.
const DefaultValuesLimit = 1000

// Rule is a compiled detection.
type Rule struct {
	ID          string
	Name        string // the Splunk search_name
	Description string
	Source      string // file the rule came from, or "builtin"

	Filter []Condition
	By     []string // stats by-fields, in SPL order
	// Stats outputs.
	CountAs    string // count [as name]
	MinTimeAs  string // min(_time) as …; "" when absent
	MaxTimeAs  string
	Values     []ValuesSpec
	ValuesCap  int
	Rename     map[string]string // by-field → output name (rename dvc as dest)
	TimeFormat string            // strftime of security_content_ctime
	timeFmt    *strftime.Strftime

	Window Window
	Risk   Risk
	MITRE  []string
	// Numeric marks by-fields compared with a number in the filter
	// (EventCode=855): the risk message writes them as JSON numbers.
	Numeric map[string]bool
}

// ValuesSpec is one values(Field) as As.
type ValuesSpec struct {
	Field string
	As    string
}

// Window is the schedule mapped to event time: tumbling windows of Size
// whose bounds fall at Offset past the epoch-aligned Size grid, final Lag
// after their end (hourly over -70m@m..-10m@m → 60m, 50m, 10m).
type Window struct {
	Size, Offset, Lag time.Duration
}

// Start returns the start of the window holding t (unix nanoseconds),
// flooring correctly for times before the epoch.
func (w Window) Start(t int64) int64 {
	size, off := int64(w.Size), int64(w.Offset)
	d := t - off
	q := d / size
	if d%size != 0 && d < 0 {
		q--
	}
	return q*size + off
}

// Risk describes the risk-based-alerting annotations of the message.
type Risk struct {
	ObjectField      string // output field whose value is the risk object (dest)
	ObjectType       string // system, user, …
	Score            int
	ThreatObjects    []string // output fields whose values are threat objects
	ThreatObjectType string
	Message          string // template with $field$ references
}

// OutputName returns the name a by-field has in the output (after rename).
func (r *Rule) OutputName(field string) string {
	if n, ok := r.Rename[field]; ok {
		return n
	}
	return field
}

// FormatTime renders t as security_content_ctime does, in loc.
func (r *Rule) FormatTime(t time.Time, loc *time.Location) string {
	return r.timeFmt.FormatString(t.In(loc))
}

// Match reports whether ev passes the rule's search filter.
func (r *Rule) Match(ev *event.Event) bool {
	for i := range r.Filter {
		if !r.Filter[i].Holds(ev) {
			return false
		}
	}
	return true
}

// Fields returns every event field the rule reads, so decoders can skip the
// rest.
func (r *Rule) Fields() []string {
	seen := map[string]bool{}
	var out []string
	add := func(f string) {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	for i := range r.Filter {
		r.Filter[i].fields(add)
	}
	for _, b := range r.By {
		add(b)
	}
	for _, v := range r.Values {
		add(v.Field)
	}
	return out
}

// DropReason says why a matching event was not counted.
type DropReason string

// Drop reasons are metric labels.
const (
	DropMissingByField DropReason = "missing_by_field"
	DropOversizedField DropReason = "oversized_field"
)

// Match is what a matching event contributes to its group: everything stats
// needs, nothing else. It is the unit stage 1 writes to the repartition
// topic and stage 2 aggregates.
type Match struct {
	Rule     string          `json:"r"`
	Time     int64           `json:"t"` // unix nanoseconds
	By       []string        `json:"b"`
	Values   [][]string      `json:"v,omitempty"` // parallel to Rule.Values
	Packages []event.Package `json:"p,omitempty"`
}

// Size bounds of a match. Splunk itself cuts events at 10,000 bytes
// (props.conf TRUNCATE), so no real detection depends on longer fields; the
// bounds keep every record msixguard writes (repartition, risk) far below the
// broker's message size limit, so one hostile event cannot block a partition.
const (
	MaxValueBytes      = 16 << 10  // one by-field or values() value
	MaxMatchValueBytes = 256 << 10 // all values() values of one event
)

// Extract builds the Match of an event that passed Match. It fails when a
// by-field is missing or empty (SPL stats drops rows with a null by-field)
// or longer than MaxValueBytes. values() values are cut to MaxValueBytes and
// to MaxMatchValueBytes in all.
func (r *Rule) Extract(ev *event.Event) (Match, DropReason) {
	m := Match{Rule: r.ID, Time: ev.Time.UnixNano(), By: make([]string, len(r.By))}
	for i, f := range r.By {
		v, ok := ev.Value(f)
		if !ok {
			return Match{}, DropMissingByField
		}
		if len(v) > MaxValueBytes {
			return Match{}, DropOversizedField
		}
		m.By[i] = v
	}
	if len(r.Values) > 0 {
		m.Values = make([][]string, len(r.Values))
		budget := MaxMatchValueBytes
		for i, vs := range r.Values {
			for _, v := range ev.Values(vs.Field) {
				if v == "" || budget <= 0 {
					continue
				}
				v = cut(v, min(MaxValueBytes, budget))
				budget -= len(v)
				m.Values[i] = append(m.Values[i], v)
			}
		}
	}
	for _, v := range ev.Values(event.FieldPackageMoniker) {
		m.Packages = append(m.Packages, event.ParsePackages(v)...)
	}
	return m, ""
}

// cut shortens s to at most n bytes without splitting a UTF-8 sequence.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func (r *Rule) String() string { return fmt.Sprintf("%s (%s)", r.ID, r.Source) }
