package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the root command in-process.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err = root.Execute()
	return out.String(), errOut.String(), err
}

const scTestdata = "../../rules/packs/testdata/security_content/"

// TestRulesImportThenTest: import the seed detection's security_content
// YAML into a rule file, then `rules test` that file on a conformance case.
func TestRulesImportThenTest(t *testing.T) {
	dir := t.TempDir()
	src := scTestdata + "windows_developer_signed_msix_package_installation.yml"
	if _, stderr, err := runCLI(t, "rules", "import", "-o", dir, src); err != nil {
		t.Fatalf("import: %v\n%s", err, stderr)
	}
	file := filepath.Join(dir, "windows_developer_signed_msix_package_installation.yml")
	out, _, err := runCLI(t, "rules", "test", file,
		"--events", "../../testdata/conformance/01_basic/events.ndjson", "--expect", "../../testdata/conformance/01_basic/expected.ndjson")
	if err != nil || !strings.Contains(out, "ok: rule windows_developer_signed_msix_package_installation gives the 3 expected risk messages") {
		t.Fatalf("rules test: %v\n%s", err, out)
	}
	// A second import into the same folder keeps the file unless --force.
	_, stderr, err := runCLI(t, "rules", "import", "-o", dir, src)
	if err == nil || !strings.Contains(stderr, "exists (use --force to replace it)") {
		t.Fatalf("overwrite without --force: %v\n%s", err, stderr)
	}
	if _, _, err := runCLI(t, "rules", "import", "-o", dir, "--force", src); err != nil {
		t.Fatal(err)
	}
}

// TestRulesImportStdoutAndErrors: rule files to stdout; a detection outside
// the subset is reported with the SPL fragment and its byte offset, the
// others are still written, and the exit code is 1.
func TestRulesImportStdoutAndErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yml")
	os.WriteFile(bad, []byte("name: Bad\ntype: TTP\nsearch: 'EventCode=1 | stats dc(user) as n count by dvc'\n"+
		"rba:\n  message: m\n  risk_objects: [{field: dvc, type: system, score: 1}]\n"), 0o644)
	stdout, stderr, err := runCLI(t, "rules", "import",
		scTestdata+"windows_appx_deployment_unsigned_package_installation.yml", bad,
		scTestdata+"windows_appx_deployment_package_installation_success.yml")
	var ee *exitError
	if err == nil || errors.As(err, &ee) && ee.code == 2 {
		t.Fatalf("want exit 1, got %v", err)
	}
	if !strings.Contains(stderr, `bad.yml: search: SPL byte 20: "dc(user)": stats dc() is not supported`) {
		t.Fatalf("stderr: %s", stderr)
	}
	if strings.Count(stdout, "\nid: ") != 2 || !strings.Contains(stdout, "\n---\n") {
		t.Fatalf("stdout:\n%s", stdout)
	}
}

// TestRulesImportOptions: --rba for a Hunting detection, --cron/--earliest/
// --latest, --macros; a bad flag file is a usage error (exit 2).
func TestRulesImportOptions(t *testing.T) {
	src := scTestdata + "windows_appx_deployment_full_trust_package_installation.yml"
	if _, stderr, err := runCLI(t, "rules", "import", src); err == nil || !strings.Contains(stderr, "--rba FILE") {
		t.Fatalf("hunting without --rba: %v %s", err, stderr)
	}
	stdout, stderr, err := runCLI(t, "rules", "import", "--rba", scTestdata+"rba_full_trust.yml",
		"--cron", "*/30 * * * *", "--earliest", "-35m@m", "--latest", "-5m@m", src)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, want := range []string{"score: 15", "window: 30m", "offset: 25m", "lag: 5m", "Schedule (import options)"} {
		if !strings.Contains(stdout, want) {
			t.Fatalf("no %q in\n%s", want, stdout)
		}
	}
	dir := t.TempDir()
	macros := filepath.Join(dir, "macros.yml")
	os.WriteFile(macros, []byte("macros:\n  - name: sysmon\n    search: Channel=\"Microsoft-Windows-Sysmon/Operational\"\n"), 0o644)
	det := filepath.Join(dir, "d.yml")
	os.WriteFile(det, []byte("name: Sysmon Thing\ntype: TTP\nsearch: '`sysmon` EventCode=1 | stats count by dvc'\n"+
		"rba:\n  message: m $dvc$\n  risk_objects: [{field: dvc, type: system, score: 1}]\n"), 0o644)
	stdout, _, err = runCLI(t, "rules", "import", "--macros", macros, det)
	if err != nil || !strings.Contains(stdout, "field: Channel") {
		t.Fatalf("%v\n%s", err, stdout)
	}
	os.WriteFile(macros, []byte("macros: [{name: x, search: 'a>1'}]\n"), 0o644)
	_, _, err = runCLI(t, "rules", "import", "--macros", macros, det)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 2 {
		t.Fatalf("bad macro file: %v", err)
	}
}

// TestRulesTestPackRule: a pack rule is tested by id with --rules pack:appx.
func TestRulesTestPackRule(t *testing.T) {
	out, _, err := runCLI(t, "rules", "test", "windows_appx_deployment_unsigned_package_installation", "--rules", "pack:appx",
		"--events", "../../rules/packs/testdata/appx/02_unsigned/events.ndjson",
		"--expect", "../../rules/packs/testdata/appx/02_unsigned/expected.ndjson")
	if err != nil || !strings.Contains(out, "ok: rule windows_appx_deployment_unsigned_package_installation gives the 2 expected") {
		t.Fatalf("%v\n%s", err, out)
	}
}
