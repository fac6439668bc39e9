package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/msixguard/msixguard/cluster"
	"github.com/msixguard/msixguard/event"
	"github.com/msixguard/msixguard/metrics"
	"github.com/msixguard/msixguard/producer"
	"github.com/msixguard/msixguard/rules"
)

// Stage1Config configures the stateless stage: decode, filter, repartition.
type Stage1Config struct {
	Conn   *cluster.Conn
	Group  string   // consumer group id of stage 1
	Topics []string // input topics
	// InputPartitions is the total partition count of Topics, written into
	// every marker so stage 2 knows when all input partitions reported.
	InputPartitions       int
	Format                Format
	Decoder               DecoderOptions
	Rules                 *rules.Set
	Repartition           *producer.Writer // balancer: producer.RouteBalancer
	RepartitionPartitions int
	DLQ                   *producer.Writer
	IdleTimeout           time.Duration
	MarkerInterval        time.Duration // about 1s
	FlushInterval         time.Duration // how long read records may wait for their commit
	FlushRecords          int           // records per flush at most
	MaxRecordBytes        int
	MaxFutureSkew         time.Duration // event time beyond wall clock + skew is rejected
	FetchMaxBytes         int
	Settings              GroupSettings
	Now                   func() time.Time
	Log                   zerolog.Logger
	Metrics               *metrics.Metrics
	// OnAssigned, when set, is told of each generation's assignment, and
	// OnGenerationEnd when that generation ends (rebalance, leave).
	OnAssigned      func(map[string][]int)
	OnGenerationEnd func()
}

// inputStates is what stage 1 knows about the input partitions it owns in
// the current generation; the marker loop reads it.
type inputStates struct {
	mu     sync.Mutex
	states map[string]*inputState
}

type inputState struct {
	topic     string
	partition int
	wm        int64 // max event time of committed records
	hasWM     bool
	lastRead  time.Time // wall clock of the last record read
	pending   bool      // records read but not yet committed
	pos       int64     // next offset to read after the last commit; -1: not known yet
	quiet     idleClock // confirmed at the partition's end since when
}

// RunStage1 runs stage 1 until ctx ends.
func RunStage1(ctx context.Context, cfg Stage1Config) error {
	log := cfg.Log.With().Str("stage", "1").Logger()
	return runGroup(ctx, cfg.Conn, cfg.Group, cfg.Topics, cfg.Settings, log, func(gen *kafka.Generation, dr *drain) {
		joined(gen, "1", cfg.Metrics, log, cfg.OnAssigned, cfg.OnGenerationEnd)
		st := &inputStates{states: map[string]*inputState{}}
		now := cfg.Now()
		for topic, parts := range gen.Assignments {
			for _, pa := range parts {
				s := &inputState{topic: topic, partition: pa.ID, lastRead: now, pos: max(pa.Offset, -1)}
				st.states[fmt.Sprintf("%s/%d", topic, pa.ID)] = s
				topic, pa := topic, pa
				done := dr.loop()
				gen.Start(func(ctx context.Context) {
					defer done()
					if err := runInputPartition(ctx, cfg, gen, topic, pa, s, st, log, dr, done); err != nil && ctx.Err() == nil {
						log.Error().Err(err).Str("topic", topic).Int("partition", pa.ID).Msg("input partition stopped; rejoining")
					}
				})
			}
		}
		if len(st.states) > 0 {
			gen.Start(func(ctx context.Context) { markerLoop(ctx, cfg, st, log) })
		}
	})
}

// matchDelay is how long a match may wait in stage 1 before it is written
// to the repartition topic: early alerts wait on it, so it is much shorter
// than the commit cadence (FlushInterval). Like stage 2's emitDelay, it
// still gathers the matches of a burst into one produce request.
const matchDelay = 20 * time.Millisecond

