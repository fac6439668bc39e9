package rules

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// seedSPL is the seed detection's search as DESIGN.md writes it.
const seedSPL = "`wineventlog_appxdeploymentserver` EventCode=855\n" +
	"  NOT PackageMoniker IN (\"*8wekyb3d8bbwe*\", \"*cw5n1h2txyewy*\")\n" +
	"| stats count min(_time) as firstTime max(_time) as lastTime\n" +
	"        values(PackageMoniker) as PackageMoniker by dvc EventCode user_id\n" +
	"| rename dvc as dest\n" +
	"| `security_content_ctime(firstTime)` | `security_content_ctime(lastTime)`\n" +
	"| `windows_developer_signed_msix_package_installation_filter`"

// tail is a valid stats pipeline appended to filter-only test searches.
const tail = " | stats count by dvc"

func TestCompileSPLSeed(t *testing.T) {
	cs, err := CompileSPL(seedSPL, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := &CompiledSearch{
		SPL:         seedSPL,
		SourceMacro: "wineventlog_appxdeploymentserver",
		SourceNote:  DefaultMacros()["wineventlog_appxdeploymentserver"].Note,
		Filter: []SPLCondition{
			{Field: "EventCode", Op: OpEquals, Values: []string{"855"}, Number: true},
			{Field: "PackageMoniker", Op: OpNotIn, Values: []string{"*8wekyb3d8bbwe*", "*cw5n1h2txyewy*"}},
		},
		By:          []string{"dvc", "EventCode", "user_id"},
		CountAs:     "count",
		MinTimeAs:   "firstTime",
		MaxTimeAs:   "lastTime",
		Values:      []ValuesSpec{{Field: "PackageMoniker", As: "PackageMoniker"}},
		Rename:      map[string]string{"dvc": "dest"},
		FilterMacro: "windows_developer_signed_msix_package_installation_filter",
	}
	if !reflect.DeepEqual(cs, want) {
		t.Fatalf("got  %+v\nwant %+v", cs, want)
	}
}

// TestCompileSPLFilters: every supported search-term form and the
// conditions it compiles to.
func TestCompileSPLFilters(t *testing.T) {
	cases := []struct {
		name   string
		search string
		want   []SPLCondition
	}{
		{"equals number", "EventCode=855", []SPLCondition{{"EventCode", OpEquals, []string{"855"}, true, nil}}},
		{"equals quoted number stays a string", `Flags="8388608"`, []SPLCondition{{"Flags", OpEquals, []string{"8388608"}, false, nil}}},
		{"equals with spaces around =", `EventCode = 855`, []SPLCondition{{"EventCode", OpEquals, []string{"855"}, true, nil}}},
		{"wildcard value is not a number", `EventCode=85*`, []SPLCondition{{"EventCode", OpEquals, []string{"85*"}, false, nil}}},
		{"not equals", `EventCode!=4`, []SPLCondition{{"EventCode", OpNotEquals, []string{"4"}, true, nil}}},
		{"decimal and negative numbers", `A=4.5 B=-3 C=1e3 D=NaN E=0x10`, []SPLCondition{
			{"A", OpEquals, []string{"4.5"}, true, nil}, {"B", OpEquals, []string{"-3"}, true, nil}, {"C", OpEquals, []string{"1e3"}, false, nil},
			{"D", OpEquals, []string{"NaN"}, false, nil}, {"E", OpEquals, []string{"0x10"}, false, nil}}},
		{"quoted with escapes", `Path="C:\\x \"y\""`, []SPLCondition{{"Path", OpEquals, []string{`C:\x "y"`}, false, nil}}},
		{"implicit and explicit AND", `EventCode=400 HasFullTrust="true" AND Path="*x*"`, []SPLCondition{
			{"EventCode", OpEquals, []string{"400"}, true, nil}, {"HasFullTrust", OpEquals, []string{"true"}, false, nil}, {"Path", OpEquals, []string{"*x*"}, false, nil}}},
		{"IN", `A IN ("*x*", y, 3)`, []SPLCondition{{"A", OpIn, []string{"*x*", "y", "3"}, false, nil}}},
		{"NOT IN", `NOT A IN ("*x*")`, []SPLCondition{{"A", OpNotIn, []string{"*x*"}, false, nil}}},
		{"NOT equals is not_in", `NOT A=1`, []SPLCondition{{"A", OpNotIn, []string{"1"}, false, nil}}},
		{"double NOT", `NOT NOT A=1`, []SPLCondition{{"A", OpEquals, []string{"1"}, true, nil}}},
		{"NOT over OR distributes (De Morgan)", `NOT (A=1 OR B IN (2, 3))`, []SPLCondition{
			{"A", OpNotIn, []string{"1"}, false, nil}, {"B", OpNotIn, []string{"2", "3"}, false, nil}}},
		{"OR on one field is IN", `(A=1 OR A="2" OR A IN (3, "*4*"))`, []SPLCondition{{"A", OpIn, []string{"1", "2", "3", "*4*"}, false, nil}}},
		{"OR on one field among ANDs", `E=1 (A=x OR A=y) B=z`, []SPLCondition{
			{"E", OpEquals, []string{"1"}, true, nil}, {"A", OpIn, []string{"x", "y"}, false, nil}, {"B", OpEquals, []string{"z"}, false, nil}}},
		{"parenthesized AND", `(A=1 B=2)`, []SPLCondition{{"A", OpEquals, []string{"1"}, true, nil}, {"B", OpEquals, []string{"2"}, true, nil}}},
		{"NOT of one parenthesized term", `NOT (A=1)`, []SPLCondition{{"A", OpNotIn, []string{"1"}, false, nil}}},
		{"explicit search command", `search A=1`, []SPLCondition{{"A", OpEquals, []string{"1"}, true, nil}}},
		{"OR across fields is an any group", `E=1 (A=1 OR B=2)`, []SPLCondition{
			{"E", OpEquals, []string{"1"}, true, nil},
			{"", OpAny, nil, false, []SPLCondition{{"A", OpEquals, []string{"1"}, true, nil}, {"B", OpEquals, []string{"2"}, true, nil}}}}},
		{"OR with !=", `A=1 OR A!=2`, []SPLCondition{
			{"", OpAny, nil, false, []SPLCondition{{"A", OpEquals, []string{"1"}, true, nil}, {"A", OpNotEquals, []string{"2"}, true, nil}}}}},
		{"OR of AND groups", `(A=1 B=2) OR A=3`, []SPLCondition{
			{"", OpAny, nil, false, []SPLCondition{
				{"", OpAll, nil, false, []SPLCondition{{"A", OpEquals, []string{"1"}, true, nil}, {"B", OpEquals, []string{"2"}, true, nil}}},
				{"A", OpEquals, []string{"3"}, true, nil}}}}},
		{"NOT of an AND group (De Morgan)", `E=1 NOT (A=1 B IN (2, 3))`, []SPLCondition{
			{"E", OpEquals, []string{"1"}, true, nil},
			{"", OpAny, nil, false, []SPLCondition{{"A", OpNotIn, []string{"1"}, false, nil}, {"B", OpNotIn, []string{"2", "3"}, false, nil}}}}},
		{"NOT over an OR of AND groups", `NOT ((A=1 B=2) OR C=3)`, []SPLCondition{
			{"", OpAny, nil, false, []SPLCondition{{"A", OpNotIn, []string{"1"}, false, nil}, {"B", OpNotIn, []string{"2"}, false, nil}}},
			{"C", OpNotIn, []string{"3"}, false, nil}}},
		{"dotted and @ field names", `winlog.event_id=1 @x=y`, []SPLCondition{
			{"winlog.event_id", OpEquals, []string{"1"}, true, nil}, {"@x", OpEquals, []string{"y"}, false, nil}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cs, err := CompileSPL(c.search+tail, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cs.Filter, c.want) {
				t.Fatalf("got  %+v\nwant %+v", cs.Filter, c.want)
			}
		})
	}
}

func TestCompileSPLStatsAndRename(t *testing.T) {
	spl := "A=1 | STATS count AS n, min(_time) as t0, max(_time) as \"t1\", values(X) as xs values(Y) as ys BY dvc, user_id EventCode\n" +
		"| rename dvc AS dest, user_id as user | rename dest as host, n as total | rename xs as files" +
		"| `security_content_ctime(t0)` | `security_content_ctime(t1)` | `x_filter`"
	cs, err := CompileSPL(spl, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cs.By, []string{"dvc", "user_id", "EventCode"}) ||
		!reflect.DeepEqual(cs.Rename, map[string]string{"dvc": "host", "user_id": "user"}) ||
		cs.CountAs != "total" || cs.MinTimeAs != "t0" || cs.MaxTimeAs != "t1" ||
		!reflect.DeepEqual(cs.Values, []ValuesSpec{{"X", "files"}, {"Y", "ys"}}) || cs.FilterMacro != "x_filter" || cs.SourceMacro != "" {
		t.Fatalf("%+v", cs)
	}
	// No min/max and no filter macro: still a rule.
	cs, err = CompileSPL("A=1 | stats count by dvc", nil)
	if err != nil || cs.MinTimeAs != "" || cs.CountAs != "count" || len(cs.Rename) != 0 {
		t.Fatalf("%+v %v", cs, err)
	}
}

func TestCompileSPLMacroTable(t *testing.T) {
	m := DefaultMacros()
	err := m.ParseMacros("m.yml", []byte("macros:\n  - name: wineventlog_security\n    search: Channel=\"Security\" NOT Provider=x\n    note: the Security log\n"))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := CompileSPL("`wineventlog_security` EventCode=4688 | stats count by dvc", m)
	if err != nil {
		t.Fatal(err)
	}
	want := []SPLCondition{{"Channel", OpEquals, []string{"Security"}, false, nil}, {"Provider", OpNotIn, []string{"x"}, false, nil}, {"EventCode", OpEquals, []string{"4688"}, true, nil}}
	if !reflect.DeepEqual(cs.Filter, want) || cs.SourceNote != "the Security log" {
		t.Fatalf("%+v", cs)
	}
	// The built-in macro is still there; a macro alone is enough.
	if _, err := CompileSPL("`wineventlog_security` | stats count by dvc", m); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct{ yml, want string }{
		{"macros:\n  - name: x\n    search: A=1 | stats count\n", `m.yml:2: macro x: search: SPL byte 4: "| stats count"`},
		{"macros:\n  - name: x\n    search: A>1\n", `m.yml:2: macro x: search: SPL byte 0: "A>1"`},
		{"macros:\n  - search: A=1\n", "m.yml:2: a macro needs a name"},
		{"macros:\n  - name: x\n    definition: (source=y)\n", "m.yml:3: field definition not found"},
	} {
		err := DefaultMacros().ParseMacros("m.yml", []byte(bad.yml))
		if err == nil || !strings.HasPrefix(err.Error(), bad.want) {
			t.Errorf("%q: got %v, want prefix %q", bad.yml, err, bad.want)
		}
	}
}

// TestCompileSPLRejects: everything outside the subset is refused with the
// exact fragment and its byte offset.
func TestCompileSPLRejects(t *testing.T) {
	cases := []struct {
		name, spl string
		pos       int
		frag      string
		reason    string
	}{
		{"generating command", "| tstats count from datamodel=Endpoint.Processes by dvc", 2, "tstats count from datamodel=Endpoint.Processes by dvc", "generating commands"},
		{"unknown source macro", "`sysmon` EventCode=1 | stats count by dvc", 0, "`sysmon`", "unknown source macro"},
		{"macro in the middle", "A=1 `m` | stats count by dvc", 4, "`m`", "macro is only supported first"},
		{"NOT of !=", "NOT A!=1 | stats count by dvc", 4, "A!=1", "NOT of field!=value"},
		{"numeric comparison", "E=1 count>5 | stats count by dvc", 4, "count>5", "numeric comparisons"},
		{"free text quoted", `E=1 "powershell" | stats count by dvc`, 4, `"powershell"`, "free-text"},
		{"free text word", "E=1 powershell | stats count by dvc", 4, "powershell", "free-text"},
		{"lower-case or", "A=1 or A=2 | stats count by dvc", 4, "or", "lower-case or"},
		{"lower-case in", "A in (1, 2) | stats count by dvc", 0, "A", "free-text"},
		{"search function", "TERM(x) | stats count by dvc", 0, "TERM", "search functions"},
		{"index metadata", "index=main A=1 | stats count by dvc", 0, "index=main", "index metadata"},
		{"sourcetype metadata", "A=1 sourcetype=\"XmlWinEventLog\" | stats count by dvc", 4, "sourcetype=\"XmlWinEventLog\"", "index metadata"},
		{"empty value", `A="" | stats count by dvc`, 2, `""`, "empty value"},
		{"escaped asterisk", `A="x\*" | stats count by dvc`, 4, `\*`, "escaped asterisk"},
		{"escaped asterisk unquoted", `A=x\* | stats count by dvc`, 3, `\*`, "escaped asterisk"},
		{"eval == ", `A==1 | stats count by dvc`, 1, "==", "eval comparison"},
		{"unterminated quote", `A="x | stats count by dvc`, 2, `"x | stats count by dvc`, "unterminated quoted"},
		{"unbalanced paren", "(A=1 | stats count by dvc", 0, "(", "unbalanced"},
		{"stray paren", "A=1) | stats count by dvc", 3, ")", "unbalanced"},
		{"IN without list", "A IN x | stats count by dvc", 5, "x", "parenthesized list"},
		{"eval command", "A=1 | eval x=1 | stats count by dvc", 6, "eval x=1", `command "eval" is not supported`},
		{"where after stats", "A=1 | stats count by dvc | where count > 5", 27, "where count > 5", `command "where"`},
		{"table", "A=1 | stats count by dvc | table dvc count", 27, "table dvc count", `command "table"`},
		{"dc", "A=1 | stats count dc(user) as users by dvc", 18, "dc(user)", "engine does not compute distinct counts"},
		{"latest", "A=1 | stats count latest(_time) as t by dvc", 18, "latest(_time)", "engine does not compute latest values"},
		{"earliest", "A=1 | stats earliest(x) as e count by dvc", 12, "earliest(x)", "engine does not compute earliest values"},
		{"min of a field", "A=1 | stats count min(size) as s by dvc", 18, "min(size)", "only of _time"},
		{"count of a field", "A=1 | stats count(x) by dvc", 12, "count(x)", "plain count"},
		{"values without as", "A=1 | stats count values(X) by dvc", 18, "values(X)", "needs `as NAME`"},
		{"values of eval", "A=1 | stats count values(eval(x)) as v by dvc", 18, "values(eval(x))", "only of an event field"},
		{"stats option", "A=1 | stats allnum=t count by dvc", 12, "allnum", "stats options"},
		{"stats without by", "A=1 | stats count", 17, "", "without by"},
		{"stats without count", "A=1 | stats values(X) as x by dvc", 12, "values", "without count"},
		{"by metadata", "A=1 | stats count by source", 21, "source", "not a by-field"},
		{"min without ctime", "A=1 | stats count min(_time) as firstTime by dvc", 18, "min(_time) as firstTime", "not converted by `security_content_ctime(firstTime)`"},
		{"ctime of a non-time field", "A=1 | stats count by dvc | `security_content_ctime(dvc)`", 27, "`security_content_ctime(dvc)`", "not min(_time) or max(_time)"},
		{"unknown macro after a pipe", "A=1 | stats count by dvc | `drop_dm_object_name(Processes)`", 27, "`drop_dm_object_name(Processes)`", "unknown macro"},
		{"filter macro not last", "A=1 | stats count by dvc | `x_filter` | rename dvc as dest", 27, "`x_filter`", "must be the last"},
		{"rename of a missing field", "A=1 | stats count by dvc | rename host as dest", 34, "host as dest", "not a field of the stats result"},
		{"wildcard rename", "A=1 | stats count by dvc | rename d* as x*", 34, "d* as x*", "wildcard"},
		{"rename onto a field", "A=1 | stats count by dvc user | rename dvc as user", 39, "dvc as user", "existing field"},
		{"rename before stats", "A=1 | rename a as b | stats count by dvc", 6, "rename a as b", "before stats"},
		{"no stats", "A=1", 3, "", "no stats command"},
		{"second stats", "A=1 | stats count by dvc | stats count by dvc", 27, "stats count by dvc", "second stats"},
		{"empty command", "A=1 | | stats count by dvc", 4, "|", "empty command"},
		{"macro only, no condition", "`wineventlog_appxdeploymentserver` | stats count by dvc", 0, "`wineventlog_appxdeploymentserver` ", "no condition"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := CompileSPL(c.spl, nil)
			var se *SPLError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want an *SPLError", err)
			}
			if se.Pos != c.pos || se.Fragment != c.frag || !strings.Contains(se.Reason, c.reason) {
				t.Fatalf("got byte %d %q: %s\nwant byte %d %q: …%s…", se.Pos, se.Fragment, se.Reason, c.pos, c.frag, c.reason)
			}
			if c.frag != "" && c.frag != "|" && !strings.HasPrefix(c.spl[se.Pos:], se.Fragment) {
				t.Fatalf("fragment %q is not at byte %d of the search", se.Fragment, se.Pos)
			}
			if !strings.Contains(err.Error(), "SPL byte ") {
				t.Fatalf("message %q does not say where", err)
			}
		})
	}
}

