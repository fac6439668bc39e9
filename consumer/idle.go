package consumer

import (
	"context"
	"time"

	"github.com/msixguard/msixguard/cluster"
)

// idleClock decides when an input partition counts as idle, the state in
// which its watermark may follow the wall clock. Silence alone is not
// enough: while the broker is paused or unreachable, or the partition has
// no leader, a reader sees no records either, and a watermark that jumped
// to the wall clock then would close windows whose events are still
// waiting in the partition (the paused-broker fault test did exactly that).
// So the partition is idle only once the broker has confirmed, over the
// whole idle timeout, that the reader is at the partition's end; any record
// read, any unanswered question or any answer showing more to read starts
// the timeout again.
type idleClock struct {
	since time.Time // start of the current confirmed stretch; zero: unconfirmed
}

func (c *idleClock) reset() { c.since = time.Time{} }

// probed records one answer, asked at at: whether the reader was at the
// partition's end (false too when the broker did not answer).
func (c *idleClock) probed(at time.Time, atEnd bool) {
	switch {
	case !atEnd:
		c.since = time.Time{}
	case c.since.IsZero():
		c.since = at
	}
}

// idle tells whether the end has been confirmed for at least timeout.
func (c *idleClock) idle(now time.Time, timeout time.Duration) bool {
	return !c.since.IsZero() && now.Sub(c.since) >= timeout
}

// atEnd tells whether a reader whose next offset is pos (negative: not
// known yet) has read all of a partition whose next offset is end.
func atEnd(pos, end int64) bool { return pos >= 0 && pos >= end }

// probeTimeout bounds one end-offset question: a broker slower than this
// is as good as absent for idleness.
func probeTimeout(interval time.Duration) time.Duration {
	return max(interval, time.Second)
}

// endOffsetsOf asks the broker where parts end; nil on any error (the
// callers treat every partition as unconfirmed then).
func endOffsetsOf(ctx context.Context, c *cluster.Conn, parts map[string][]int, timeout time.Duration) map[string]map[int]int64 {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ends, err := c.EndOffsets(ctx, parts)
	if err != nil {
		return nil
	}
	return ends
}
