package pipeline

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/msixguard/msixguard/aggregate"
	"github.com/msixguard/msixguard/consumer"
	"github.com/msixguard/msixguard/metrics"
	"github.com/msixguard/msixguard/producer"
)

// canonicalMessages is CanonicalMessages for tests.
func canonicalMessages(t testing.TB, data []byte) []string {
	t.Helper()
	out, err := CanonicalMessages(data)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func runCheck(t testing.TB, format consumer.Format, kinds string, files ...string) ([]byte, *metrics.Metrics) {
	t.Helper()
	set, err := LoadRules(nil, false)
	if err != nil {
		t.Fatal(err)
	}
	k, err := producer.ParseKinds(kinds)
	if err != nil {
		t.Fatal(err)
	}
	var inputs []Input
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { fh.Close() })
		inputs = append(inputs, Input{Name: f, R: fh})
	}
	var out bytes.Buffer
	m := metrics.NewUnregistered()
	err = Check(inputs, &out, CheckOptions{
		Format: format, Rules: set, MaxBytes: 1 << 20, Metrics: m,
		Emitter: &producer.Emitter{Kinds: k, Loc: time.UTC, Now: time.Now},
		BadRecord: func(src string, line int, err error) {
			t.Errorf("%s:%d: unexpected bad record: %v", src, line, err)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), m
}

// TestConformance runs every case of testdata/conformance, in every input
// form it has, through check's code path and compares with expected.ndjson.
func TestConformance(t *testing.T) {
	cases, err := filepath.Glob("../testdata/conformance/*/expected.ndjson")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no conformance cases found: %v", err)
	}
	for _, exp := range cases {
		dir := filepath.Dir(exp)
		want, err := os.ReadFile(exp)
		if err != nil {
			t.Fatal(err)
		}
		for _, form := range []struct {
			file   string
			format consumer.Format
		}{{"events.ndjson", "json"}, {"events.xml", "xml"}, {"events.ecs.ndjson", "ecs"}, {"events.ndjson", "auto"}, {"events.xml", "auto"}, {"events.ecs.ndjson", "auto"}} {
			in := filepath.Join(dir, form.file)
			if _, err := os.Stat(in); err != nil {
				continue
			}
			t.Run(filepath.Base(dir)+"/"+form.file+"/"+string(form.format), func(t *testing.T) {
				got, _ := runCheck(t, form.format, "final", in)
				w, g := canonicalMessages(t, want), canonicalMessages(t, got)
				if strings.Join(w, "\n") != strings.Join(g, "\n") {
					t.Fatalf("risk messages differ\nwant:\n%s\ngot:\n%s", strings.Join(w, "\n"), strings.Join(g, "\n"))
				}
			})
		}
	}
}

// TestCheckAccountsForEveryRecord: records in = matched + unmatched + decode errors.
func TestCheckAccountsForEveryRecord(t *testing.T) {
	_, m := runCheck(t, "auto", "final", "../testdata/conformance/08_many_windows_and_hosts/events.ndjson")
	in := metrics.Sum(m.RecordsConsumed)
	if in != 400 || in != metrics.Sum(m.Matched)+metrics.Sum(m.Unmatched)+metrics.Sum(m.DecodeErrors) {
		t.Fatalf("records %v != matched %v + unmatched %v + decode errors %v", in, metrics.Sum(m.Matched), metrics.Sum(m.Unmatched), metrics.Sum(m.DecodeErrors))
	}
}

func TestCheckEmitsEarlyWhenAsked(t *testing.T) {
	out, _ := runCheck(t, "json", "early,final", "../testdata/conformance/01_basic/events.ndjson")
	kinds := map[string]int{}
	for _, line := range bytes.Split(bytes.TrimSpace(out), []byte{'\n'}) {
		var m struct{ Kind string }
		json.Unmarshal(line, &m)
		kinds[m.Kind]++
	}
	if kinds["early"] != 3 || kinds["final"] != 3 {
		t.Fatalf("kinds = %v, want 3 early and 3 final", kinds)
	}
}

func TestCheckBadRecordsSkippedOrStrict(t *testing.T) {
	set, _ := LoadRules(nil, false)
	in := "{\"_time\": 1714560900, \"EventCode\": 855, \"dvc\": \"H\", \"user_id\": \"U\"}\nnot json\n" + `{"_time": 1714560901, "EventCode": 855, "dvc": "H", "user_id": "U"}` + "\n"
	for _, strict := range []bool{false, true} {
		var bad []int
		var out bytes.Buffer
		m := metrics.NewUnregistered()
		err := Check([]Input{{Name: "x", R: strings.NewReader(in)}}, &out, CheckOptions{
			Format: "auto", Rules: set, MaxBytes: 1 << 20, Strict: strict, Metrics: m,
			Emitter:   &producer.Emitter{Kinds: map[aggregate.Kind]bool{aggregate.KindFinal: true}, Now: time.Now},
			BadRecord: func(_ string, line int, _ error) { bad = append(bad, line) },
		})
		if len(bad) != 1 || bad[0] != 2 {
			t.Fatalf("strict=%v: bad lines %v, want [2]", strict, bad)
		}
		if strict && err == nil {
			t.Fatal("strict run did not fail")
		}
		if !strict && (err != nil || !strings.Contains(out.String(), `"count":2`)) {
			t.Fatalf("err=%v out=%s", err, out.String())
		}
	}
}

func TestRecordReader(t *testing.T) {
	ev := func(n string) string { return "<Event xmlns='x'><System><EventID>" + n + "</EventID></System></Event>" }
	cases := []struct {
		name  string
		in    string
		max   int
		lines []int
		large []bool
	}{
		{"ndjson with blanks", "{}\n\n  {\"a\":1}  \n{}", 100, []int{1, 3, 4}, []bool{false, false, false}},
		{"ndjson crlf and bom", "\xEF\xBB\xBF{}\r\n{}\r\n", 100, []int{1, 2}, []bool{false, false}},
		{"ndjson too long", "{\"a\":\"" + strings.Repeat("x", 200) + "\"}\n{}\n", 50, []int{1, 2}, []bool{true, false}},
		{"xml per line", ev("1") + "\n" + ev("2") + "\n", 1000, []int{1, 2}, []bool{false, false}},
		{"xml concatenated", ev("1") + ev("2") + ev("3"), 1000, []int{1, 1, 1}, []bool{false, false, false}},
		{"xml wevtutil wrapper", "<?xml version='1.0'?>\n<Events>\n" + ev("1") + "\n" + ev("2") + "\n</Events>\n", 1000, []int{3, 4}, []bool{false, false}},
		{"xml multi-line event", "\n\n<Event>\n<System>\n</System>\n</Event>\n" + ev("2"), 1000, []int{3, 7}, []bool{false, false}},
		{"xml oversized", ev(strings.Repeat("9", 300)) + "\n" + ev("2"), 100, []int{1, 2}, []bool{true, false}},
		{"xml unterminated", ev("1") + "\n<Event><System>", 1000, []int{1, 2}, []bool{false, false}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rr := NewRecordReader(strings.NewReader(c.in), c.max)
			var lines []int
			var large []bool
			for {
				rec, err := rr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				lines = append(lines, rec.Line)
				large = append(large, rec.TooLarge)
				if len(lines) > 10 {
					t.Fatal("runaway reader")
				}
			}
			if !slices.Equal(lines, c.lines) || !slices.Equal(large, c.large) {
				t.Fatalf("lines %v large %v, want %v %v", lines, large, c.lines, c.large)
			}
		})
	}
}
