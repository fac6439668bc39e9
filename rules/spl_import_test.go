package rules

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const scDir = "packs/testdata/security_content"

// semantics is everything of a rule that decides its risk messages: two
// rules with equal semantics give identical check output. Description and
// Source are left out.
func semantics(r *Rule) string {
	var b strings.Builder
	fmt.Fprintf(&b, "id=%s name=%s\n", r.ID, r.Name)
	for _, c := range r.Filter {
		fmt.Fprintf(&b, "filter %s %s %q\n", c.Field, c.Op, c.Values)
	}
	fmt.Fprintf(&b, "by=%q count=%s min=%s max=%s values=%v cap=%d rename=%v tf=%s\n",
		r.By, r.CountAs, r.MinTimeAs, r.MaxTimeAs, r.Values, r.ValuesCap, r.Rename, r.TimeFormat)
	fmt.Fprintf(&b, "window=%+v risk=%+v mitre=%v numeric=%v\n", r.Window, r.Risk, r.MITRE, r.Numeric)
	return b.String()
}

func importFile(t *testing.T, path string, o ImportOptions) *Imported {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	im, err := ImportDetection(path, data, o)
	if err != nil {
		t.Fatal(err)
	}
	return im
}

// TestImportSeedDetection: the real security_content YAML of the seed
// detection compiles to the built-in rule.
func TestImportSeedDetection(t *testing.T) {
	im := importFile(t, filepath.Join(scDir, "windows_developer_signed_msix_package_installation.yml"), ImportOptions{})
	if got, want := semantics(im.Rule), semantics(seed(t)); got != want {
		t.Fatalf("imported:\n%s\nbuilt-in:\n%s\nYAML:\n%s", got, want, im.YAML)
	}
	if im.ID != SeedRuleID {
		t.Fatalf("id %s", im.ID)
	}
	// The emitted file is the rule format: it loads as a rule file and says
	// where the filter macro went.
	for _, want := range []string{"spl: |", "`windows_developer_signed_msix_package_installation_filter`: the tuning file", "window 60m, offset 50m, lag 10m"} {
		if !strings.Contains(string(im.YAML), want) {
			t.Errorf("YAML lacks %q:\n%s", want, im.YAML)
		}
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "r.yml")
	if err := os.WriteFile(p, im.YAML, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := LoadFile(p)
	if err != nil || semantics(r) != semantics(im.Rule) {
		t.Fatalf("reloaded rule differs: %v", err)
	}
}

// TestImportDesignSPL: a detection carrying the SPL exactly as DESIGN.md
// writes it (line breaks, spaces after commas) compiles to the same rule.
func TestImportDesignSPL(t *testing.T) {
	doc := map[string]any{
		"name": "Windows Developer-Signed MSIX Package Installation", "id": "2c0427aa-982c-4e97-bc33-bddeda4fd095",
		"type": "Anomaly", "search": seedSPL,
		"rba": map[string]any{
			"message":        `A developer-signed MSIX package "$PackageMoniker$" was installed on $dest$ by user $user_id$.`,
			"risk_objects":   []any{map[string]any{"field": "dest", "type": "system", "score": 40}},
			"threat_objects": []any{map[string]any{"field": "PackageMoniker", "type": "file_name"}},
		},
		"tags": map[string]any{"mitre_attack_id": []string{"T1553.005", "T1204.002"}},
		"deployment": map[string]any{"scheduling": map[string]any{
			"cron_schedule": "0 * * * *", "earliest_time": "-70m@m", "latest_time": "-10m@m"}},
	}
	data, _ := yaml.Marshal(doc)
	im, err := ImportDetection("design.yml", data, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := semantics(im.Rule), semantics(seed(t)); got != want {
		t.Fatalf("imported:\n%s\nbuilt-in:\n%s", got, want)
	}
	if !strings.Contains(string(im.YAML), "Schedule (the detection)") {
		t.Fatalf("schedule source not noted:\n%s", im.YAML)
	}
}

// v4 is a detection in contentctl v4 form (risk in tags).
const v4 = `name: Windows Developer-Signed MSIX Package Installation
id: 2c0427aa-982c-4e97-bc33-bddeda4fd095
type: Anomaly
search: '` + "`wineventlog_appxdeploymentserver`" + ` EventCode=855 NOT PackageMoniker IN ("*8wekyb3d8bbwe*","*cw5n1h2txyewy*")
  | stats count min(_time) as firstTime max(_time) as lastTime values(PackageMoniker) as PackageMoniker by dvc EventCode user_id
  | rename dvc as dest | ` + "`security_content_ctime(firstTime)` | `security_content_ctime(lastTime)`" + `'
tags:
  mitre_attack_id: [T1553.005, T1204.002]
  message: A developer-signed MSIX package "$PackageMoniker$" was installed on $dest$ by user $user_id$.
  observable:
  - name: dest
    type: Hostname
    role: [Victim]
  - name: PackageMoniker
    type: File Name
    role: [Attacker]
`

func TestImportV4Tags(t *testing.T) {
	for _, score := range []string{"  risk_score: 40\n", "  confidence: 80\n  impact: 50\n"} {
		im, err := ImportDetection("v4.yml", []byte(v4+score), ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := semantics(im.Rule), semantics(seed(t)); got != want {
			t.Fatalf("%s: imported:\n%s\nbuilt-in:\n%s", score, got, want)
		}
	}
}

func TestImportScheduleOptions(t *testing.T) {
	im := importFile(t, filepath.Join(scDir, "windows_appx_deployment_package_installation_success.yml"),
		ImportOptions{Schedule: Schedule{Cron: "*/15 * * * *", Earliest: "-20m@m", Latest: "-5m@m"}})
	if w := im.Rule.Window; w != (Window{Size: 15 * 60e9, Offset: 10 * 60e9, Lag: 5 * 60e9}) {
		t.Fatalf("window %+v", w)
	}
	if !strings.Contains(string(im.YAML), "Schedule (import options)") {
		t.Fatalf("%s", im.YAML)
	}
}

func TestImportHuntingNeedsRBA(t *testing.T) {
	p := filepath.Join(scDir, "windows_appx_deployment_full_trust_package_installation.yml")
	data, _ := os.ReadFile(p)
	_, err := ImportDetection(p, data, ImportOptions{})
	var ie *ImportError
	if !errors.As(err, &ie) || ie.Key != "rba" || !strings.Contains(err.Error(), "a Hunting search writes no risk events") || !strings.Contains(err.Error(), "--rba FILE") {
		t.Fatalf("got %v", err)
	}
	rbaData, _ := os.ReadFile(filepath.Join(scDir, "rba_full_trust.yml"))
	rba, err := ParseRBA("rba.yml", rbaData)
	if err != nil {
		t.Fatal(err)
	}
	im, err := ImportDetection(p, data, ImportOptions{RBA: rba})
	if err != nil {
		t.Fatal(err)
	}
	if im.Rule.Risk.Score != 15 || !reflect.DeepEqual(im.Rule.By, []string{"dvc", "EventCode", "HasFullTrust", "user_id"}) {
		t.Fatalf("%+v", im.Rule)
	}
}

func TestImportRejects(t *testing.T) {
	base := func(search, rest string) string {
		return "name: T\ntype: TTP\nsearch: '" + search + "'\n" + rest
	}
	rba := "rba:\n  message: m $dest$\n  risk_objects:\n  - {field: dest, type: system, score: 5}\n"
	ok := "EventCode=1 | stats count by dvc | rename dvc as dest"
	cases := []struct {
		name, yml, want string
	}{
		{"not a detection", "foo: bar\n", "d.yml: name: missing"},
		{"no search", "name: T\n", "d.yml: search: missing"},
		{"baseline", "name: T\ntype: Baseline\nsearch: x\n", "d.yml: type: Baseline searches are not supported"},
		{"SPL error", base("EventCode=1 | eval x=1 | stats count by dvc", rba), `d.yml: search: SPL byte 14: "eval x=1": command "eval" is not supported`},
		{"two risk objects", base(ok, "rba:\n  message: m\n  risk_objects:\n  - {field: dest, type: system, score: 5}\n  - {field: user, type: user, score: 5}\n"), "d.yml: rba: risk_objects has 2 entries (dest, user): msixguard writes exactly one risk object"},
		{"two threat types", base(ok, rba+"  threat_objects:\n  - {field: dest, type: file_name}\n  - {field: count, type: process}\n"), "threat_objects of different types (file_name, process)"},
		{"two victims", base(ok, "tags:\n  message: m\n  risk_score: 5\n  observable:\n  - {name: dest, type: Hostname, role: [Victim]}\n  - {name: user, type: User, role: [Victim]}\n"), "tags.observable has 2 Victim observables (dest, user)"},
		{"v4 without score", base(ok, "tags:\n  message: m\n  observable:\n  - {name: dest, type: Hostname, role: [Victim]}\n"), "tags has no risk_score"},
		{"no risk", base(ok, ""), "d.yml: rba: the detection has no risk annotations"},
		{"message names a missing field", base(ok, "rba:\n  message: m $nope$\n  risk_objects:\n  - {field: dest, type: system, score: 5}\n"), "d.yml: the compiled rule is invalid: risk.message: $nope$ is not an output field"},
		{"risk object not an output", base(ok, "rba:\n  message: m\n  risk_objects:\n  - {field: user, type: user, score: 5}\n"), `risk.object "user" must name an output field`},
		{"schedule", base(ok, rba+"deployment:\n  scheduling:\n    cron_schedule: 0 * * * *\n    earliest_time: -24h\n    latest_time: now\n"), "d.yml: schedule: the range -24h..now spans 24h0m0s but the cron runs every 1h0m0s"},
		{"name without letters", "name: '---'\ntype: TTP\nsearch: '" + ok + "'\n" + rba, "gives no usable rule id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ImportDetection("d.yml", []byte(c.yml), ImportOptions{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v\nwant …%s…", err, c.want)
			}
		})
	}
}

func TestParseRBA(t *testing.T) {
	for _, in := range []string{
		"rba:\n  message: m\n  risk_objects: [{field: dest, type: system, score: 3}]\n",
		"message: m\nrisk_objects: [{field: dest, type: system, score: 3}]\n",
	} {
		r, err := ParseRBA("r.yml", []byte(in))
		if err != nil || r.Message != "m" || r.RiskObjects[0].Score != 3 {
			t.Fatalf("%q: %+v %v", in, r, err)
		}
	}
	if _, err := ParseRBA("r.yml", []byte("message: m\n")); err == nil {
		t.Fatal("rba without risk objects accepted")
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"Windows Developer-Signed MSIX Package Installation":      "windows_developer_signed_msix_package_installation",
		"Windows AppX Deployment Full Trust Package Installation": "windows_appx_deployment_full_trust_package_installation",
		"  O365 -- Mailbox (Read) ":                               "o365_mailbox_read",
	} {
		if got := Slug(in); got != want {
			t.Errorf("Slug(%q) = %q, want %q", in, got, want)
		}
	}
}
