package producer

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/msixguard/msixguard/aggregate"
	"github.com/msixguard/msixguard/metrics"
	"github.com/msixguard/msixguard/rules"
	"github.com/msixguard/msixguard/schemas"
)

func seedRule(t *testing.T) *rules.Rule {
	t.Helper()
	rs, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	return rs[0]
}

func TestIDMatchesContract(t *testing.T) {
	// Value from the contract: sha256("windows_developer_signed_msix_package_installation|2024-05-01T10:50:00Z|WS-0142|855|S-1-5-21-…-1104")[:32].
	got := ID(rules.SeedRuleID, time.Date(2024, 5, 1, 10, 50, 0, 0, time.UTC),
		[]string{"WS-0142", "855", "S-1-5-21-2568234075-4274264167-1034506908-1104"})
	if got != "cf60d0060e7be5f55dbec635fc177970" {
		t.Fatalf("id = %s", got)
	}
}

func TestRender(t *testing.T) {
	get := func(f string) []string {
		return map[string][]string{"a": {"x", "y"}, "b": {"z"}}[f]
	}
	cases := map[string]string{
		`"$a$" on $b$.`: `"x, y" on z.`,
		`$missing$!`:    `!`,
		`cost $$5`:      `cost $5`,
		`open $a`:       `open $a`,
		`no refs`:       `no refs`,
	}
	for tmpl, want := range cases {
		if got := Render(tmpl, get); got != want {
			t.Errorf("Render(%q) = %q, want %q", tmpl, got, want)
		}
	}
}

func group(r *rules.Rule, start time.Time, count int64, first, last time.Time, values ...string) aggregate.Result {
	return aggregate.Result{Kind: aggregate.KindFinal, Group: aggregate.Group{
		Rule: r, WindowStart: start.UnixNano(), By: []string{"WS-0142", "855", "S-1-5-21-1"},
		Count: count, First: first.UnixNano(), Last: last.UnixNano(),
		Values: [][]string{values}, Truncated: []bool{false},
	}}
}

func TestBuildJSON(t *testing.T) {
	r := seedRule(t)
	start := time.Date(2024, 5, 1, 10, 50, 0, 0, time.UTC)
	res := group(r, start, 2, start.Add(67*time.Second+500*time.Millisecond), start.Add(12*time.Minute), "B<&>", "A")
	res.Group.Truncated[0] = true
	ev := Build(res, time.UTC, time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC))
	b, err := ev.MarshalJSON() // json.Marshal would re-escape <, &, >
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{
		`"kind":"final"`, `"window_start":"2024-05-01T10:50:00Z"`, `"window_end":"2024-05-01T11:50:00Z"`,
		`"dest":"WS-0142","EventCode":855,"user_id":"S-1-5-21-1","count":2`,
		`"firstTime":"2024-05-01T10:51:07","lastTime":"2024-05-01T11:02:00"`,
		`"PackageMoniker":["B<&>","A"]`, `"PackageMoniker_truncated":true`,
		`"risk_object":"WS-0142","risk_object_type":"system","risk_score":40`,
		`"risk_message":"A developer-signed MSIX package \"B<&>, A\" was installed on WS-0142 by user S-1-5-21-1."`,
		`"mitre_attack":["T1553.005","T1204.002"]`, `"detected_at":"2024-05-01T12:00:00Z"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("JSON lacks %s\n%s", want, s)
		}
	}
	if !strings.HasPrefix(s, `{"id":"`) || strings.Index(s, `"kind"`) > strings.Index(s, `"rule_id"`) {
		t.Errorf("field order differs from the contract: %s", s)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("not valid JSON: %v", err)
	}
}

func TestBuildEmptyValues(t *testing.T) {
	r := seedRule(t)
	start := time.Date(2024, 5, 1, 10, 50, 0, 0, time.UTC)
	ev := Build(group(r, start, 1, start, start), time.UTC, start)
	b, _ := ev.MarshalJSON()
	if !strings.Contains(string(b), `"PackageMoniker":[]`) || !strings.Contains(string(b), `"threat_object":[]`) ||
		!strings.Contains(string(b), `package \"\" was installed`) {
		t.Fatalf("empty values render wrong: %s", b)
	}
}

func TestEmitterKindsAndTuning(t *testing.T) {
	r := seedRule(t)
	start := time.Date(2024, 5, 1, 10, 50, 0, 0, time.UTC)
	al, err := rules.ParseAllowlist("t", []byte("allow:\n  - reason: lab host\n    match: {dest: ws-*}\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.NewUnregistered()
	now := func() time.Time { return start }
	em := &Emitter{Kinds: map[aggregate.Kind]bool{aggregate.KindFinal: true}, Now: now, Metrics: m}
	late := group(r, start, 1, start, start)
	late.Kind = aggregate.KindLate
	out := em.Messages([]aggregate.Result{group(r, start, 1, start, start), late})
	if len(out) != 1 || out[0].Kind != aggregate.KindFinal || metrics.Sum(m.LateEvents) != 1 {
		t.Fatalf("got %d messages, late counted %v", len(out), metrics.Sum(m.LateEvents))
	}
	em.Allow = al
	if out := em.Messages([]aggregate.Result{group(r, start, 1, start, start)}); len(out) != 0 || metrics.Sum(m.Suppressed) != 1 {
		t.Fatalf("allowlisted group emitted")
	}
}

func TestParseKinds(t *testing.T) {
	k, err := ParseKinds(" early, final ")
	if err != nil || !k[aggregate.KindEarly] || !k[aggregate.KindFinal] || k[aggregate.KindLate] {
		t.Fatalf("%v %v", k, err)
	}
	for _, bad := range []string{"", "soon", "final,,x"} {
		if _, err := ParseKinds(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestAvroRoundTrip(t *testing.T) {
	r := seedRule(t)
	start := time.Date(2024, 5, 1, 10, 50, 0, 0, time.UTC)
	ev := Build(group(r, start, 3, start, start.Add(time.Minute), "A", "B"), time.UTC, start)
	enc, err := NewEncoder("avro", 7)
	if err != nil {
		t.Fatal(err)
	}
	b, err := enc.Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != 0 || b[4] != 7 {
		t.Fatalf("not Confluent framing with id 7: % x", b[:5])
	}
	codec, _ := schemas.RiskCodec()
	native, _, err := codec.NativeFromBinary(b[5:])
	if err != nil {
		t.Fatal(err)
	}
	m := native.(map[string]any)
	if m["id"] != ev.ID || m["count"].(map[string]any)["long"] != int64(3) || m["dest"].(map[string]any)["string"] != "WS-0142" {
		t.Fatalf("decoded %v", m)
	}
}

func TestBuildBoundsMessageSize(t *testing.T) {
	r := seedRule(t)
	start := time.Date(2024, 5, 1, 10, 50, 0, 0, time.UTC)
	var vals []string
	for i := 0; i < 100; i++ {
		vals = append(vals, fmt.Sprintf("%03d%s", i, strings.Repeat("x", 16<<10-3)))
	}
	ev := Build(group(r, start, 100, start, start, vals...), time.UTC, start)
	b, err := ev.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 3*MaxValuesBytes+4096 || len(ev.Truncated) != 1 {
		t.Fatalf("message of %d bytes, truncated %v", len(b), ev.Truncated)
	}
	if got := ev.Get("PackageMoniker"); len(got) == 0 || got[0] != vals[0] {
		t.Fatal("kept values are not the first ones in order")
	}
}