// runInputPartition reads one input partition in order. Matches and bad
// records are handed to the partition's writer within matchDelay, which
// writes them (acks=all) in order while the loop reads on; the offsets that
// carried them are committed after those writes are acknowledged, in
// batches of FlushRecords or FlushInterval.
func runInputPartition(ctx context.Context, cfg Stage1Config, gen *kafka.Generation, topic string, pa kafka.PartitionAssignment, s *inputState, st *inputStates, log zerolog.Logger, dr *drain, drained func()) error {
	r := NewPartitionFetcher(FetchConfig{Conn: cfg.Conn, Topic: topic, Partition: pa.ID, Offset: pa.Offset,
		MaxBytes: cfg.FetchMaxBytes, Log: log, Metrics: cfg.Metrics, Now: cfg.Now})
	defer r.Close()
	dec, err := NewDecoder(cfg.Format, cfg.Decoder)
	if err != nil {
		return err
	}
	proc := inputProcessor{format: cfg.Format, rules: cfg.Rules, maxBytes: cfg.MaxRecordBytes, maxFutureSkew: cfg.MaxFutureSkew, metrics: cfg.Metrics}
	var (
		ev        event.Event
		out, dlq  []kafka.Message
		next      int64 = -1 // offset to commit
		pendingWM int64
		hasPend   bool
		lastFlush = cfg.Now()
		outSince  time.Time // when the oldest unwritten match or dead letter was read
	)
	m := cfg.Metrics
	wr := newOrderedWriter(8, func(b stage1Batch) error {
		if err := cfg.Repartition.Write(ctx, b.out...); err != nil {
			m.WriteErrors.WithLabelValues(cfg.Repartition.Topic()).Inc()
			return err
		}
		if err := cfg.DLQ.Write(ctx, b.dlq...); err != nil {
			m.WriteErrors.WithLabelValues(cfg.DLQ.Topic()).Inc()
			return err
		}
		m.DLQWrites.Add(float64(len(b.dlq)))
		if len(b.dlq) > 0 {
			reasons := map[string]int{}
			for _, d := range b.dlq {
				reasons[string(producer.Header(d.Headers, producer.HeaderErrorReason))]++
			}
			log.Info().Str("topic", topic).Int("partition", pa.ID).Int("records", len(b.dlq)).Interface("reasons", reasons).Msg("dead-lettered")
		}
		return nil
	})
	defer wr.close()
	// write hands the pending matches and dead letters to the writer; the
	// batch is the writer's from then on.
	write := func() error {
		if len(out)+len(dlq) == 0 {
			return nil
		}
		err := wr.send(ctx, stage1Batch{out: out, dlq: dlq})
		out, dlq = make([]kafka.Message, 0, cap(out)), nil
		return err
	}
	flush := func() error {
		if next < 0 {
			return nil
		}
		if err := write(); err != nil {
			return err
		}
		if err := wr.wait(); err != nil {
			return err
		}
		if err := commit(ctx, cfg.Conn, gen, topic, pa.ID, next, ""); err != nil {
			m.CommitErrors.WithLabelValues("1").Inc()
			return err
		}
		st.mu.Lock()
		if hasPend && (!s.hasWM || pendingWM > s.wm) {
			s.wm, s.hasWM = pendingWM, true
		}
		s.lastRead, s.pending, s.pos = cfg.Now(), false, next
		st.mu.Unlock()
		next, hasPend = -1, false
		lastFlush = cfg.Now()
		m.ConsumerLag.WithLabelValues("1", topic, strconv.Itoa(pa.ID)).Set(float64(r.Lag()))
		return nil
	}
	consumed := m.RecordsConsumed.WithLabelValues(topic)
	// One deadline per flush interval, not one per record: a context and
	// timer per Fetch cost as much as decoding the record.
	var dl deadline
	defer dl.stop()
	fetchCtx, stopFetch := dr.fetchContext(ctx)
	defer stopFetch()
	now := cfg.Now()
	for {
		d := lastFlush.Add(cfg.FlushInterval)
		if w := outSince.Add(matchDelay); len(out)+len(dlq) > 0 && w.Before(d) {
			d = w
		}
		if !d.After(now) {
			d = now.Add(cfg.FlushInterval)
		}
		msg, control, err := r.Fetch(dl.until(fetchCtx, d))
		if ctx.Err() != nil {
			return nil // generation over: the next owner re-reads what was not committed
		}
		// One clock reading per record: reading it is not free, and the
		// record's own handling takes microseconds.
		now = cfg.Now()
		err = dr.fetchErr(err)
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("read %s/%d: %w", topic, pa.ID, err)
		}
		if err != nil && next < 0 {
			// Nothing pending: where the fetcher is tells the idle probe
			// where a partition never read from (no commit yet) starts,
			// or that retention moved its start past the commit.
			if at := r.Position(); at >= 0 {
				st.mu.Lock()
				s.pos = max(s.pos, at)
				st.mu.Unlock()
			}
		}
		if err == nil {
			if next < 0 {
				// First record since the last flush: not idle any more.
				st.mu.Lock()
				s.lastRead, s.pending = now, true
				s.quiet.reset()
				st.mu.Unlock()
			}
			consumed.Inc()
			before := len(out) + len(dlq)
			t, bad := proc.process(dec, &ev, msg, control, now, func(match rules.Match) {
				out = append(out, MatchRecord(match, msg.Topic, msg.Partition, msg.Offset, msg.Time))
			})
			if bad != nil {
				dlq = append(dlq, *bad)
			}
			if before == 0 && len(out)+len(dlq) > 0 {
				outSince = now
			}
			if !t.IsZero() {
				if tn := t.UnixNano(); !hasPend || tn > pendingWM {
					pendingWM, hasPend = tn, true
				}
			}
			next = msg.Offset + 1
		}
		if next >= 0 && (len(out)+len(dlq) >= cfg.FlushRecords || now.Sub(lastFlush) >= cfg.FlushInterval) {
			if err := flush(); err != nil {
				return err
			}
		} else if len(out)+len(dlq) > 0 && now.Sub(outSince) >= matchDelay {
			if err := write(); err != nil {
				return err
			}
		}
		if dr.requested() {
			if err := dr.finish(ctx, drained, flush); err != nil {
				log.Warn().Err(err).Str("topic", topic).Int("partition", pa.ID).Msg("drain: final write or commit failed; the next owner re-reads from the last commit")
			}
			return nil
		}
	}
}

