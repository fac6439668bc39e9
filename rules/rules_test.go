package rules

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/msixguard/msixguard/event"
)

func seed(t *testing.T) *Rule {
	t.Helper()
	rs, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.ID == SeedRuleID {
			return r
		}
	}
	t.Fatal("seed rule not built in")
	return nil
}

func ev(fields ...string) *event.Event {
	e := &event.Event{Time: time.Date(2024, 5, 1, 11, 0, 0, 0, time.UTC)}
	for i := 0; i+1 < len(fields); i += 2 {
		e.Add(fields[i], fields[i+1])
	}
	return e
}

var matchCases = []struct {
	name string
	ev   *event.Event
	want bool
}{
	{"developer-signed package", ev("EventCode", "855", "PackageMoniker", " addPackageList: Contoso.App_1.0.0.0_x64__z0p5db6dqbn1q"), true},
	{"store publisher excluded", ev("EventCode", "855", "PackageMoniker", " addPackageList: Microsoft.DesktopAppInstaller_1.26.430.0_x64__8wekyb3d8bbwe"), false},
	{"system publisher excluded", ev("EventCode", "855", "PackageMoniker", "MicrosoftWindows.Client_1.0.0.0_x64__cw5n1h2txyewy"), false},
	{"store id upper case excluded (case-insensitive)", ev("EventCode", "855", "PackageMoniker", "Contoso.App_1.0.0.0_x64__8WEKYB3D8BBWE"), false},
	{"store id mixed case excluded", ev("EventCode", "855", "PackageMoniker", "x_8WekYB3d8bBwe_y"), false},
	{"store id at the very start", ev("EventCode", "855", "PackageMoniker", "8wekyb3d8bbwe"), false},
	{"store id at the very end of a multi-package string", ev("EventCode", "855", "PackageMoniker", " addPackageList: Contoso.App_1.0.0.0_x64__z0p5db6dqbn1q updateList: A is updating to B_1.0.0.0_x64__cw5n1h2txyewy"), false},
	{"store id in the middle", ev("EventCode", "855", "PackageMoniker", "A__z0p5db6dqbn1q Microsoft.X_1.0.0.0_x64__8wekyb3d8bbwe B__z0p5db6dqbn1q"), false},
	{"missing PackageMoniker passes NOT IN", ev("EventCode", "855"), true},
	{"empty PackageMoniker passes NOT IN", ev("EventCode", "855", "PackageMoniker", ""), true},
	{"multivalue: one store value excludes", ev("EventCode", "855", "PackageMoniker", "Contoso_1.0.0.0_x64__z0p5db6dqbn1q", "PackageMoniker", "Microsoft_1.0.0.0_x64__8wekyb3d8bbwe"), false},
	{"multivalue: all developer values pass", ev("EventCode", "855", "PackageMoniker", "A_1.0.0.0_x64__z0p5db6dqbn1q", "PackageMoniker", "B_1.0.0.0_x64__2c51gcrce8043"), true},
	{"near miss of the store id passes", ev("EventCode", "855", "PackageMoniker", "x_8wekyb3d8bbw_y"), true},
	{"other event code", ev("EventCode", "854", "PackageMoniker", "Contoso"), false},
	{"event code 8550 is not 855", ev("EventCode", "8550"), false},
	{"event code 855.0 is numerically 855", ev("EventCode", "855.0"), true},
	{"event code with spaces", ev("EventCode", " 855 "), true},
	{"missing event code", ev("PackageMoniker", "Contoso"), false},
	{"non-numeric event code", ev("EventCode", "abc"), false},
}

func TestSeedRuleMatch(t *testing.T) {
	r := seed(t)
	for _, c := range matchCases {
		t.Run(c.name, func(t *testing.T) {
			if got := r.Match(c.ev); got != c.want {
				t.Fatalf("Match = %v, want %v", got, c.want)
			}
		})
	}
}

