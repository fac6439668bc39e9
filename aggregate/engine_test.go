package aggregate

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/msixguard/msixguard/rules"
)

func seedRule(t testing.TB) *rules.Rule {
	t.Helper()
	rs, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	return rs[0]
}

func ts(t testing.TB, s string) int64 {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm.UnixNano()
}

func match(r *rules.Rule, at int64, dvc, user string, pm ...string) rules.Match {
	m := rules.Match{Rule: r.ID, Time: at, By: []string{dvc, "855", user}, Values: [][]string{pm}}
	return m
}

func TestWindowEdgesAndFinalization(t *testing.T) {
	r := seedRule(t)
	e := New([]*rules.Rule{r}, Options{})
	e.Add(match(r, ts(t, "2024-05-01T10:49:59.999999999Z"), "H", "U", "a"))
	e.Add(match(r, ts(t, "2024-05-01T10:50:00Z"), "H", "U", "b"))
	e.Add(match(r, ts(t, "2024-05-01T11:49:59Z"), "H", "U", "c"))
	if e.OpenGroups() != 2 {
		t.Fatalf("open groups = %d, want 2 (one per window)", e.OpenGroups())
	}
	// Window [09:50, 10:50) is final at 11:00 (end + 10m lag), not before.
	if got := e.Advance(time.Unix(0, ts(t, "2024-05-01T10:59:59.999999999Z"))); len(got) != 0 {
		t.Fatalf("closed %d groups one nanosecond before end+lag", len(got))
	}
	got := e.Advance(time.Unix(0, ts(t, "2024-05-01T11:00:00Z")))
	if len(got) != 1 || got[0].Kind != KindFinal || got[0].Group.Count != 1 || got[0].Group.Values[0][0] != "a" {
		t.Fatalf("at 11:00 got %+v, want the 09:50 window with 1 event", got)
	}
	got = e.Advance(time.Unix(0, ts(t, "2024-05-01T12:00:00Z")))
	if len(got) != 1 || got[0].Group.Count != 2 || got[0].Group.WindowStart != ts(t, "2024-05-01T10:50:00Z") {
		t.Fatalf("at 12:00 got %+v", got)
	}
	if g := got[0].Group; g.First != ts(t, "2024-05-01T10:50:00Z") || g.Last != ts(t, "2024-05-01T11:49:59Z") {
		t.Fatalf("first/last = %d/%d", g.First, g.Last)
	}
}

func TestWatermarkNeverMovesBack(t *testing.T) {
	r := seedRule(t)
	e := New([]*rules.Rule{r}, Options{})
	e.Advance(time.Unix(0, ts(t, "2024-05-01T12:00:00Z")))
	e.Advance(time.Unix(0, ts(t, "2024-05-01T08:00:00Z")))
	if wm, _ := e.Watermark(); !wm.Equal(time.Unix(0, ts(t, "2024-05-01T12:00:00Z"))) {
		t.Fatalf("watermark moved back to %v", wm)
	}
}

func TestEarlyAndLate(t *testing.T) {
	r := seedRule(t)
	e := New([]*rules.Rule{r}, Options{})
	res, _ := e.Add(match(r, ts(t, "2024-05-01T11:00:00Z"), "H", "U", "a"))
	if len(res) != 1 || res[0].Kind != KindEarly || res[0].Group.Count != 1 {
		t.Fatalf("first match: %+v, want one early result", res)
	}
	if res, _ := e.Add(match(r, ts(t, "2024-05-01T11:01:00Z"), "H", "U", "b")); len(res) != 0 {
		t.Fatalf("second match of the group: %+v, want nothing", res)
	}
	if res[0].Group.Count != 1 || len(res[0].Group.Values[0]) != 1 {
		t.Fatal("early result changed as the group grew")
	}
	e.Advance(time.Unix(0, ts(t, "2024-05-01T12:00:00Z")))
	res, _ = e.Add(match(r, ts(t, "2024-05-01T11:30:00Z"), "H", "U", "late"))
	if len(res) != 1 || res[0].Kind != KindLate || res[0].Group.Count != 1 || res[0].Group.Values[0][0] != "late" {
		t.Fatalf("late match: %+v", res)
	}
	if e.OpenGroups() != 0 {
		t.Fatal("a late match reopened its window")
	}
	// The window after is still open.
	if res, _ := e.Add(match(r, ts(t, "2024-05-01T11:50:00Z"), "H", "U", "x")); len(res) != 1 || res[0].Kind != KindEarly {
		t.Fatalf("next window: %+v", res)
	}
}

