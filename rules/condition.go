package rules

import (
	"strconv"
	"strings"

	"github.com/msixguard/msixguard/event"
)

// Op is a filter operator of the search clause.
type Op string

// The operators and their SPL spelling.
const (
	OpEquals    Op = "equals"     // field=value
	OpNotEquals Op = "not_equals" // field!=value: the field must exist
	OpIn        Op = "in"         // field IN (a, b)
	OpNotIn     Op = "not_in"     // NOT field IN (a, b): true when the field is missing
	// Groups, for SPL's OR and for NOT over several terms: Sub holds the
	// conditions, of which any (OR) or all (AND) must hold.
	OpAny Op = "any"
	OpAll Op = "all"
)

// Condition is one compiled term of a rule's search filter. All conditions
// of a rule must hold (SPL's implicit AND); an any or all group holds its
// own conditions in Sub (Field and Values empty).
type Condition struct {
	Field  string
	Op     Op
	Values []string
	Sub    []Condition

	patterns []pattern
	numbers  []float64 // parallel to patterns; NaN-free only where isNum
	isNum    []bool
}

func newCondition(field string, op Op, values []string) Condition {
	c := Condition{Field: field, Op: op, Values: values}
	for _, v := range values {
		c.patterns = append(c.patterns, compilePattern(v))
		n, ok := parseNumber(v)
		c.numbers = append(c.numbers, n)
		c.isNum = append(c.isNum, ok && !strings.Contains(v, "*"))
	}
	return c
}

// parseNumber parses SPL-style numbers ("855", "855.0", "0x357" is not a
// number in SPL search and stays a string).
func parseNumber(s string) (float64, bool) {
	// Most values compared with a number are short decimal integers (every
	// record's EventCode): read those without ParseFloat, which cost a
	// tenth of stage 1's time per record. 15 digits are exact in a float64.
	if n := len(s); n > 0 && n <= 15 {
		var x uint64
		i := 0
		for ; i < n && s[i] >= '0' && s[i] <= '9'; i++ {
			x = x*10 + uint64(s[i]-'0')
		}
		if i == n {
			return float64(x), true
		}
	}
	if s == "" || strings.ContainsAny(s, "xXpP_") {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return f, err == nil
}

// anyValueMatches reports whether some value of the field matches some of
// the condition's values, and whether the field had any value at all.
func (c *Condition) anyValueMatches(ev *event.Event) (matched, present bool) {
	for _, v := range ev.Values(c.Field) {
		if v == "" {
			continue
		}
		present = true
		if c.valueMatches(v) {
			return true, true
		}
	}
	return false, present
}

func (c *Condition) valueMatches(v string) bool {
	var vn float64
	vnOK := false
	vnDone := false
	for i := range c.patterns {
		if c.isNum[i] {
			if !vnDone {
				vn, vnOK = parseNumber(v)
				vnDone = true
			}
			if vnOK {
				if vn == c.numbers[i] {
					return true
				}
				continue
			}
		}
		if c.patterns[i].match(v) {
			return true
		}
	}
	return false
}

// Holds evaluates the condition on ev with SPL semantics.
func (c *Condition) Holds(ev *event.Event) bool {
	switch c.Op {
	case OpAny:
		for i := range c.Sub {
			if c.Sub[i].Holds(ev) {
				return true
			}
		}
		return false
	case OpAll:
		for i := range c.Sub {
			if !c.Sub[i].Holds(ev) {
				return false
			}
		}
		return true
	}
	matched, present := c.anyValueMatches(ev)
	switch c.Op {
	case OpEquals, OpIn:
		return matched
	case OpNotEquals:
		// SPL: field!=value needs the field; unlike NOT field=value.
		return present && !matched
	case OpNotIn:
		return !matched
	}
	return false
}

// fields calls add with every event field the condition reads.
func (c *Condition) fields(add func(string)) {
	if c.Op == OpAny || c.Op == OpAll {
		for i := range c.Sub {
			c.Sub[i].fields(add)
		}
		return
	}
	add(c.Field)
}
