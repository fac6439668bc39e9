package producer

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/linkedin/goavro/v2"

	"github.com/msixguard/msixguard/schemas"
)

// AvroEncoder writes risk messages as Avro in the Confluent wire format
// (magic byte, schema id, binary), with the schema in schemas/risk.avsc.
type AvroEncoder struct {
	codec *goavro.Codec
	id    uint32
}

// NewAvroEncoder compiles the schema; id is its id in the operator's
// schema registry.
func NewAvroEncoder(id int) (*AvroEncoder, error) {
	if id < 0 {
		return nil, fmt.Errorf("avro schema id %d must not be negative", id)
	}
	c, err := schemas.RiskCodec()
	if err != nil {
		return nil, err
	}
	return &AvroEncoder{codec: c, id: uint32(id)}, nil
}

// ContentType implements Encoder.
func (*AvroEncoder) ContentType() string { return "application/vnd.msixguard.risk+avro" }

// Encode implements Encoder.
func (a *AvroEncoder) Encode(ev *RiskEvent) ([]byte, error) {
	rec := map[string]any{
		"id": ev.ID, "kind": string(ev.Kind), "rule_id": ev.RuleID, "search_name": ev.SearchName,
		"window_start": ev.WindowStart.UTC().Format(windowTimeLayout), "window_end": ev.WindowEnd.UTC().Format(windowTimeLayout),
		"risk_object": ev.RiskObject, "risk_object_type": ev.RiskObjectType, "risk_score": int32(ev.RiskScore),
		"threat_object": ev.ThreatObject, "threat_object_type": ev.ThreatObjectType, "risk_message": ev.RiskMessage,
		"mitre_attack": nonNil(ev.MITRE), "detected_at": ev.DetectedAt.UTC().Format(time.RFC3339Nano),
	}
	pkgs := make([]any, 0, len(ev.Packages))
	for _, p := range ev.Packages {
		pkgs = append(pkgs, map[string]any{"full_name": p.FullName, "name": p.Name, "version": p.Version,
			"architecture": p.Architecture, "resource_id": p.ResourceID, "publisher_id": p.PublisherID})
	}
	rec["packages"] = pkgs
	extra := map[string]any{}
	for _, f := range ev.Fields {
		switch f.Name {
		case "dest", "user_id", "firstTime", "lastTime":
			if s, ok := f.Value.(string); ok {
				rec[f.Name] = goavro.Union("string", s)
				continue
			}
		case "EventCode", "count":
			if n, ok := f.Value.(int64); ok {
				rec[f.Name] = goavro.Union("long", n)
				continue
			}
		case "PackageMoniker":
			if v, ok := f.Value.([]string); ok {
				rec[f.Name] = goavro.Union("array", v)
				continue
			}
		}
		b, err := json.Marshal(f.Value)
		if err != nil {
			return nil, fmt.Errorf("encode field %s: %w", f.Name, err)
		}
		extra[f.Name] = string(b)
	}
	for _, t := range ev.Truncated {
		if t == "PackageMoniker" {
			rec["PackageMoniker_truncated"] = true
		} else {
			extra[t+"_truncated"] = "true"
		}
	}
	rec["fields"] = extra
	out, err := schemas.EncodeConfluent(a.codec, a.id, rec)
	if err != nil {
		return nil, fmt.Errorf("encode risk message %s as avro: %w", ev.ID, err)
	}
	return out, nil
}