func TestValuesSortedDistinctCapped(t *testing.T) {
	r := *seedRule(t)
	r.ValuesCap = 3
	e := New([]*rules.Rule{&r}, Options{})
	at := ts(t, "2024-05-01T11:00:00Z")
	for _, v := range []string{"d", "b", "b", "e", "a", "B", "c"} {
		e.Add(match(&r, at, "H", "U", v))
	}
	got := e.Flush()
	if len(got) != 1 {
		t.Fatalf("%d groups", len(got))
	}
	g := got[0].Group
	if fmt.Sprint(g.Values[0]) != "[B a b]" || !g.Truncated[0] || g.Count != 7 {
		t.Fatalf("values = %q truncated=%v count=%d, want [B a b] (byte order, 3 smallest) truncated", g.Values[0], g.Truncated[0], g.Count)
	}
}

func TestValuesIndependentOfArrivalOrder(t *testing.T) {
	r := *seedRule(t)
	r.ValuesCap = 2
	vals := []string{"z", "y", "x", "w"}
	var out []string
	for _, order := range [][]int{{0, 1, 2, 3}, {3, 2, 1, 0}, {1, 3, 0, 2}} {
		e := New([]*rules.Rule{&r}, Options{})
		for _, i := range order {
			e.Add(match(&r, ts(t, "2024-05-01T11:00:00Z"), "H", "U", vals[i]))
		}
		out = append(out, fmt.Sprint(e.Flush()[0].Group.Values[0]))
	}
	if out[0] != out[1] || out[1] != out[2] {
		t.Fatalf("capped values depend on arrival order: %v", out)
	}
}

func TestGroupsByAllByFields(t *testing.T) {
	r := seedRule(t)
	e := New([]*rules.Rule{r}, Options{})
	at := ts(t, "2024-05-01T11:00:00Z")
	e.Add(match(r, at, "H", "U"))
	e.Add(match(r, at, "H", "U2"))
	e.Add(match(r, at, "H2", "U"))
	e.Add(match(r, at, "H", "U"))
	got := e.Flush()
	if len(got) != 3 {
		t.Fatalf("%d groups, want 3", len(got))
	}
	// Sorted by by-values: (H,U) (H,U2) (H2,U).
	if got[0].Group.By[0] != "H" || got[0].Group.By[2] != "U" || got[0].Group.Count != 2 {
		t.Fatalf("first group %+v", got[0].Group)
	}
	// A group with no values at all still counts.
	if len(got[1].Group.Values[0]) != 0 || got[1].Group.Count != 1 {
		t.Fatalf("group without values: %+v", got[1].Group)
	}
}

func TestByKeyNoCollision(t *testing.T) {
	r := seedRule(t)
	e := New([]*rules.Rule{r}, Options{})
	at := ts(t, "2024-05-01T11:00:00Z")
	e.Add(rules.Match{Rule: r.ID, Time: at, By: []string{"a\x00b", "c", "d"}})
	e.Add(rules.Match{Rule: r.ID, Time: at, By: []string{"a", "b\x00c", "d"}})
	if e.OpenGroups() != 2 {
		t.Fatal("different by-values shared a group")
	}
}

func TestGroupLimit(t *testing.T) {
	r := seedRule(t)
	e := New([]*rules.Rule{r}, Options{MaxGroups: 2})
	at := ts(t, "2024-05-01T11:00:00Z")
	for i := 0; i < 5; i++ {
		e.Add(match(r, at, fmt.Sprint("H", i), "U"))
	}
	e.Add(match(r, at, "H0", "U")) // existing group still counts
	if e.OpenGroups() != 2 || e.Dropped[DropGroupLimit] != 3 {
		t.Fatalf("open=%d dropped=%d, want 2 and 3", e.OpenGroups(), e.Dropped[DropGroupLimit])
	}
}

