package aggregate

import "sort"

// insertSorted adds v to a distinct, byte-sorted set. With limit > 0 it keeps
// the limit smallest values, so the result does not depend on arrival order
// and a replay gives the same set. It reports whether the limit cut a value.
func insertSorted(set []string, v string, limit int) ([]string, bool) {
	i := sort.SearchStrings(set, v)
	if i < len(set) && set[i] == v {
		return set, false
	}
	if limit > 0 && len(set) >= limit {
		if i >= len(set) {
			return set, true
		}
		set = set[:len(set)-1]
		set = append(set, "")
		copy(set[i+1:], set[i:])
		set[i] = v
		return set, true
	}
	set = append(set, "")
	copy(set[i+1:], set[i:])
	set[i] = v
	return set, false
}
