package rules

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
)

//go:embed builtin/*.yml
var builtinFS embed.FS

// SeedRuleID is the reference detection the product ships with.
const SeedRuleID = "windows_developer_signed_msix_package_installation"

// Builtin returns the rules shipped inside the binary.
func Builtin() ([]*Rule, error) {
	names, err := fs.Glob(builtinFS, "builtin/*.yml")
	if err != nil {
		return nil, fmt.Errorf("list built-in rules: %w", err)
	}
	sort.Strings(names)
	var out []*Rule
	for _, n := range names {
		data, err := builtinFS.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("read built-in rule %s: %w", n, err)
		}
		r, err := Parse("builtin:"+path.Base(n), data)
		if err != nil {
			return nil, err
		}
		r.Source = "builtin"
		out = append(out, r)
	}
	return out, nil
}
