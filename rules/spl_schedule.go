package rules

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule is how Splunk runs a saved search: a cron schedule over a
// relative time range.
type Schedule struct {
	Cron     string // cron_schedule, e.g. "0 * * * *"
	Earliest string // earliest_time, e.g. "-70m@m"
	Latest   string // latest_time, e.g. "-10m@m"
}

// DefaultSchedule is ESCU's default deployment for TTP, Anomaly and
// Hunting detections (deployments/escu_default_configuration_*.yml).
var DefaultSchedule = Schedule{Cron: "0 * * * *", Earliest: "-70m@m", Latest: "-10m@m"}

// MapSchedule maps a schedule to tumbling event-time windows: the window is
// the cron period, the lag is how long after a window's end the search runs
// (-latest), and the offset puts window bounds where the searched ranges
// start (hourly over -70m@m..-10m@m → 60m windows at minute 50, lag 10m).
// It refuses schedules whose ranges are not one tumbling window per run:
// ranges longer than the period overlap, shorter ones leave gaps, and
// snaps that move the range within the period give windows of varying
// length. Cron and snaps are read in UTC.
func MapSchedule(s Schedule) (Window, error) {
	period, phase, err := parseCron(s.Cron)
	if err != nil {
		return Window{}, fmt.Errorf("cron %q: %w", s.Cron, err)
	}
	early, err := parseRelTime(s.Earliest)
	if err != nil {
		return Window{}, fmt.Errorf("earliest %q: %w", s.Earliest, err)
	}
	late, err := parseRelTime(s.Latest)
	if err != nil {
		return Window{}, fmt.Errorf("latest %q: %w", s.Latest, err)
	}
	// Evaluate the range of every run in one day (periods divide a day,
	// so the pattern repeats daily) and require one shape for all.
	day := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var lag, span time.Duration
	for f := day.Add(phase); f.Before(day.Add(24 * time.Hour)); f = f.Add(period) {
		e, l := early.at(f), late.at(f)
		if !l.After(e) {
			return Window{}, fmt.Errorf("earliest %s is not before latest %s", s.Earliest, s.Latest)
		}
		if f == day.Add(phase) {
			lag, span = f.Sub(l), l.Sub(e)
			continue
		}
		if f.Sub(l) != lag || l.Sub(e) != span {
			return Window{}, fmt.Errorf("the snaps of %s..%s give ranges of varying length or position across runs; only ranges that move with the cron map to tumbling windows", s.Earliest, s.Latest)
		}
	}
	if lag < 0 {
		return Window{}, fmt.Errorf("latest %s is after the run time: a window would need future events", s.Latest)
	}
	if span != period {
		kind := "overlap"
		if span < period {
			kind = "leave gaps"
		}
		return Window{}, fmt.Errorf("the range %s..%s spans %s but the cron runs every %s: the ranges %s, which tumbling windows cannot express", s.Earliest, s.Latest, span, period, kind)
	}
	off := (phase - lag - span) % period
	if off < 0 {
		off += period
	}
	return Window{Size: period, Offset: off, Lag: lag}, nil
}

// parseCron accepts the cron forms that run at a fixed period dividing a
// day: "M * * * *", "*/N * * * *" (N divides 60), "M */N * * *" (N divides
// 24), "M H * * *". It returns the period and the first run of the day.
func parseCron(s string) (period, phase time.Duration, err error) {
	f := strings.Fields(s)
	if len(f) != 5 {
		return 0, 0, errors.New("want 5 fields (minute hour day month weekday)")
	}
	for i, name := range []string{"day of month", "month", "day of week"} {
		if f[i+2] != "*" {
			return 0, 0, fmt.Errorf("%s %q: only * is supported (the runs must have a fixed period)", name, f[i+2])
		}
	}
	num := func(v string, max int) (int, bool) {
		n, err := strconv.Atoi(v)
		return n, err == nil && n >= 0 && n <= max && v == strconv.Itoa(n)
	}
	every := func(v string, unit int) (int, bool) {
		if v == "*" {
			return 1, true
		}
		d, ok := strings.CutPrefix(v, "*/")
		if !ok {
			return 0, false
		}
		n, ok := num(d, unit)
		return n, ok && n > 0 && unit%n == 0
	}
	minute, hour := f[0], f[1]
	if n, ok := every(minute, 60); ok {
		if hour != "*" {
			return 0, 0, fmt.Errorf("minute %q with hour %q: runs at an irregular period", minute, hour)
		}
		return time.Duration(n) * time.Minute, 0, nil
	}
	m, ok := num(minute, 59)
	if !ok {
		return 0, 0, fmt.Errorf("minute %q: supported forms are M, *, */N (N divides 60)", minute)
	}
	if hour == "*" {
		return time.Hour, time.Duration(m) * time.Minute, nil
	}
	if n, ok := every(hour, 24); ok {
		return time.Duration(n) * time.Hour, time.Duration(m) * time.Minute, nil
	}
	h, ok := num(hour, 23)
	if !ok {
		return 0, 0, fmt.Errorf("hour %q: supported forms are H, *, */N (N divides 24)", hour)
	}
	return 24 * time.Hour, time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, nil
}

// relTime is a Splunk relative time modifier: now minus back, snapped down
// to a unit.
type relTime struct {
	back time.Duration
	snap time.Duration // 0: no snap
}

func (r relTime) at(t time.Time) time.Time {
	t = t.Add(-r.back)
	if r.snap > 0 {
		t = t.Truncate(r.snap) // UTC epoch grid: exact for s, m, h, d in UTC
	}
	return t
}

// parseRelTime accepts now, -N<unit>[@<unit>] and @<unit>, with units
// s, m, h, d (and their long spellings).
func parseRelTime(s string) (relTime, error) {
	if s == "now" || s == "0" || s == "" {
		if s == "" {
			return relTime{}, errors.New("missing")
		}
		return relTime{}, nil
	}
	var r relTime
	body, snap, hasSnap := strings.Cut(s, "@")
	if hasSnap {
		u, ok := timeUnit(snap)
		if !ok {
			return r, fmt.Errorf("snap @%s: supported snaps are @s, @m, @h, @d", snap)
		}
		r.snap = u
	}
	if body == "" {
		if !hasSnap {
			return r, errors.New("empty time")
		}
		return r, nil
	}
	if !strings.HasPrefix(body, "-") {
		return r, errors.New("supported forms are now, -N<unit>[@<unit>] with units s, m, h, d")
	}
	i := 1
	for i < len(body) && body[i] >= '0' && body[i] <= '9' {
		i++
	}
	n := 1
	if i > 1 {
		var err error
		if n, err = strconv.Atoi(body[1:i]); err != nil {
			return r, err
		}
	}
	u, ok := timeUnit(body[i:])
	if !ok {
		return r, fmt.Errorf("unit %q: supported units are s, m, h, d (weeks, months and years are not fixed periods or snap by calendar)", body[i:])
	}
	r.back = time.Duration(n) * u
	return r, nil
}

func timeUnit(s string) (time.Duration, bool) {
	switch s {
	case "s", "sec", "secs", "second", "seconds":
		return time.Second, true
	case "m", "min", "mins", "minute", "minutes":
		return time.Minute, true
	case "h", "hr", "hrs", "hour", "hours":
		return time.Hour, true
	case "d", "day", "days":
		return 24 * time.Hour, true
	}
	return 0, false
}
