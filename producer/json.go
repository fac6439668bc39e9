package producer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// MarshalJSON writes the message with the field order of DESIGN.md, so a
// human reading the topic sees the same shape as the contract.
func (e *RiskEvent) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	w := jsonWriter{buf: &buf, enc: json.NewEncoder(&buf)}
	w.enc.SetEscapeHTML(false)
	buf.WriteByte('{')
	w.field("id", e.ID)
	w.field("kind", string(e.Kind))
	w.field("rule_id", e.RuleID)
	w.field("search_name", e.SearchName)
	w.field("window_start", e.WindowStart.UTC().Format(windowTimeLayout))
	w.field("window_end", e.WindowEnd.UTC().Format(windowTimeLayout))
	for _, f := range e.Fields {
		w.field(f.Name, f.Value)
	}
	for _, t := range e.Truncated {
		w.field(t+"_truncated", true)
	}
	w.field("risk_object", e.RiskObject)
	w.field("risk_object_type", e.RiskObjectType)
	w.field("risk_score", e.RiskScore)
	w.field("threat_object", e.ThreatObject)
	w.field("threat_object_type", e.ThreatObjectType)
	w.field("risk_message", e.RiskMessage)
	w.field("mitre_attack", nonNil(e.MITRE))
	if len(e.Packages) > 0 {
		w.field("packages", e.Packages)
		if e.PackagesCut {
			w.field("packages_truncated", true)
		}
	}
	w.field("detected_at", e.DetectedAt.UTC().Format(time.RFC3339Nano))
	buf.WriteByte('}')
	if w.err != nil {
		return nil, fmt.Errorf("encode risk message %s: %w", e.ID, w.err)
	}
	return buf.Bytes(), nil
}

type jsonWriter struct {
	buf *bytes.Buffer
	enc *json.Encoder
	err error
	n   int
}

func (w *jsonWriter) field(name string, v any) {
	if w.err != nil {
		return
	}
	if w.n > 0 {
		w.buf.WriteByte(',')
	}
	w.n++
	w.value(name)
	w.buf.WriteByte(':')
	w.value(v)
}

// value encodes v without HTML escaping and without the encoder's newline.
func (w *jsonWriter) value(v any) {
	if w.err = w.enc.Encode(v); w.err == nil {
		w.buf.Truncate(w.buf.Len() - 1)
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
