package rules

import (
	"os"
	"path/filepath"
	"testing"
)

// TestPackRulesAreTheirImports: each rule of the AppX pack is what the
// importer makes of the security_content detection it was written from
// (the full-trust one with the pack's own rba, since upstream has none):
// same filter, stats, rename, schedule, risk and MITRE. Only the
// description differs.
func TestPackRulesAreTheirImports(t *testing.T) {
	pack, err := Pack("appx")
	if err != nil {
		t.Fatal(err)
	}
	rbaData, err := os.ReadFile(filepath.Join(scDir, "rba_full_trust.yml"))
	if err != nil {
		t.Fatal(err)
	}
	rba, err := ParseRBA("rba_full_trust.yml", rbaData)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range pack {
		im := importFile(t, filepath.Join(scDir, r.ID+".yml"), ImportOptions{RBA: rba})
		if got, want := semantics(im.Rule), semantics(r); got != want {
			t.Errorf("%s:\nimported:\n%s\npack:\n%s", r.ID, got, want)
		}
	}
}