var wildcardCases = []struct {
	pattern, value string
	want           bool
}{
	{"*abc*", "xxABCxx", true},
	{"*abc*", "abc", true},
	{"*abc*", "ab", false},
	{"abc*", "ABCdef", true},
	{"abc*", "xabc", false},
	{"*abc", "xxAbC", true},
	{"*abc", "abcx", false},
	{"abc", "ABC", true},
	{"abc", "abcd", false},
	{"a*c", "abbbc", true},
	{"a*c", "abbbcd", false},
	{"a*b*c", "aXbYc", true},
	{"a*b*c", "aXcYb", false},
	{"*", "", true},
	{"*", "anything", true},
	{"", "", true},
	{"", "x", false},
	{"a?c", "abc", false}, // ? is literal in SPL
	{"a?c", "A?C", true},
	{"*ÄBC*", "xxäbcxx", true}, // Unicode case folding
	{"*abc*", "xxÄBCxx", false},
	{"*é*", "CAFÉ", true},
	{"**ab**", "xaby", true},
	{"ab*ab", "ab", false}, // segments must not overlap
	{"ab*ab", "abab", true},
}

func TestWildcard(t *testing.T) {
	for _, c := range wildcardCases {
		p := compilePattern(c.pattern)
		if got := p.match(c.value); got != c.want {
			t.Errorf("%q matches %q = %v, want %v", c.pattern, c.value, got, c.want)
		}
	}
}

func TestConditionOps(t *testing.T) {
	cases := []struct {
		op    Op
		vals  []string
		ev    *event.Event
		holds bool
	}{
		{OpEquals, []string{"x"}, ev("f", "X"), true},
		{OpEquals, []string{"x"}, ev(), false},
		{OpNotEquals, []string{"x"}, ev(), false}, // f!=x needs f
		{OpNotEquals, []string{"x"}, ev("f", "y"), true},
		{OpNotEquals, []string{"x"}, ev("f", "x"), false},
		{OpIn, []string{"a", "b*"}, ev("f", "bee"), true},
		{OpIn, []string{"a", "b*"}, ev("f", "c"), false},
		{OpNotIn, []string{"a", "b*"}, ev(), true},
		{OpNotIn, []string{"a", "b*"}, ev("f", "c"), true},
		{OpNotIn, []string{"a", "b*"}, ev("f", "A"), false},
		{OpEquals, []string{"10"}, ev("f", "10.0"), true},
		{OpEquals, []string{"1*"}, ev("f", "10"), true}, // wildcard: string match
	}
	for i, c := range cases {
		cond := newCondition("f", c.op, c.vals)
		if got := cond.Holds(c.ev); got != c.holds {
			t.Errorf("case %d: %s %v on %v = %v, want %v", i, c.op, c.vals, c.ev.Fields, got, c.holds)
		}
	}
}

func TestExtractDropsMissingByFields(t *testing.T) {
	r := seed(t)
	cases := []struct {
		name string
		ev   *event.Event
		drop DropReason
	}{
		{"all present", ev("EventCode", "855", "dvc", "H", "user_id", "U"), ""},
		{"missing dvc", ev("EventCode", "855", "user_id", "U"), DropMissingByField},
		{"empty dvc", ev("EventCode", "855", "dvc", "", "user_id", "U"), DropMissingByField},
		{"missing user_id", ev("EventCode", "855", "dvc", "H"), DropMissingByField},
		{"empty user_id", ev("EventCode", "855", "dvc", "H", "user_id", ""), DropMissingByField},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, drop := r.Extract(c.ev)
			if drop != c.drop {
				t.Fatalf("drop = %q, want %q", drop, c.drop)
			}
		})
	}
}

func TestExtractValuesAndPackages(t *testing.T) {
	r := seed(t)
	e := ev("EventCode", "855", "dvc", "H", "user_id", "U",
		"PackageMoniker", " addPackageList: A.B_1.0.0.0_x64__z0p5db6dqbn1q C.D_2.0.0.0_neutral_~_2c51gcrce8043",
		"PackageMoniker", "")
	m, drop := r.Extract(e)
	if drop != "" {
		t.Fatal(drop)
	}
	if len(m.Values) != 1 || len(m.Values[0]) != 1 || !strings.HasPrefix(m.Values[0][0], " addPackageList") {
		t.Fatalf("values = %q, want the moniker string kept whole and empties dropped", m.Values)
	}
	if len(m.Packages) != 2 || m.Packages[1].ResourceID != "~" || m.Packages[0].Architecture != "x64" {
		t.Fatalf("packages = %+v", m.Packages)
	}
}

