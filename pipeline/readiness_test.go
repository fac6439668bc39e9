package pipeline

import (
	"slices"
	"testing"
)

func TestReadinessFollowsGenerations(t *testing.T) {
	var got []bool
	r := newReadiness(2, func(b bool) { got = append(got, b) })
	join1, end1 := r.joined(0)
	join2, end2 := r.joined(1)
	join1(nil) // stage 2 not in yet: not ready
	join2(nil) // ready
	end1()     // stage 1 rebalances: not ready
	join1(nil) // ready again
	end2()
	end1()
	if want := []bool{true, false, true, false}; !slices.Equal(got, want) {
		t.Fatalf("transitions %v, want %v", got, want)
	}
}
