package rules

import (
	"fmt"

	"github.com/msixguard/msixguard/event"
)

// Set is the rules one process runs: every record is decoded once and then
// offered to every rule.
type Set struct {
	Rules []*Rule
	byID  map[string]*Rule
}

// NewSet checks that rule ids are unique.
func NewSet(rs []*Rule) (*Set, error) {
	s := &Set{byID: map[string]*Rule{}}
	for _, r := range rs {
		if prev, ok := s.byID[r.ID]; ok {
			return nil, fmt.Errorf("rule id %q defined twice (%s and %s)", r.ID, prev.Source, r.Source)
		}
		s.byID[r.ID] = r
		s.Rules = append(s.Rules, r)
	}
	if len(s.Rules) == 0 {
		return nil, fmt.Errorf("no rules to run")
	}
	return s, nil
}

// Rule returns the rule with the given id.
func (s *Set) Rule(id string) (*Rule, bool) {
	r, ok := s.byID[id]
	return r, ok
}

// Fields returns every field any rule reads.
func (s *Set) Fields() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range s.Rules {
		for _, f := range r.Fields() {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	return out
}

// Detect offers ev to every rule. For each rule whose filter passes it calls
// fn with the extracted match, or with a drop reason when the event cannot be
// counted. It reports whether any rule's filter passed.
func (s *Set) Detect(ev *event.Event, fn func(r *Rule, m Match, drop DropReason)) bool {
	any := false
	for _, r := range s.Rules {
		if !r.Match(ev) {
			continue
		}
		any = true
		m, drop := r.Extract(ev)
		fn(r, m, drop)
	}
	return any
}