func TestWindowStart(t *testing.T) {
	w := Window{Size: time.Hour, Offset: 50 * time.Minute, Lag: 10 * time.Minute}
	at := func(s string) int64 {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UnixNano()
	}
	cases := []struct{ t, start string }{
		{"2024-05-01T10:50:00Z", "2024-05-01T10:50:00Z"},
		{"2024-05-01T10:49:59.999999999Z", "2024-05-01T09:50:00Z"},
		{"2024-05-01T11:49:59.999999999Z", "2024-05-01T10:50:00Z"},
		{"2024-05-01T11:50:00Z", "2024-05-01T11:50:00Z"},
		{"2024-05-02T00:10:00Z", "2024-05-01T23:50:00Z"},
		{"1970-01-01T00:00:00Z", "1969-12-31T23:50:00Z"},
		{"1969-12-31T23:49:59Z", "1969-12-31T22:50:00Z"},
	}
	for _, c := range cases {
		if got := time.Unix(0, w.Start(at(c.t))).UTC().Format(time.RFC3339); got != c.start {
			t.Errorf("window of %s = %s, want %s", c.t, got, c.start)
		}
	}
}

func TestFormatTimeZone(t *testing.T) {
	r := seed(t)
	tm := time.Date(2024, 5, 1, 10, 51, 7, 999_999_999, time.UTC)
	if got := r.FormatTime(tm, time.UTC); got != "2024-05-01T10:51:07" {
		t.Errorf("UTC: %s", got)
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	if got := r.FormatTime(tm, ny); got != "2024-05-01T06:51:07" {
		t.Errorf("New York: %s", got)
	}
}

func TestParseErrorsHaveLines(t *testing.T) {
	good, err := builtinFS.ReadFile("builtin/windows_developer_signed_msix_package_installation.yml")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, from, to, reason string
	}{
		{"unknown key", "time_format:", "time_formt:", "not found"},
		{"bad op", "equals: 855", "equal: 855", "not found"},
		{"bad window", "window: 60m", "window: sixty", "schedule"},
		{"risk object not output", "object: dest", "object: dvc", "risk.object"},
		{"template ref", "by user $user_id$", "by user $user$", "$user$"},
		{"rename non by-field", "dvc: dest", "host: dest", "rename"},
		{"bad yaml", "by: [dvc, EventCode, user_id]", "by: [dvc, EventCode", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(string(good), c.from, c.to, 1)
			if src == string(good) {
				t.Fatalf("replacement %q not applied", c.from)
			}
			_, err := Parse("r.yml", []byte(src))
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want FileError", err)
			}
			if fe.Line == 0 || fe.File != "r.yml" || !strings.Contains(fe.Error(), c.reason) {
				t.Fatalf("err = %q (line %d), want file, line and %q", fe.Error(), fe.Line, c.reason)
			}
		})
	}
}

