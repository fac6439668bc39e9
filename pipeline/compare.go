package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
)

// nonContract are the risk-message fields outside the Splunk contract:
// processing time and the parsed packages, which Splunk does not give.
var nonContract = []string{"detected_at", "packages", "packages_truncated"}

// CanonicalMessages parses NDJSON risk messages into a sorted list of
// canonical JSON strings without the non-contract fields, so two runs (or a
// run and an expected file) compare as multisets.
func CanonicalMessages(data []byte) ([]string, error) {
	var out []string
	for i, line := range bytes.Split(data, []byte{'\n'}) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		for _, f := range nonContract {
			delete(m, f)
		}
		b, err := json.Marshal(m) // map keys are sorted: a canonical form
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		out = append(out, string(b))
	}
	sort.Strings(out)
	return out, nil
}

// DiffMessages compares two NDJSON sets of risk messages on the contract
// fields: what want has that got lacks, and the reverse. Exact repeats in
// got (at-least-once delivery) are not differences.
func DiffMessages(want, got []byte) (missing, extra []string, err error) {
	w, err := CanonicalMessages(want)
	if err != nil {
		return nil, nil, fmt.Errorf("expected: %w", err)
	}
	g, err := CanonicalMessages(got)
	if err != nil {
		return nil, nil, fmt.Errorf("output: %w", err)
	}
	in := func(set []string, s string) bool {
		i := sort.SearchStrings(set, s)
		return i < len(set) && set[i] == s
	}
	for _, s := range w {
		if !in(g, s) && (len(missing) == 0 || missing[len(missing)-1] != s) {
			missing = append(missing, s)
		}
	}
	for _, s := range g {
		if !in(w, s) && (len(extra) == 0 || extra[len(extra)-1] != s) {
			extra = append(extra, s)
		}
	}
	return missing, extra, nil
}
