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

// Compact returns p with its own copy of FullName and the other fields
// sliced from it: one allocation instead of one per field, and nothing
// pinned to the memory p was decoded from. A p whose fields are not the
// parts of its FullName is copied field by field.
func (p Package) Compact() Package {
	if c, ok := parseFullName(strings.Clone(p.FullName)); ok && c == p {
		return c
	}
	return Package{FullName: strings.Clone(p.FullName), Name: strings.Clone(p.Name), Version: strings.Clone(p.Version),
		Architecture: strings.Clone(p.Architecture), ResourceID: strings.Clone(p.ResourceID), PublisherID: strings.Clone(p.PublisherID)}
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
	// Walk the whitespace-separated tokens by hand: this runs for every
	// matching event, and strings.Fields/Split would allocate per token.
	for rest := moniker; rest != "" && len(out) < MaxPackagesPerMoniker; {
		rest = strings.TrimLeft(rest, " \t\r\n")
		end := strings.IndexAny(rest, " \t\r\n")
		if end < 0 {
			end = len(rest)
		}
		tok := rest[:end]
		rest = rest[end:]
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
	if strings.Count(tok, "_") != 4 {
		return Package{}, false
	}
	var parts [5]string
	rest := tok
	for i := 0; i < 4; i++ {
		j := strings.IndexByte(rest, '_')
		parts[i], rest = rest[:j], rest[j+1:]
	}
	parts[4] = rest
	name, version, arch, res, pub := parts[0], parts[1], parts[2], parts[3], parts[4]
	if name == "" || !isVersion(version) || arch == "" || !isPublisherID(pub) {
		return Package{}, false
	}
	return Package{FullName: tok, Name: name, Version: version, Architecture: arch, ResourceID: res, PublisherID: pub}, true
}

// isVersion accepts the four-part dotted version MSIX requires.
func isVersion(s string) bool {
	dots, digits := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			if digits == 0 {
				return false
			}
			dots, digits = dots+1, 0
		case c >= '0' && c <= '9':
			digits++
		default:
			return false
		}
	}
	return dots == 3 && digits > 0
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

// In returns p with its fields sliced from full, a string equal to
// p.FullName that the caller owns (see Compact); a p whose fields are not
// the parts of its FullName gets compact copies.
func (p Package) In(full string) Package {
	if c, ok := parseFullName(full); ok && c == p {
		return c
	}
	return p.Compact()
}

// MergePackages adds ps to a distinct set sorted by full name, each new one
// as keep makes it (the set is often long-lived state: Compact). With a limit
// (> 0) it keeps the limit smallest names, so the result does not depend on
// the order events arrived in (a replay gives the same set). It reports
// whether the limit cut any package.
func MergePackages(set []Package, ps []Package, limit int, keep func(Package) Package) ([]Package, bool) {
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
		set[i] = keep(p)
	}
	return set, cut
}
