package rules_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/msixguard/msixguard/consumer"
	"github.com/msixguard/msixguard/event"
	"github.com/msixguard/msixguard/pipeline"
	"github.com/msixguard/msixguard/rules"
)

const (
	fullTrustID = "windows_appx_deployment_full_trust_package_installation"
	unsignedID  = "windows_appx_deployment_unsigned_package_installation"
	successID   = "windows_appx_deployment_package_installation_success"
)

func ids(set *rules.Set) string {
	var out []string
	for _, r := range set.Rules {
		out = append(out, r.ID)
	}
	return strings.Join(out, " ")
}

// TestDefaultRulesAreTheSeed: packs are opt-in; without --rules the
// process runs the seed rule alone (the conformance vectors expect only it).
func TestDefaultRulesAreTheSeed(t *testing.T) {
	set, err := pipeline.LoadRules(nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(set); got != rules.SeedRuleID {
		t.Fatalf("default rules: %s", got)
	}
}

func TestLoadRulesPack(t *testing.T) {
	want := rules.SeedRuleID + " " + fullTrustID + " " + successID + " " + unsignedID
	for _, c := range []struct {
		name      string
		paths     []string
		noBuiltin bool
	}{
		{"pack", []string{"pack:appx"}, false},
		{"pack without builtins still has the seed it includes", []string{"pack:appx"}, true},
		{"pack twice", []string{"pack:appx", "pack:appx"}, false},
	} {
		set, err := pipeline.LoadRules(c.paths, c.noBuiltin)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := ids(set); got != want {
			t.Fatalf("%s: rules %s", c.name, got)
		}
	}
	// A rule file replaces the pack rule of the same id.
	pack, err := rules.Pack("appx")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("packs/appx/" + unsignedID + ".yml")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "mine.yml")
	os.WriteFile(file, bytes.Replace(data, []byte("score: 65"), []byte("score: 90"), 1), 0o644)
	set, err := pipeline.LoadRules([]string{"pack:appx", file}, false)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := set.Rule(unsignedID)
	if r.Risk.Score != 90 || r.Source != file || len(set.Rules) != len(pack) {
		t.Fatalf("override: %d rules, %s score %d", len(set.Rules), r.Source, r.Risk.Score)
	}
	if _, err := pipeline.LoadRules([]string{"pack:nope"}, false); err == nil || !strings.Contains(err.Error(), `no rule pack "nope" (packs: appx)`) {
		t.Fatalf("unknown pack: %v", err)
	}
}

func TestPacks(t *testing.T) {
	ps, err := rules.Packs()
	if err != nil || len(ps) != 1 || ps[0].Name != "appx" || len(ps[0].Files) != 3 || ps[0].Builtin[0] != rules.SeedRuleID {
		t.Fatalf("%+v %v", ps, err)
	}
	rs, err := rules.Pack("appx")
	if err != nil {
		t.Fatal(err)
	}
	if rs[0].Source != "builtin" || rs[1].Source != "pack:appx/"+fullTrustID+".yml" {
		t.Fatalf("sources %s, %s", rs[0].Source, rs[1].Source)
	}
}

func mkev(fields ...string) *event.Event {
	e := &event.Event{Time: time.Date(2024, 6, 3, 11, 0, 0, 0, time.UTC)}
	for i := 0; i+1 < len(fields); i += 2 {
		e.Add(fields[i], fields[i+1])
	}
	return e
}