func BenchmarkAdd(b *testing.B) {
	r := seedRule(b)
	e := New([]*rules.Rule{r}, Options{})
	at := ts(b, "2024-05-01T11:00:00Z")
	ms := make([]rules.Match, 1024)
	for i := range ms {
		ms[i] = match(r, at+int64(i), fmt.Sprint("H", i%64), "U", fmt.Sprint("pkg", i%8))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.Add(ms[i%len(ms)])
	}
}

// TestAdvanceClosesEachWindowWhenDue steps the watermark minute by minute
// over groups in several windows (opened out of order) and checks every
// window closes exactly at end + lag, no earlier and no later.
func TestAdvanceClosesEachWindowWhenDue(t *testing.T) {
	r := seedRule(t)
	e := New([]*rules.Rule{r}, Options{})
	base := ts(t, "2024-05-01T10:50:00Z")
	for _, h := range []int{2, 0, 3, 1} {
		e.Add(match(r, base+int64(h)*int64(time.Hour)+int64(time.Minute), "H", "U"))
		e.Add(match(r, base+int64(h)*int64(time.Hour)+int64(2*time.Minute), "H2", "U"))
	}
	closed := map[int64]int64{} // window start → watermark that closed it
	for wm := base; wm <= base+int64(6*time.Hour); wm += int64(time.Minute) {
		for _, res := range e.Advance(time.Unix(0, wm)) {
			if _, ok := closed[res.Group.WindowStart]; !ok {
				closed[res.Group.WindowStart] = wm
			}
		}
	}
	for h := 0; h < 4; h++ {
		start := base + int64(h)*int64(time.Hour)
		if got, want := closed[start], start+int64(70*time.Minute); got != want {
			t.Errorf("window %d closed at %v, want %v", h, time.Unix(0, got).UTC(), time.Unix(0, want).UTC())
		}
	}
	if e.OpenGroups() != 0 {
		t.Fatalf("%d groups left open", e.OpenGroups())
	}
}

func TestStateBytesTracksOpenGroups(t *testing.T) {
	r := *seedRule(t)
	r.ValuesCap = 2
	e := New([]*rules.Rule{&r}, Options{})
	at := ts(t, "2024-05-01T11:00:00Z")
	e.Add(match(&r, at, "H", "U", "aaaa"))
	one := e.StateBytes()
	e.Add(match(&r, at, "H", "U", "bbbb"))
	two := e.StateBytes()
	e.Add(match(&r, at, "H", "U", "a")) // cap 2: "bbbb" leaves, "a" comes in
	if one <= 0 || two != one+4+stringOverhead || e.StateBytes() != two-3 {
		t.Fatalf("state bytes %d, %d, %d", one, two, e.StateBytes())
	}
	e.Add(match(&r, at, "H2", "U", "x"))
	e.Flush()
	if e.StateBytes() != 0 {
		t.Fatalf("%d bytes left after flush", e.StateBytes())
	}
}

// TestByInKey: the by-values a group keeps are the key's own bytes, equal to
// the match's whatever they contain.
func TestByInKey(t *testing.T) {
	cases := [][]string{
		{"WS-0142", "855", "S-1-5-21-1"},
		{"", "", ""},
		{"a:1:b", "\x00", "12345678901"},
		{strings.Repeat("h", 1234), "x"},
		{},
	}
	for _, by := range cases {
		for _, start := range []int64{0, -1, 1714557000000000000} {
			k := string(groupKey(nil, "rule-id", start, by))
			got := byInKey(k, "rule-id", start, by)
			if len(by) == 0 && len(got) == 0 {
				continue
			}
			if !reflect.DeepEqual(got, by) {
				t.Errorf("by %q start %d: got %q", by, start, got)
			}
		}
	}
}
