package producer

import (
	"strings"
	"time"

	"github.com/msixguard/msixguard/aggregate"
	"github.com/msixguard/msixguard/metrics"
	"github.com/msixguard/msixguard/rules"
)

// Emitter turns aggregate results into the risk messages to write: it
// applies the tuning allowlist (the `_filter` macro), keeps only the kinds
// the operator asked for, and counts what it suppresses.
type Emitter struct {
	Allow   *rules.Allowlist
	Loc     *time.Location          // zone of firstTime/lastTime; UTC when nil
	Kinds   map[aggregate.Kind]bool // kinds to emit
	Now     func() time.Time        // processing time for detected_at and allowlist expiry
	Metrics *metrics.Metrics
}

// Messages returns the risk messages for results, in order.
func (e *Emitter) Messages(results []aggregate.Result) []*RiskEvent {
	var out []*RiskEvent
	loc := e.Loc
	if loc == nil {
		loc = time.UTC
	}
	for _, res := range results {
		rule := res.Group.Rule.ID
		if res.Kind == aggregate.KindLate {
			e.Metrics.LateEvents.WithLabelValues(rule).Inc()
		}
		if !e.Kinds[res.Kind] {
			continue
		}
		now := e.Now()
		ev := Build(res, loc, now)
		if _, ok := e.Allow.Suppressed(rule, ev.Get, now); ok {
			e.Metrics.Suppressed.WithLabelValues(rule).Inc()
			continue
		}
		e.Metrics.RiskMessages.WithLabelValues(rule, string(res.Kind)).Inc()
		out = append(out, ev)
	}
	return out
}

// ParseKinds parses a comma-separated list such as "early,final,late".
func ParseKinds(s string) (map[aggregate.Kind]bool, error) {
	out := map[aggregate.Kind]bool{}
	for _, k := range strings.Split(s, ",") {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		switch aggregate.Kind(k) {
		case aggregate.KindEarly, aggregate.KindFinal, aggregate.KindLate:
			out[aggregate.Kind(k)] = true
		default:
			return nil, &KindError{Kind: k}
		}
	}
	if len(out) == 0 {
		return nil, &KindError{}
	}
	return out, nil
}

// KindError is an unknown --emit kind.
type KindError struct{ Kind string }

func (e *KindError) Error() string {
	if e.Kind == "" {
		return "emit: name at least one of early, final, late"
	}
	return "emit: unknown kind " + e.Kind + " (want early, final, late)"
}
