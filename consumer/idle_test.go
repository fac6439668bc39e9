package consumer

import (
	"testing"
	"time"
)

func TestIdleClock(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sec := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }
	type step struct {
		at      int  // seconds
		probe   bool // a probe answered at `at` …
		atEnd   bool // … with this
		record  bool // a record was read at `at`
		wantIdl bool // idle at `at`, timeout 3s
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"never asked: silence alone is not idle", []step{{at: 0}, {at: 10}, {at: 100}}},
		{"confirmed for the timeout", []step{
			{at: 0, probe: true, atEnd: true}, {at: 2}, {at: 3, wantIdl: true}, {at: 50, wantIdl: true}}},
		{"counts from the first confirmation", []step{
			{at: 5, probe: true, atEnd: true}, {at: 7}, {at: 8, wantIdl: true}}},
		{"an unanswered probe starts again", []step{
			{at: 0, probe: true, atEnd: true}, {at: 2, probe: true, atEnd: false},
			{at: 3, probe: true, atEnd: true}, {at: 5}, {at: 6, wantIdl: true}}},
		{"more to read starts again", []step{
			{at: 0, probe: true, atEnd: true}, {at: 4, probe: true, atEnd: false, wantIdl: false}}},
		{"a record starts again", []step{
			{at: 0, probe: true, atEnd: true}, {at: 3, wantIdl: true}, {at: 4, record: true},
			{at: 5, probe: true, atEnd: true}, {at: 7}, {at: 8, wantIdl: true}}},
		{"confirmations keep the first start", []step{
			{at: 0, probe: true, atEnd: true}, {at: 1, probe: true, atEnd: true}, {at: 2, probe: true, atEnd: true},
			{at: 3, probe: true, atEnd: true, wantIdl: true}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var clk idleClock
			for _, s := range c.steps {
				if s.record {
					clk.reset()
				}
				if s.probe {
					clk.probed(sec(s.at), s.atEnd)
				}
				if got := clk.idle(sec(s.at), 3*time.Second); got != s.wantIdl {
					t.Fatalf("at %ds: idle %v, want %v", s.at, got, s.wantIdl)
				}
			}
		})
	}
}

func TestAtEnd(t *testing.T) {
	cases := []struct {
		pos, end int64
		want     bool
	}{
		{-1, 0, false}, // position not known: never "at the end"
		{0, 0, true},   // empty partition
		{4, 5, false},  // one record to read
		{5, 5, true},
		{7, 5, true}, // the log was truncated below us
	}
	for _, c := range cases {
		if got := atEnd(c.pos, c.end); got != c.want {
			t.Errorf("atEnd(%d, %d) = %v, want %v", c.pos, c.end, got, c.want)
		}
	}
}
