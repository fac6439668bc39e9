package rules

import (
	"strings"
	"testing"
	"time"
)

func TestMapSchedule(t *testing.T) {
	const m, h = time.Minute, time.Hour
	cases := []struct {
		cron, earliest, latest string
		want                   Window
	}{
		// The seed: hourly over -70m@m..-10m@m → bounds at minute 50.
		{"0 * * * *", "-70m@m", "-10m@m", Window{60 * m, 50 * m, 10 * m}},
		{"0 * * * *", "-60m", "now", Window{60 * m, 0, 0}},
		{"0 * * * *", "-1h@h", "@h", Window{60 * m, 0, 0}},
		{"0 * * * *", "-65m@m", "-5m@m", Window{60 * m, 55 * m, 5 * m}},
		// Runs at minute 15: bounds at minute (15 - 70) mod 60 = 5.
		{"15 * * * *", "-70m@m", "-10m@m", Window{60 * m, 5 * m, 10 * m}},
		{"*/15 * * * *", "-20m@m", "-5m@m", Window{15 * m, 10 * m, 5 * m}},
		{"*/5 * * * *", "-5m", "now", Window{5 * m, 0, 0}},
		{"* * * * *", "-2m@m", "-1m@m", Window{m, 0, m}},
		{"30 */4 * * *", "-4h", "now", Window{4 * h, 30 * m, 0}},
		{"0 0 * * *", "-1d@d", "@d", Window{24 * h, 0, 0}},
		{"10 3 * * *", "-25h", "-1h", Window{24 * h, 2*h + 10*m, h}},
		{"0 * * * *", "-4200s", "-600seconds", Window{60 * m, 50 * m, 10 * m}},
	}
	for _, c := range cases {
		got, err := MapSchedule(Schedule{c.cron, c.earliest, c.latest})
		if err != nil || got != c.want {
			t.Errorf("%q %s..%s: got %+v, %v; want %+v", c.cron, c.earliest, c.latest, got, err, c.want)
		}
	}
}

func TestMapScheduleRejects(t *testing.T) {
	cases := []struct {
		cron, earliest, latest, want string
	}{
		{"0 * * * *", "-24h", "now", "spans 24h0m0s but the cron runs every 1h0m0s: the ranges overlap"},
		{"0 * * * *", "-30m", "now", "leave gaps"},
		{"0 * * * *", "-70m@m", "+10m", "latest \"+10m\""},
		{"0 * * * *", "-1d@d", "now", "varying length"},
		{"0 * * * *", "-10m", "-70m", "is not before latest"},
		{"0 * * 1 *", "-70m@m", "-10m@m", "month \"1\""},
		{"0 * * * 1-5", "-70m@m", "-10m@m", "day of week"},
		{"*/7 * * * *", "-7m", "now", "minute \"*/7\""},
		{"0,30 * * * *", "-30m", "now", "minute \"0,30\""},
		{"*/5 3 * * *", "-5m", "now", "irregular period"},
		{"0 */5 * * *", "-5h", "now", "hour \"*/5\""},
		{"@hourly", "-1h", "now", "want 5 fields"},
		{"0 * * * *", "-1mon", "now", "unit \"mon\""},
		{"0 * * * *", "-1w@w", "now", "snap @w"},
		{"0 * * * *", "2024-01-01T00:00:00", "now", "supported forms"},
		{"0 * * * *", "", "now", "earliest \"\": missing"},
	}
	for _, c := range cases {
		_, err := MapSchedule(Schedule{c.cron, c.earliest, c.latest})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q %s..%s: got %v, want …%s…", c.cron, c.earliest, c.latest, err, c.want)
		}
	}
}

// TestMapScheduleMatchesWindowStart: for the seed schedule, the window
// MapSchedule gives for any event time is the range of the run that
// searches it, computed the Splunk way (run time minus the modifiers).
func TestMapScheduleMatchesWindowStart(t *testing.T) {
	w, err := MapSchedule(DefaultSchedule)
	if err != nil {
		t.Fatal(err)
	}
	ev := time.Date(2024, 5, 1, 10, 49, 59, 0, time.UTC)
	for i := 0; i < 200; i++ {
		ev = ev.Add(37 * time.Second * time.Duration(i))
		// The run at the top of hour H searches [H-70m, H-10m), so the
		// run that sees ev is the hour after ev+10m.
		run := ev.Add(10 * time.Minute).Truncate(time.Hour).Add(time.Hour)
		start := time.Unix(0, w.Start(ev.UnixNano())).UTC()
		if !start.Equal(run.Add(-70*time.Minute)) || !run.Equal(start.Add(w.Size+w.Lag)) {
			t.Fatalf("event %s: window start %s, run %s", ev, start, run)
		}
	}
}