// stage1Batch is one write of stage 1: matches, then dead letters.
type stage1Batch struct{ out, dlq []kafka.Message }

// deadline reuses one context until its deadline passes, so a read loop
// does not make a context and timer per record.
type deadline struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// until returns a context of parent that ends at d, or the current one
// while it has not ended and does not end after d.
func (dl *deadline) until(parent context.Context, d time.Time) context.Context {
	if dl.ctx != nil && dl.ctx.Err() == nil {
		if cur, _ := dl.ctx.Deadline(); cur.After(d) {
			dl.stop()
			dl.ctx = nil
		}
	}
	if dl.ctx == nil || dl.ctx.Err() != nil {
		dl.stop()
		dl.ctx, dl.cancel = context.WithDeadline(parent, d)
	}
	return dl.ctx
}

func (dl *deadline) stop() {
	if dl.cancel != nil {
		dl.cancel()
	}
}

// MatchRecord is the repartition record of a match: keyed by its group, so
// every match of a group lands on one partition, with its source position in
// headers for de-duplication.
func MatchRecord(match rules.Match, topic string, partition int, offset int64, ts time.Time) kafka.Message {
	v, _ := json.Marshal(match) // plain strings and numbers: cannot fail
	key := GroupKey(match)
	return kafka.Message{Key: []byte(key), Value: v, Time: ts, Headers: []kafka.Header{
		{Key: producer.HeaderType, Value: []byte("match")},
		{Key: producer.HeaderSourceTopic, Value: []byte(topic)},
		{Key: producer.HeaderSourcePartition, Value: []byte(strconv.Itoa(partition))},
		{Key: producer.HeaderSourceOffset, Value: []byte(strconv.FormatInt(offset, 10))},
	}}
}

// GroupKey is the repartition key of a match: rule and by-field values
// (not the window: all windows of a group share a partition, which keeps
// per-group order).
func GroupKey(m rules.Match) string {
	b, _ := json.Marshal(append([]string{m.Rule}, m.By...))
	return string(b)
}

// markerLoop writes the watermark marker of every owned input partition to
// every repartition partition about once per MarkerInterval.
func markerLoop(ctx context.Context, cfg Stage1Config, st *inputStates, log zerolog.Logger) {
	t := time.NewTicker(cfg.MarkerInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		probeIdle(ctx, cfg, st)
		now := cfg.Now()
		mk := Marker{Inputs: cfg.InputPartitions, Wall: now.UnixNano()}
		st.mu.Lock()
		for _, s := range st.states {
			is := InputState{Topic: s.topic, Partition: s.partition, Idle: !s.pending && s.quiet.idle(now, cfg.IdleTimeout)}
			if s.hasWM {
				wm := s.wm
				is.Watermark = &wm
			}
			mk.States = append(mk.States, is)
		}
		st.mu.Unlock()
		v, _ := json.Marshal(mk)
		msgs := make([]kafka.Message, cfg.RepartitionPartitions)
		for p := range msgs {
			msgs[p] = kafka.Message{Value: v, Headers: []kafka.Header{
				{Key: producer.HeaderType, Value: []byte("watermark")},
				{Key: producer.HeaderDestPartition, Value: []byte(strconv.Itoa(p))},
			}}
		}
		if err := cfg.Repartition.Write(ctx, msgs...); err != nil {
			if ctx.Err() != nil {
				return
			}
			cfg.Metrics.WriteErrors.WithLabelValues(cfg.Repartition.Topic()).Inc()
			log.Warn().Err(err).Msg("watermark marker write failed; will retry")
		}
	}
}

// probeIdle asks the broker where the owned input partitions that have
// been quiet for a marker interval end, and moves their idle clocks: one
// ListOffsets request per marker interval, and none while records flow.
func probeIdle(ctx context.Context, cfg Stage1Config, st *inputStates) {
	at := cfg.Now()
	parts := map[string][]int{}
	st.mu.Lock()
	for _, s := range st.states {
		if s.pending || at.Sub(s.lastRead) < cfg.MarkerInterval {
			s.quiet.reset()
			continue
		}
		parts[s.topic] = append(parts[s.topic], s.partition)
	}
	st.mu.Unlock()
	if len(parts) == 0 {
		return
	}
	ends := endOffsetsOf(ctx, cfg.Conn, parts, probeTimeout(cfg.MarkerInterval))
	st.mu.Lock()
	defer st.mu.Unlock()
	for topic, ps := range parts {
		for _, p := range ps {
			s := st.states[fmt.Sprintf("%s/%d", topic, p)]
			end, ok := ends[topic][p]
			// A record read while the broker answered voids the answer.
			s.quiet.probed(at, ok && !s.pending && !s.lastRead.After(at) && atEnd(s.pos, end))
		}
	}
}
