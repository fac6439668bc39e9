package rules

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"time"

	"go.yaml.in/yaml/v3"
)

// Allowlist is the tuning file: the `<rule>_filter` macro of a Splunk
// detection, where analysts suppress known-good groups (an in-house app, a
// packaging server). A group is suppressed when every field of some entry
// matches; a multivalue field matches when any of its values does, as
// `NOT PackageMoniker="*Contoso*"` does in a Splunk filter macro.
type Allowlist struct {
	Entries []AllowEntry
}

// AllowEntry is one suppression.
type AllowEntry struct {
	Rule    string // rule id; "" or "*" for every rule
	Reason  string
	Expires time.Time // zero: never; after it the entry stops suppressing
	Line    int
	fields  []string
	pats    [][]pattern
}

type allowFile struct {
	Allow []struct {
		Rule    string         `yaml:"rule"`
		Reason  string         `yaml:"reason"`
		Expires string         `yaml:"expires"`
		Match   map[string]any `yaml:"match"`
	} `yaml:"allow"`
}

// ParseAllowlist compiles a tuning file. name is used in errors.
func ParseAllowlist(name string, data []byte) (*Allowlist, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(name, err)
	}
	var af allowFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&af); err != nil {
		return nil, yamlError(name, err)
	}
	var items []*yaml.Node
	if len(root.Content) > 0 {
		if n := valueNode(root.Content[0], "allow"); n != nil {
			items = n.Content
		}
	}
	al := &Allowlist{}
	for i, a := range af.Allow {
		line := 0
		if i < len(items) {
			line = items[i].Line
		}
		fail := func(format string, args ...any) error {
			return &FileError{File: name, Line: line, Reason: fmt.Sprintf(format, args...)}
		}
		if len(a.Match) == 0 {
			return nil, fail("allow entry needs match: {field: pattern, …}")
		}
		if a.Reason == "" {
			return nil, fail("allow entry needs a reason, so the next analyst knows why it is suppressed")
		}
		e := AllowEntry{Rule: a.Rule, Reason: a.Reason, Line: line}
		if a.Expires != "" {
			t, err := time.Parse("2006-01-02", a.Expires)
			if err != nil {
				return nil, fail("expires must be a date like 2027-01-31: %v", err)
			}
			e.Expires = t
		}
		for _, f := range sortedKeys(a.Match) {
			var pats []pattern
			switch v := a.Match[f].(type) {
			case string:
				pats = append(pats, compilePattern(v))
			case int, float64, bool:
				pats = append(pats, compilePattern(fmt.Sprint(v)))
			case []any:
				for _, x := range v {
					pats = append(pats, compilePattern(fmt.Sprint(x)))
				}
			default:
				return nil, fail("match.%s must be a pattern or a list of patterns", f)
			}
			e.fields = append(e.fields, f)
			e.pats = append(e.pats, pats)
		}
		al.Entries = append(al.Entries, e)
	}
	return al, nil
}

// LoadAllowlist reads a tuning file from disk.
func LoadAllowlist(path string) (*Allowlist, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read tuning file: %w", err)
	}
	return ParseAllowlist(path, data)
}

// Suppressed reports whether a group of rule, with output fields given by
// get (name → values), is allowlisted at time now, and by which entry.
// A nil Allowlist suppresses nothing.
func (a *Allowlist) Suppressed(rule string, get func(field string) []string, now time.Time) (*AllowEntry, bool) {
	if a == nil {
		return nil, false
	}
	for i := range a.Entries {
		e := &a.Entries[i]
		if e.Rule != "" && e.Rule != "*" && e.Rule != rule {
			continue
		}
		if !e.Expires.IsZero() && !now.Before(e.Expires) {
			continue
		}
		if e.matches(get) {
			return e, true
		}
	}
	return nil, false
}

func (e *AllowEntry) matches(get func(string) []string) bool {
	for i, f := range e.fields {
		hit := false
		for _, v := range get(f) {
			for j := range e.pats[i] {
				if e.pats[i][j].match(v) {
					hit = true
					break
				}
			}
			if hit {
				break
			}
		}
		if !hit {
			return false
		}
	}
	return true
}

func valueNode(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
