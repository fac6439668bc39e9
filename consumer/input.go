package consumer

import (
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/msixguard/msixguard/event"
	"github.com/msixguard/msixguard/metrics"
	"github.com/msixguard/msixguard/producer"
	"github.com/msixguard/msixguard/rules"
)

// inputProcessor turns one input record into matches, or into a dead
// letter, and counts what happened. Stage 1 and the direct mode share it.
type inputProcessor struct {
	format        Format
	rules         *rules.Set
	maxBytes      int
	maxFutureSkew time.Duration // 0: no limit
	metrics       *metrics.Metrics
}

// process decodes msg and calls onMatch for each rule match that can be
// counted. It returns the record's event time (zero when it has none that
// may move the watermark) and its dead letter, if any.
func (p inputProcessor) process(dec Decoder, ev *event.Event, msg kafka.Message, control bool, now time.Time, onMatch func(rules.Match)) (time.Time, *kafka.Message) {
	m := p.metrics
	if msg.Value == nil {
		// A tombstone carries no event; it is counted, not dead-lettered.
		m.Dropped.WithLabelValues("tombstone").Inc()
		return time.Time{}, nil
	}
	if control {
		// A commit or abort marker of a transactional producer (Kafka
		// Connect with exactly-once, Flink, Kafka Streams): an offset, not
		// an event. (The records of aborted transactions still come
		// through: msixguard reads uncommitted.)
		m.Dropped.WithLabelValues("transaction_marker").Inc()
		return time.Time{}, nil
	}
	dead := func(reason, detail string) *kafka.Message {
		d := producer.DeadLetter(msg, reason, detail, now, min(p.maxBytes, producer.MaxDeadLetterValue))
		return &d
	}
	if len(msg.Value) > p.maxBytes {
		m.DecodeErrors.WithLabelValues(string(p.format), "record_too_large").Inc()
		return time.Time{}, dead("record_too_large", fmt.Sprintf("record of %d bytes exceeds --max-record-bytes %d", len(msg.Value), p.maxBytes))
	}
	if err := dec.Decode(msg.Value, ev); err != nil {
		var de *DecodeError
		if !errors.As(err, &de) {
			de = &DecodeError{Format: p.format, Reason: "other", Detail: err.Error()}
		}
		m.DecodeErrors.WithLabelValues(string(de.Format), de.Reason).Inc()
		return time.Time{}, dead(de.Reason, de.Error())
	}
	if p.maxFutureSkew > 0 && ev.Time.After(now.Add(p.maxFutureSkew)) {
		// A clock far ahead would close every open window at once.
		m.Dropped.WithLabelValues("future_time").Inc()
		return time.Time{}, dead("future_time", fmt.Sprintf("event time %s is more than %s ahead of the wall clock", ev.Time.Format(time.RFC3339), p.maxFutureSkew))
	}
	matched := p.rules.Detect(ev, func(r *rules.Rule, match rules.Match, drop rules.DropReason) {
		m.Matched.WithLabelValues(r.ID).Inc()
		if drop != "" {
			m.Dropped.WithLabelValues(string(drop)).Inc()
			return
		}
		onMatch(match)
	})
	if !matched {
		m.Unmatched.Inc()
	}
	return ev.Time, nil
}
