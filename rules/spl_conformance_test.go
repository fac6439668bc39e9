package rules_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/msixguard/msixguard/aggregate"
	"github.com/msixguard/msixguard/consumer"
	"github.com/msixguard/msixguard/metrics"
	"github.com/msixguard/msixguard/pipeline"
	"github.com/msixguard/msixguard/producer"
	"github.com/msixguard/msixguard/rules"
)

// The input forms of a conformance case and the decoder each is read with.
var conformanceForms = []struct {
	file   string
	format consumer.Format
}{
	{"events.ndjson", "json"}, {"events.xml", "xml"}, {"events.ecs.ndjson", "ecs"},
	{"events.ndjson", "auto"}, {"events.xml", "auto"}, {"events.ecs.ndjson", "auto"},
}

// checkOutput runs pipeline.Check (the code path of `msixguard check`) with
// a fixed clock, so two runs can be compared byte for byte.
func checkOutput(t *testing.T, set *rules.Set, format consumer.Format, file string) []byte {
	t.Helper()
	fh, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var out bytes.Buffer
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	err = pipeline.Check([]pipeline.Input{{Name: file, R: fh}}, &out, pipeline.CheckOptions{
		Format: format, Rules: set, MaxBytes: 1 << 20, Metrics: metrics.NewUnregistered(),
		Emitter: &producer.Emitter{Kinds: map[aggregate.Kind]bool{aggregate.KindFinal: true}, Loc: time.UTC, Now: func() time.Time { return now }},
		BadRecord: func(src string, line int, err error) {
			t.Errorf("%s:%d: unexpected bad record: %v", src, line, err)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestImportedSeedConformance: the rule `msixguard rules import` makes of
// the seed detection's security_content YAML gives byte-identical check
// output to the built-in rule on every case and input form of
// testdata/conformance (and both match expected.ndjson).
func TestImportedSeedConformance(t *testing.T) {
	src := "packs/testdata/security_content/windows_developer_signed_msix_package_installation.yml"
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	im, err := rules.ImportDetection(src, data, rules.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), im.ID+".yml")
	if err := os.WriteFile(file, im.YAML, 0o644); err != nil {
		t.Fatal(err)
	}
	imported, err := pipeline.LoadRules([]string{file}, true)
	if err != nil {
		t.Fatal(err)
	}
	if imported.Rules[0].Source != file {
		t.Fatalf("the imported rule did not load from its file: %s", imported.Rules[0].Source)
	}
	builtin, err := pipeline.LoadRules(nil, false)
	if err != nil {
		t.Fatal(err)
	}
	cases, _ := filepath.Glob("../testdata/conformance/*/expected.ndjson")
	if len(cases) == 0 {
		t.Fatal("no conformance cases")
	}
	runs := 0
	for _, exp := range cases {
		dir := filepath.Dir(exp)
		want, _ := os.ReadFile(exp)
		for _, form := range conformanceForms {
			in := filepath.Join(dir, form.file)
			if _, err := os.Stat(in); err != nil {
				continue
			}
			runs++
			t.Run(filepath.Base(dir)+"/"+form.file+"/"+string(form.format), func(t *testing.T) {
				a, b := checkOutput(t, imported, form.format, in), checkOutput(t, builtin, form.format, in)
				if !bytes.Equal(a, b) {
					t.Fatalf("imported rule:\n%s\nbuilt-in rule:\n%s", a, b)
				}
				missing, extra, err := pipeline.DiffMessages(want, a)
				if err != nil || len(missing)+len(extra) > 0 {
					t.Fatalf("against expected.ndjson: missing %s, unexpected %s (%v)", strings.Join(missing, "\n"), strings.Join(extra, "\n"), err)
				}
			})
		}
	}
	if runs < len(cases) {
		t.Fatalf("only %d runs for %d cases", runs, len(cases))
	}
}
