package pipeline

import (
	"fmt"
	"os"
	"strings"

	"github.com/msixguard/msixguard/rules"
)

// LoadRules returns the built-in rules (unless noBuiltin) plus every rule
// pack (pack:NAME) and rule file of the given paths (directories or files).
// A file rule with the id of a built-in or pack one replaces it, so
// operators can adjust a shipped detection (score, schedule) without
// forking it. A pack that includes a built-in rule does not add it twice.
func LoadRules(paths []string, noBuiltin bool) (*rules.Set, error) {
	var base []*rules.Rule
	if !noBuiltin {
		b, err := rules.Builtin()
		if err != nil {
			return nil, err
		}
		base = b
	}
	var files []string
	for _, p := range paths {
		name, ok := strings.CutPrefix(p, rules.PackPrefix)
		if !ok {
			files = append(files, p)
			continue
		}
		rs, err := rules.Pack(name)
		if err != nil {
			return nil, fmt.Errorf("rules: %w", err)
		}
		base = mergeRules(base, rs)
	}
	var extra []*rules.Rule
	for _, p := range files {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("rules: %w", err)
		}
		if st.IsDir() {
			rs, err := rules.LoadDir(p)
			if err != nil {
				return nil, err
			}
			extra = append(extra, rs...)
			continue
		}
		r, err := rules.LoadFile(p)
		if err != nil {
			return nil, err
		}
		extra = append(extra, r)
	}
	overridden := map[string]bool{}
	for _, r := range extra {
		overridden[r.ID] = true
	}
	var all []*rules.Rule
	for _, r := range base {
		if !overridden[r.ID] {
			all = append(all, r)
		}
	}
	return rules.NewSet(append(all, extra...))
}

// mergeRules adds rules to base; one with the id of a rule already there
// replaces it in place (a pack's built-in rule is that same rule).
func mergeRules(base, add []*rules.Rule) []*rules.Rule {
	for _, r := range add {
		replaced := false
		for i, b := range base {
			if b.ID == r.ID {
				base[i], replaced = r, true
				break
			}
		}
		if !replaced {
			base = append(base, r)
		}
	}
	return base
}
