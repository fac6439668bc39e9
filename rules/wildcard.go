package rules

import (
	"strings"
	"unicode/utf8"
)

// pattern is a compiled SPL wildcard string: `*` matches any run of
// characters, everything else matches itself case-insensitively. SPL has no
// other wildcard (`?` is literal), so a tiny matcher beats a glob library and
// needs no allocation on the hot path.
type pattern struct {
	raw      string
	segments []string // literal parts between stars, lower-cased
	anchorL  bool     // no leading star: first segment is a prefix
	anchorR  bool     // no trailing star: last segment is a suffix
	ascii    bool     // fold with ASCII rules, no allocation
}

func compilePattern(s string) pattern {
	p := pattern{raw: s, anchorL: !strings.HasPrefix(s, "*"), anchorR: !strings.HasSuffix(s, "*"), ascii: isASCII(s)}
	for _, seg := range strings.Split(s, "*") {
		if seg != "" {
			p.segments = append(p.segments, strings.ToLower(seg))
		}
	}
	if !strings.Contains(s, "*") {
		p.anchorL, p.anchorR = true, true
	}
	return p
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// match reports whether v matches the pattern.
func (p *pattern) match(v string) bool {
	if !p.ascii || !isASCII(v) {
		// Unicode case folding changes byte lengths; lower both sides.
		v = strings.ToLower(v)
		return p.matchLower(v, func(s, sub string) int { return strings.Index(s, sub) }, strings.HasPrefix, strings.HasSuffix)
	}
	return p.matchLower(v, indexFoldASCII, hasPrefixFoldASCII, hasSuffixFoldASCII)
}

func (p *pattern) matchLower(v string, index func(s, sub string) int, hasPrefix, hasSuffix func(s, x string) bool) bool {
	segs := p.segments
	if len(segs) == 0 {
		// "*" matches anything; "" matches only the empty string.
		return !p.anchorL || v == ""
	}
	if p.anchorL && p.anchorR && len(segs) == 1 {
		return len(v) == len(segs[0]) && hasPrefix(v, segs[0])
	}
	if p.anchorL {
		if !hasPrefix(v, segs[0]) {
			return false
		}
		v = v[len(segs[0]):]
		segs = segs[1:]
	}
	last := ""
	if p.anchorR && len(segs) > 0 {
		last = segs[len(segs)-1]
		segs = segs[:len(segs)-1]
	}
	// Leftmost match of each middle segment is optimal for `*`-only globs.
	for _, s := range segs {
		i := index(v, s)
		if i < 0 {
			return false
		}
		v = v[i+len(s):]
	}
	if p.anchorR {
		return len(v) >= len(last) && hasSuffix(v, last)
	}
	return true
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// hasPrefixFoldASCII reports whether s starts with x, where x is lower case.
func hasPrefixFoldASCII(s, x string) bool {
	if len(s) < len(x) {
		return false
	}
	for i := 0; i < len(x); i++ {
		if lowerASCII(s[i]) != x[i] {
			return false
		}
	}
	return true
}

func hasSuffixFoldASCII(s, x string) bool {
	return len(s) >= len(x) && hasPrefixFoldASCII(s[len(s)-len(x):], x)
}

// indexFoldASCII finds lower-case sub in s ignoring ASCII case.
func indexFoldASCII(s, sub string) int {
	if len(sub) == 0 {
		return 0
	}
	first := sub[0]
	upper := first
	if first >= 'a' && first <= 'z' {
		upper = first - ('a' - 'A')
	}
	for i := 0; i+len(sub) <= len(s); i++ {
		c := s[i]
		if c != first && c != upper {
			// Jump to the next candidate with the fast byte search.
			j := indexEither(s[i+1:len(s)-len(sub)+1], first, upper)
			if j < 0 {
				return -1
			}
			i += j
			continue
		}
		if hasPrefixFoldASCII(s[i:], sub) {
			return i
		}
	}
	return -1
}

func indexEither(s string, a, b byte) int {
	i := strings.IndexByte(s, a)
	if a == b {
		return i
	}
	j := strings.IndexByte(s, b)
	switch {
	case i < 0:
		return j
	case j < 0:
		return i
	case i < j:
		return i
	default:
		return j
	}
}
