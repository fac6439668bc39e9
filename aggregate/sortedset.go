package aggregate

import "sort"

// insertSorted adds v to a distinct, byte-sorted set. With limit > 0 it keeps
// the limit smallest values, so the result does not depend on arrival order
// and a replay gives the same set. It reports whether the limit cut a value,
// and by how many bytes of strings (plus their headers) the set grew.
func insertSorted(set []string, v string, limit int, keep func(string) string) ([]string, bool, int64) {
	i := sort.SearchStrings(set, v)
	if i < len(set) && set[i] == v {
		return set, false, 0
	}
	grew := int64(len(v) + stringOverhead)
	if limit > 0 && len(set) >= limit {
		if i >= len(set) {
			return set, true, 0
		}
		grew -= int64(len(set[len(set)-1]) + stringOverhead)
		set = set[:len(set)-1]
		set = append(set, "")
		copy(set[i+1:], set[i:])
		set[i] = keep(v)
		return set, true, grew
	}
	set = append(set, "")
	copy(set[i+1:], set[i:])
	set[i] = keep(v)
	return set, false, grew
}
