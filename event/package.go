package event

import (
	"sort"
	"strings"
)

// Package is one MSIX/AppX package full name parsed out of a PackageMoniker
// string: Name_Version_Architecture_ResourceId_PublisherId.
type Package struct {
	FullName     string `json:"full_name"`
	Name         string `json:"name"`
	Version      string `json:"version"`
	Architecture string `json:"architecture"`
	ResourceID   string `json:"resource_id,omitempty"`
	PublisherID  string `json:"publisher_id"`
}

// MaxPackagesPerMoniker bounds ParsePackages.
const MaxPackagesPerMoniker = 64

// ParsePackages extracts the package full names from a PackageMoniker value.
// Event 855 writes one string that can name several packages behind labels
// ("addPackageList:", "updateList:") and prose ("is updating to"); every
// whitespace-separated token that has the five-part full-name shape with a
// 13-character publisher ID is a package. Duplicates are dropped, the order
// of first appearance kept; at most MaxPackagesPerMoniker are returned (a
// real event names a handful; the bound keeps hostile strings linear).
func ParsePackages(moniker string) []Package {
	var out []Package
	for _, tok := range strings.Fields(moniker) {
		if len(out) >= MaxPackagesPerMoniker {
			break
		}
		p, ok := parseFullName(tok)
		if !ok {
			continue
		}
		dup := false
		for _, q := range out {
			if q.FullName == p.FullName {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, p)
		}
	}
	return out
}

func parseFullName(tok string) (Package, bool) {
	parts := strings.Split(tok, "_")
	if len(parts) != 5 {
		return Package{}, false
	}
	name, version, arch, res, pub := parts[0], parts[1], parts[2], parts[3], parts[4]
	if name == "" || !isVersion(version) || arch == "" || !isPublisherID(pub) {
		return Package{}, false
	}
	return Package{FullName: tok, Name: name, Version: version, Architecture: arch, ResourceID: res, PublisherID: pub}, true
}

// isVersion accepts the four-part dotted version MSIX requires.
func isVersion(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		if p == "" {
			return false
		}
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return false
			}
		}
	}
	return true
}

// isPublisherID accepts the 13-character Crockford base32 hash Windows
// derives from the publisher (lower case in full names; case-insensitive
// here because some pipelines upper-case fields).
func isPublisherID(s string) bool {
	if len(s) != 13 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// MergePackages adds ps to a distinct set sorted by full name. With a limit
// (> 0) it keeps the limit smallest names, so the result does not depend on
// the order events arrived in (a replay gives the same set). It reports
// whether the limit cut any package.
func MergePackages(set []Package, ps []Package, limit int) ([]Package, bool) {
	cut := false
	for _, p := range ps {
		i := sort.Search(len(set), func(i int) bool { return set[i].FullName >= p.FullName })
		if i < len(set) && set[i].FullName == p.FullName {
			continue
		}
		if limit > 0 && len(set) >= limit {
			cut = true
			if i >= len(set) {
				continue // larger than every kept name
			}
			set = set[:len(set)-1] // drop the largest to make room
		}
		set = append(set, Package{})
		copy(set[i+1:], set[i:])
		set[i] = p
	}
	return set, cut
}
