package producer

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/msixguard/msixguard/aggregate"
	"github.com/msixguard/msixguard/event"
)

// Field is one output field of a risk message whose name comes from the
// rule (by-fields after rename, stats outputs). Value is a string, an int64
// or a []string.
type Field struct {
	Name  string
	Value any
}

// RiskEvent is one risk message: one per (rule, window, group) and kind.
type RiskEvent struct {
	ID               string
	Kind             aggregate.Kind
	RuleID           string
	SearchName       string
	WindowStart      time.Time
	WindowEnd        time.Time
	Fields           []Field
	Truncated        []string // values() outputs the cap cut
	RiskObject       string
	RiskObjectType   string
	RiskScore        int
	ThreatObject     []string
	ThreatObjectType string
	RiskMessage      string
	MITRE            []string
	Packages         []event.Package
	PackagesCut      bool
	DetectedAt       time.Time
}

// windowTimeLayout is how window bounds are written, always in UTC, and how
// they enter the id hash.
const windowTimeLayout = "2006-01-02T15:04:05Z"

// ID is the message id of DESIGN.md: the first 32 hex characters of
// sha256(rule_id|window_start|by values…). It depends only on the rule, the
// window and the group, so every repeat of a message (early, final, late, a
// replay after a crash) carries the same id and consumers can drop duplicates.
func ID(ruleID string, windowStart time.Time, by []string) string {
	h := sha256.New()
	h.Write([]byte(ruleID))
	h.Write([]byte{'|'})
	h.Write([]byte(windowStart.UTC().Format(windowTimeLayout)))
	for _, v := range by {
		h.Write([]byte{'|'})
		h.Write([]byte(v))
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// MaxValuesBytes bounds the values() output of one message (they appear
// three times: the field, threat_object and risk_message), keeping the
// message well below the broker's 1 MB default; values past it are cut, in
// byte order, and flagged <field>_truncated like the count cap.
const MaxValuesBytes = 128 << 10

// Build turns an aggregate result into a risk message. loc is the zone of
// firstTime/lastTime (security_content_ctime); detectedAt is processing time.
func Build(res aggregate.Result, loc *time.Location, detectedAt time.Time) *RiskEvent {
	g := &res.Group
	r := g.Rule
	ev := &RiskEvent{
		Kind: res.Kind, RuleID: r.ID, SearchName: r.Name,
		WindowStart: time.Unix(0, g.WindowStart).UTC(), WindowEnd: time.Unix(0, g.WindowEnd()).UTC(),
		RiskObjectType: r.Risk.ObjectType, RiskScore: r.Risk.Score, ThreatObjectType: r.Risk.ThreatObjectType,
		MITRE: r.MITRE, Packages: g.Packages, PackagesCut: g.PackagesCut, DetectedAt: detectedAt.UTC(),
	}
	by := make([]string, len(g.By))
	for i, f := range r.By {
		by[i] = g.By[i]
		var v any = g.By[i]
		if r.Numeric[f] {
			if n, err := strconv.ParseInt(g.By[i], 10, 64); err == nil {
				v = n
				by[i] = strconv.FormatInt(n, 10)
			}
		}
		ev.Fields = append(ev.Fields, Field{Name: r.OutputName(f), Value: v})
	}
	ev.ID = ID(r.ID, ev.WindowStart, by)
	ev.Fields = append(ev.Fields, Field{Name: r.CountAs, Value: g.Count})
	if r.MinTimeAs != "" {
		ev.Fields = append(ev.Fields, Field{Name: r.MinTimeAs, Value: r.FormatTime(time.Unix(0, g.First), loc)})
	}
	if r.MaxTimeAs != "" {
		ev.Fields = append(ev.Fields, Field{Name: r.MaxTimeAs, Value: r.FormatTime(time.Unix(0, g.Last), loc)})
	}
	budget := MaxValuesBytes
	for i, vs := range r.Values {
		vals := []string{}
		cut := g.Truncated[i]
		for _, v := range g.Values[i] {
			if len(v) > budget {
				cut = true
				break
			}
			budget -= len(v)
			vals = append(vals, v)
		}
		ev.Fields = append(ev.Fields, Field{Name: vs.As, Value: vals})
		if cut {
			ev.Truncated = append(ev.Truncated, vs.As)
		}
	}
	ev.RiskObject = strings.Join(ev.Get(r.Risk.ObjectField), ", ")
	ev.ThreatObject = []string{}
	for _, t := range r.Risk.ThreatObjects {
		ev.ThreatObject = append(ev.ThreatObject, ev.Get(t)...)
	}
	ev.RiskMessage = Render(r.Risk.Message, ev.Get)
	return ev
}

// Get returns the values of an output field as strings (nil when absent).
func (e *RiskEvent) Get(name string) []string {
	for _, f := range e.Fields {
		if f.Name != name {
			continue
		}
		switch v := f.Value.(type) {
		case string:
			return []string{v}
		case int64:
			return []string{strconv.FormatInt(v, 10)}
		case []string:
			return v
		}
	}
	return nil
}

// Key is the Kafka record key of the message: the risk object (dest), so
// every message about one host lands on one partition, in order.
func (e *RiskEvent) Key() []byte { return []byte(e.RiskObject) }

// Render fills a $field$ template as Splunk's risk message does; several
// values are joined with ", ", a missing field renders empty, and "$$" is a
// literal dollar sign.
func Render(tmpl string, get func(string) []string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(tmpl, '$')
		if i < 0 {
			b.WriteString(tmpl)
			return b.String()
		}
		j := strings.IndexByte(tmpl[i+1:], '$')
		if j < 0 {
			b.WriteString(tmpl)
			return b.String()
		}
		b.WriteString(tmpl[:i])
		name := tmpl[i+1 : i+1+j]
		if name == "" {
			b.WriteByte('$')
		} else {
			b.WriteString(strings.Join(get(name), ", "))
		}
		tmpl = tmpl[i+2+j:]
	}
}
