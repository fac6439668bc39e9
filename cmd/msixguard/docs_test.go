package main

import (
	"os"
	"strings"
	"testing"
)

// TestConfigurationDocMatchesHelp: docs/configuration.md shows the flags of
// `msixguard run` as `run --help` prints them; a flag added, removed or
// reworded without the doc fails here (regenerate the block from the help).
func TestConfigurationDocMatchesHelp(t *testing.T) {
	out, _, err := runCLI(t, "run", "--help")
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(out, "Flags:\n")
	if i < 0 {
		t.Fatalf("no Flags: section in run --help:\n%s", out)
	}
	help := strings.TrimRight(out[i+len("Flags:\n"):], "\n")
	if j := strings.Index(help, "\n\n"); j >= 0 {
		help = help[:j] // global flags or usage hints follow
	}
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```\n"+help+"\n```") {
		t.Fatalf("docs/configuration.md's flag block differs from `msixguard run --help`; it should read:\n%s", help)
	}
}