// TestPackRulesMatch: the search filter and by-fields of each pack rule,
// case by case, with SPL semantics.
func TestPackRulesMatch(t *testing.T) {
	set, err := pipeline.LoadRules([]string{"pack:appx"}, false)
	if err != nil {
		t.Fatal(err)
	}
	host := []string{"dvc", "WS-1", "user_id", "S-1-5-21-1-2-3-1001"}
	with := func(fs ...string) *event.Event { return mkev(append(append([]string{}, host...), fs...)...) }
	cases := []struct {
		rule, name string
		ev         *event.Event
		match      bool
		drop       bool
	}{
		{fullTrustID, "full trust", with("EventCode", "400", "HasFullTrust", "true"), true, false},
		{fullTrustID, "full trust, capitalized (case-insensitive)", with("EventCode", "400", "HasFullTrust", "TRUE"), true, false},
		{fullTrustID, "EventCode as 400.0", with("EventCode", "400.0", "HasFullTrust", "true"), true, false},
		{fullTrustID, "not full trust", with("EventCode", "400", "HasFullTrust", "false"), false, false},
		{fullTrustID, "HasFullTrust missing", with("EventCode", "400"), false, false},
		{fullTrustID, "HasFullTrust empty", with("EventCode", "400", "HasFullTrust", ""), false, false},
		{fullTrustID, "HasFullTrust 1 is not true", with("EventCode", "400", "HasFullTrust", "1"), false, false},
		{fullTrustID, "other event", with("EventCode", "401", "HasFullTrust", "true"), false, false},
		{fullTrustID, "multivalue with one true", with("EventCode", "400", "HasFullTrust", "false", "HasFullTrust", "true"), true, false},
		{fullTrustID, "Store package is not excluded", with("EventCode", "400", "HasFullTrust", "true", "PackageFullName", "Microsoft.X_1.0.0.0_x64__8wekyb3d8bbwe"), true, false},
		{fullTrustID, "no dvc: not counted", mkev("EventCode", "400", "HasFullTrust", "true", "user_id", "U"), true, true},
		{unsignedID, "AllowUnsigned", with("EventCode", "603", "Flags", "8388608"), true, false},
		{unsignedID, "Flags with spaces", with("EventCode", "603", "Flags", " 8388608 "), true, false},
		{unsignedID, "Flags 0", with("EventCode", "603", "Flags", "0"), false, false},
		{unsignedID, "other bits too (equality, as the SPL)", with("EventCode", "603", "Flags", "8388609"), false, false},
		{unsignedID, "hex spelling", with("EventCode", "603", "Flags", "0x800000"), false, false},
		{unsignedID, "Flags missing", with("EventCode", "603"), false, false},
		{unsignedID, "other event", with("EventCode", "604", "Flags", "8388608"), false, false},
		{unsignedID, "no user: not counted", mkev("EventCode", "603", "Flags", "8388608", "dvc", "H"), true, true},
		{unsignedID, "Flags is a by-field", mkev("EventCode", "603", "Flags", "8388608", "dvc", "H", "user_id", "U"), true, false},
		{successID, "success", with("EventCode", "854"), true, false},
		{successID, "success with Path", with("EventCode", "854", "Path", "file:///C:/x.msix"), true, false},
		{successID, "EventCode as string", with("EventCode", " 854"), true, false},
		{successID, "other event", with("EventCode", "8540"), false, false},
		{successID, "no dvc: not counted", mkev("EventCode", "854", "user_id", "U"), true, true},
		{rules.SeedRuleID, "seed: developer-signed", with("EventCode", "855", "PackageMoniker", "A_1.0.0.0_x64__z0p5db6dqbn1q"), true, false},
		{rules.SeedRuleID, "seed: Store", with("EventCode", "855", "PackageMoniker", "A_1.0.0.0_x64__8wekyb3d8bbwe"), false, false},
	}
	for _, c := range cases {
		t.Run(c.rule+"/"+c.name, func(t *testing.T) {
			var matched []string
			drop := false
			set.Detect(c.ev, func(r *rules.Rule, m rules.Match, d rules.DropReason) {
				matched = append(matched, r.ID)
				if r.ID == c.rule {
					drop = d != ""
					if d == "" && len(m.By) != len(r.By) {
						t.Fatalf("by %v", m.By)
					}
				}
			})
			got := false
			for _, id := range matched {
				got = got || id == c.rule
			}
			if got != c.match || drop != c.drop {
				t.Fatalf("matched %v (drop %v), want match=%v drop=%v", matched, drop, c.match, c.drop)
			}
			// An event matches at most one rule of the pack: they read
			// different event codes.
			if len(matched) > 1 {
				t.Fatalf("several rules matched: %v", matched)
			}
		})
	}
}

