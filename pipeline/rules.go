package pipeline

import (
	"fmt"
	"os"

	"github.com/msixguard/msixguard/rules"
)

// LoadRules returns the built-in rules (unless noBuiltin) plus every rule
// file of the given paths (directories or files). A file rule with the id of
// a built-in one replaces it, so operators can adjust a shipped detection
// (score, schedule) without forking it.
func LoadRules(paths []string, noBuiltin bool) (*rules.Set, error) {
	var base []*rules.Rule
	if !noBuiltin {
		b, err := rules.Builtin()
		if err != nil {
			return nil, err
		}
		base = b
	}
	var extra []*rules.Rule
	for _, p := range paths {
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