func FuzzCompileSPL(f *testing.F) {
	f.Add(seedSPL)
	f.Add("A=1 (B=2 OR B=3) NOT C IN (x, \"y\") | stats count values(X) as x by dvc | rename dvc as dest")
	f.Add("| tstats count")
	f.Fuzz(func(t *testing.T, spl string) {
		cs, err := CompileSPL(spl, nil)
		if err != nil {
			var se *SPLError
			if !errors.As(err, &se) {
				t.Fatalf("not an *SPLError: %v", err)
			}
			if se.Pos < 0 || se.Pos > len(spl) {
				t.Fatalf("position %d outside the search", se.Pos)
			}
			return
		}
		if len(cs.Filter) == 0 || len(cs.By) == 0 {
			t.Fatalf("compiled without filter or by: %+v", cs)
		}
		// Whatever compiles must be a rule file Parse accepts.
		obj := cs.By[0]
		if to, ok := cs.Rename[obj]; ok {
			obj = to
		}
		w := Window{Size: time.Hour, Offset: 50 * time.Minute, Lag: 10 * time.Minute}
		doc := emitRule("fuzz", "Fuzz", "", cs, w, Risk{ObjectField: obj, ObjectType: "system", Score: 1}, nil, []string{"fuzz"})
		data, err := yaml.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse("fuzz.yml", data); err != nil {
			t.Fatalf("compiled search gives an invalid rule: %v\n%s", err, data)
		}
	})
}