// TestPackConformance runs every case of packs/testdata/appx, in every input
// form it has, through check's code path with the whole pack and compares
// with expected.ndjson (hand-reasoned, see make_vectors.py).
func TestPackConformance(t *testing.T) {
	set, err := pipeline.LoadRules([]string{"pack:appx"}, false)
	if err != nil {
		t.Fatal(err)
	}
	cases, _ := filepath.Glob("packs/testdata/appx/*/expected.ndjson")
	if len(cases) < 5 {
		t.Fatalf("found %d cases", len(cases))
	}
	fired := map[string]int{}
	for _, exp := range cases {
		dir := filepath.Dir(exp)
		want, _ := os.ReadFile(exp)
		for _, id := range []string{rules.SeedRuleID, fullTrustID, unsignedID, successID} {
			fired[id] += bytes.Count(want, []byte(`"rule_id": "`+id+`"`))
		}
		for _, form := range conformanceForms {
			in := filepath.Join(dir, form.file)
			if _, err := os.Stat(in); err != nil {
				continue
			}
			t.Run(filepath.Base(dir)+"/"+form.file+"/"+string(form.format), func(t *testing.T) {
				got := checkOutput(t, set, form.format, in)
				missing, extra, err := pipeline.DiffMessages(want, got)
				if err != nil {
					t.Fatal(err)
				}
				if len(missing)+len(extra) > 0 {
					t.Fatalf("missing:\n%s\nunexpected:\n%s", strings.Join(missing, "\n"), strings.Join(extra, "\n"))
				}
			})
		}
	}
	for id, n := range fired {
		if n == 0 {
			t.Errorf("rule %s is never expected to fire over the vectors", id)
		}
	}
}

// TestPackUpstreamXML: the real XmlWinEventLog samples, as they are. The
// decoder keeps EventData names (HasFullTrust, Path, …), so the full-trust
// rule sees HasFullTrust=false on the real 400 and does not fire; the 855
// names Store packages only. With HasFullTrust switched to true, the same
// record fires the full-trust rule with the real values.
func TestPackUpstreamXML(t *testing.T) {
	set, err := pipeline.LoadRules([]string{"pack:appx"}, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{
		"packs/testdata/upstream/security_content_data_sources_appxdeployment_server_400_example_log.xml",
		"packs/testdata/upstream/security_content_data_sources_appxdeployment_server_855_example_log.xml",
	} {
		if out := checkOutput(t, set, "xml", f); len(out) != 0 {
			t.Fatalf("%s: %s", f, out)
		}
	}
	raw, err := os.ReadFile("packs/testdata/upstream/security_content_data_sources_appxdeployment_server_400_example_log.xml")
	if err != nil {
		t.Fatal(err)
	}
	dec, err := consumer.NewDecoder("xml", consumer.DecoderOptions{Fields: set.Fields()})
	if err != nil {
		t.Fatal(err)
	}
	var ev event.Event
	if err := dec.Decode(bytes.Replace(raw, []byte("<Data Name='HasFullTrust'>false"), []byte("<Data Name='HasFullTrust'>true"), 1), &ev); err != nil {
		t.Fatal(err)
	}
	n := 0
	set.Detect(&ev, func(r *rules.Rule, m rules.Match, d rules.DropReason) {
		n++
		want := []string{"HaagMSIX", "400", "true", "S-1-5-21-2568234075-4274264167-1034506908-500"}
		if r.ID != fullTrustID || d != "" || strings.Join(m.By, "|") != strings.Join(want, "|") {
			t.Fatalf("%s %v %q", r.ID, m.By, d)
		}
		if got := m.Values[0]; len(got) != 1 || got[0] != "Microsoft.DesktopAppInstaller_2025.717.1857.0_neutral_~_8wekyb3d8bbwe" {
			t.Fatalf("PackageFullName %q", got)
		}
		if got := m.Values[1]; len(got) != 1 || got[0] != " (AppxBundleManifest.xml) " {
			t.Fatalf("Path %q", got)
		}
	})
	if n != 1 {
		t.Fatalf("%d rules fired", n)
	}
}