func TestAllowlist(t *testing.T) {
	src := `allow:
  - rule: windows_developer_signed_msix_package_installation
    reason: in-house LOB app
    match:
      PackageMoniker: "*ContosoCorp.LineOfBusiness*"
  - reason: build servers
    match:
      dest: ["BUILD-*", "CI-*"]
      user_id: S-1-5-18
  - reason: expired entry
    expires: 2024-01-01
    match:
      dest: "*"
`
	al, err := ParseAllowlist("t.yml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	get := func(m map[string][]string) func(string) []string { return func(f string) []string { return m[f] } }
	cases := []struct {
		name   string
		rule   string
		fields map[string][]string
		want   bool
	}{
		{"any value matches", SeedRuleID, map[string][]string{"PackageMoniker": {"x", " addPackageList: contosocorp.lineofbusiness_1"}}, true},
		{"other rule not suppressed by rule-scoped entry", "other", map[string][]string{"PackageMoniker": {"ContosoCorp.LineOfBusiness"}}, false},
		{"all fields must match", "other", map[string][]string{"dest": {"build-7"}, "user_id": {"S-1-5-21-1"}}, false},
		{"all fields match", "other", map[string][]string{"dest": {"CI-2"}, "user_id": {"S-1-5-18"}}, true},
		{"expired entry ignored", "other", map[string][]string{"dest": {"WS-1"}}, false},
	}
	for _, c := range cases {
		if _, got := al.Suppressed(c.rule, get(c.fields), now); got != c.want {
			t.Errorf("%s: suppressed = %v, want %v", c.name, got, c.want)
		}
	}
	for _, bad := range []string{"allow:\n  - match: {dest: x}\n", "allow:\n  - reason: r\n", "allow:\n  - reason: r\n    match: {dest: x}\n    expires: soon\n", "allow:\n  - reason: r\n    mtch: {dest: x}\n"} {
		_, err := ParseAllowlist("t.yml", []byte(bad))
		var fe *FileError
		if !errors.As(err, &fe) || fe.Line == 0 {
			t.Errorf("%q: err = %v, want FileError with a line", bad, err)
		}
	}
}

func TestSetRejectsDuplicateIDs(t *testing.T) {
	r := seed(t)
	if _, err := NewSet([]*Rule{r, r}); err == nil {
		t.Fatal("duplicate rule ids accepted")
	}
}

func FuzzWildcard(f *testing.F) {
	for _, c := range wildcardCases {
		f.Add(c.pattern, c.value)
	}
	f.Fuzz(func(t *testing.T, pat, val string) {
		p := compilePattern(pat)
		got := p.match(val)
		// Reference: without '*' the match is case-insensitive equality.
		if !strings.Contains(pat, "*") && isASCII(pat) && isASCII(val) && got != strings.EqualFold(pat, val) {
			t.Fatalf("%q vs %q: %v", pat, val, got)
		}
		// A leading and trailing star around a literal is a contains check.
		if lit := strings.Trim(pat, "*"); pat == "*"+lit+"*" && !strings.Contains(lit, "*") && isASCII(pat) && isASCII(val) {
			if want := strings.Contains(strings.ToLower(val), strings.ToLower(lit)); got != want {
				t.Fatalf("%q vs %q: %v, want %v", pat, val, got, want)
			}
		}
	})
}

func FuzzParseRule(f *testing.F) {
	good, _ := builtinFS.ReadFile("builtin/windows_developer_signed_msix_package_installation.yml")
	f.Add(string(good))
	f.Add("id: x\n")
	f.Add("allow: [")
	f.Fuzz(func(t *testing.T, src string) {
		r, err := Parse("f.yml", []byte(src))
		if err == nil && r == nil {
			t.Fatal("nil rule without error")
		}
		var fe *FileError
		if err != nil && !errors.As(err, &fe) {
			t.Fatalf("error is not a FileError: %v", err)
		}
		if _, err := ParseAllowlist("f.yml", []byte(src)); err != nil && !errors.As(err, &fe) {
			t.Fatalf("allowlist error is not a FileError: %v", err)
		}
	})
}

func TestExtractBoundsSizes(t *testing.T) {
	r := seed(t)
	long := strings.Repeat("é", MaxValueBytes) // 2 bytes a rune: twice the bound
	m, drop := r.Extract(ev("EventCode", "855", "dvc", "H", "user_id", "U", "PackageMoniker", long))
	if drop != "" || len(m.Values[0][0]) > MaxValueBytes || !utf8.ValidString(m.Values[0][0]) {
		t.Fatalf("value of %d bytes (valid UTF-8: %v), drop %q", len(m.Values[0][0]), utf8.ValidString(m.Values[0][0]), drop)
	}
	if _, drop := r.Extract(ev("EventCode", "855", "dvc", long, "user_id", "U")); drop != DropOversizedField {
		t.Fatalf("oversized by-field: drop %q", drop)
	}
	many := ev("EventCode", "855", "dvc", "H", "user_id", "U")
	for i := 0; i < 100; i++ {
		many.Add("PackageMoniker", strings.Repeat("x", MaxValueBytes))
	}
	m, _ = r.Extract(many)
	total := 0
	for _, v := range m.Values[0] {
		total += len(v)
	}
	if total > MaxMatchValueBytes {
		t.Fatalf("match carries %d value bytes", total)
	}
}

// TestBooleanFilterSemantics: OR across fields, OR of AND groups and NOT of
// an AND group, imported from SPL, match events as Splunk's search would.
func TestBooleanFilterSemantics(t *testing.T) {
	doc := "name: Boolean test\nid: 11111111-2222-3333-4444-555555555555\ntype: Anomaly\n" +
		"search: 'EventCode=400 (HasFullTrust=true OR PackageType=\"0x8\") NOT (Path=\"*tmp*\" CallingProcess=sihost.exe) | stats count by dvc'\n" +
		"rba: {message: m, risk_objects: [{field: dvc, type: system, score: 10}]}\n"
	im, err := ImportDetection("boolean.yml", []byte(doc), ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := im.Rule
	cases := []struct {
		name string
		ev   *event.Event
		want bool
	}{
		{"first branch of the OR", ev("EventCode", "400", "HasFullTrust", "true", "dvc", "h"), true},
		{"second branch of the OR", ev("EventCode", "400", "PackageType", "0x8", "dvc", "h"), true},
		{"neither branch", ev("EventCode", "400", "HasFullTrust", "false", "PackageType", "0x4", "dvc", "h"), false},
		{"OR fields missing", ev("EventCode", "400", "dvc", "h"), false},
		{"NOT group: both terms hold, excluded", ev("EventCode", "400", "HasFullTrust", "true", "Path", `C:\tmp\x`, "CallingProcess", "sihost.exe"), false},
		{"NOT group: one term holds, kept", ev("EventCode", "400", "HasFullTrust", "true", "Path", `C:\tmp\x`, "CallingProcess", "explorer.exe"), true},
		{"NOT group: fields missing, kept", ev("EventCode", "400", "HasFullTrust", "TRUE"), true},
		{"other event code", ev("EventCode", "855", "HasFullTrust", "true"), false},
	}
	for _, c := range cases {
		if got := r.Match(c.ev); got != c.want {
			t.Errorf("%s: match %v, want %v\n%s", c.name, got, c.want, im.YAML)
		}
	}
	fields := strings.Join(r.Fields(), ",")
	for _, f := range []string{"EventCode", "HasFullTrust", "PackageType", "Path", "CallingProcess", "dvc"} {
		if !strings.Contains(fields, f) {
			t.Errorf("Fields() %s lacks %s (nested conditions)", fields, f)
		}
	}
	// The rule file reads back to the same rule.
	again, err := Parse("boolean.yml", im.YAML)
	if err != nil {
		t.Fatalf("%v\n%s", err, im.YAML)
	}
	for _, c := range cases {
		if again.Match(c.ev) != c.want {
			t.Errorf("re-parsed rule differs on %s", c.name)
		}
	}
}

// TestGroupConditionErrors: a bad condition inside a group is reported at
// its own line.
func TestGroupConditionErrors(t *testing.T) {
	base := func(filter string) string {
		return "id: g\nname: G\nsearch:\n  filter:\n" + filter + "stats:\n  count: count\n  by: [dvc]\nrisk:\n  object: dvc\n  object_type: system\n  score: 1\n  message: m\n"
	}
	cases := []struct {
		name, filter string
		line         int
		reason       string
	}{
		{"empty any", "    - any: []\n", 5, "at least one condition"},
		{"nested bad key", "    - any:\n        - {field: A, equals: 1}\n        - {field: B, like: 2}\n", 7, "like"},
		{"deeper nesting", "    - all:\n        - any:\n            - {field: A, in: []}\n", 7, "at least one value"},
		{"group with a second key", "    - {any: [{field: A, equals: 1}], field: B}\n", 5, "one key"},
	}
	for _, c := range cases {
		_, err := Parse("g.yml", []byte(base(c.filter)))
		var fe *FileError
		if !errors.As(err, &fe) || fe.Line != c.line || !strings.Contains(fe.Reason, c.reason) {
			t.Errorf("%s: got %v (line %d), want line %d and %q", c.name, err, errLine(fe), c.line, c.reason)
		}
	}
}

func errLine(fe *FileError) int {
	if fe == nil {
		return 0
	}
	return fe.Line
}

// TestParseNumber: the integer fast path agrees with ParseFloat, and what
// is not a plain decimal integer still goes the long way.
func TestParseNumber(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"855", 855, true}, {"0855", 855, true}, {"0", 0, true}, {"999999999999999", 999999999999999, true},
		{"1234567890123456789", 1234567890123456789, true}, // 19 digits: ParseFloat rounds, as before
		{"855.0", 855, true}, {" 855", 855, true}, {"-855", -855, true}, {"+855", 855, true}, {"8.55e2", 855, true},
		{"", 0, false}, {"85a", 0, false}, {"0x357", 0, false}, {"8_55", 0, false},
	} {
		got, ok := parseNumber(tc.in)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("parseNumber(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
