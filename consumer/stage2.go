package consumer

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/msixguard/msixguard/aggregate"
	"github.com/msixguard/msixguard/cluster"
	"github.com/msixguard/msixguard/metrics"
	"github.com/msixguard/msixguard/producer"
	"github.com/msixguard/msixguard/rules"
)

// Stage2Config configures the stateful stage: windowed stats per group.
type Stage2Config struct {
	Conn            *cluster.Conn
	Group           string
	Topic           string // repartition topic
	Rules           *rules.Set
	Engine          aggregate.Options
	Emitter         *producer.Emitter
	Encoder         producer.Encoder
	Risk            *producer.Writer
	CommitInterval  time.Duration
	FetchMaxBytes   int
	Settings        GroupSettings
	Now             func() time.Time
	Log             zerolog.Logger
	Metrics         *metrics.Metrics
	OnAssigned      func(map[string][]int)
	OnGenerationEnd func()
}

// RunStage2 runs stage 2 until ctx ends. Each repartition partition has its
// own engine, watermark and commit point; state of a partition lives only as
// long as the generation that owns it, and is rebuilt from Kafka by the next
// owner.
func RunStage2(ctx context.Context, cfg Stage2Config) error {
	log := cfg.Log.With().Str("stage", "2").Logger()
	return runGroup(ctx, cfg.Conn, cfg.Group, []string{cfg.Topic}, cfg.Settings, log, func(gen *kafka.Generation, dr *drain) {
		joined(gen, "2", cfg.Metrics, log, cfg.OnAssigned, cfg.OnGenerationEnd)
		for _, pa := range gen.Assignments[cfg.Topic] {
			pa := pa
			done := dr.loop()
			gen.Start(func(ctx context.Context) {
				defer done()
				p := newPartitionState(cfg, pa.ID, log)
				err := p.run(ctx, gen, dr, done)
				p.clearGauges()
				if err != nil && ctx.Err() == nil {
					log.Error().Err(err).Int("partition", pa.ID).Msg("repartition partition stopped; rejoining")
				}
			})
		}
	})
}

// commitMeta is stored with each stage-2 commit. Records of windows already
// emitted can lie after the commit point, interleaved with an open window's;
// the metadata lets the next owner skip them and rebuild the exact state.
type commitMeta struct {
	// Emitted is the watermark through which windows were emitted.
	Emitted int64 `json:"e"`
	// Read is the next offset at commit time: records in [commit, Read)
	// were already processed, so their markers are already in Tracker.
	Read int64 `json:"r"`
	// Tracker is the watermark state at Read.
	Tracker *Tracker `json:"t"`
	// Seen is the de-duplication state at the commit offset: highest source
	// offset aggregated, per input partition.
	Seen map[string]int64 `json:"s"`
}

// Kafka brokers cap commit metadata (offset.metadata.max.bytes, 4096 by
// default); large states are deflated.
const metaCompressAbove = 1024

func (m *commitMeta) encode() (string, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	if len(b) <= metaCompressAbove {
		return "j1:" + string(b), nil
	}
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	w.Write(b)
	w.Close()
	return "z1:" + base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

func decodeMeta(s string) (*commitMeta, error) {
	var raw []byte
	switch {
	case s == "":
		return nil, nil
	case strings.HasPrefix(s, "j1:"):
		raw = []byte(s[3:])
	case strings.HasPrefix(s, "z1:"):
		z, err := base64.StdEncoding.DecodeString(s[3:])
		if err != nil {
			return nil, fmt.Errorf("commit metadata: %w", err)
		}
		if raw, err = io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(z)), 16<<20)); err != nil {
			return nil, fmt.Errorf("commit metadata: %w", err)
		}
	default:
		return nil, fmt.Errorf("commit metadata %.20q… is not msixguard's", s)
	}
	var m commitMeta
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("commit metadata: %w", err)
	}
	if m.Tracker == nil {
		m.Tracker = NewTracker()
	}
	if m.Seen == nil {
		m.Seen = map[string]int64{}
	}
	return &m, nil
}

type windowID struct {
	rule  string
	start int64
}

// windowStart remembers where a window's first record is and the
// de-duplication state just before it: the commit point and its metadata
// while the window is open.
type windowStart struct {
	offset int64
	seen   map[string]int64
}

type partitionState struct {
	cfg       Stage2Config
	partition int
	log       zerolog.Logger
	engine    *aggregate.Engine
	tracker   *Tracker
	seen      map[string]int64
	windows   map[windowID]windowStart
	replayTo  int64 // records before it were processed before the last commit
	next      int64 // next offset to read
	label     string
	topic     string          // the partition's topic
	reported  int64           // state bytes this partition added to the gauge
	out       []kafka.Message // risk messages not yet written
	outTimes  []time.Time     // input record time of each emit, for latency
	outSince  time.Time       // when the oldest pending message was made
	wr        *orderedWriter[riskBatch]
	direct    *directInput // set when reading input records (no repartition hop)
}

func newPartitionState(cfg Stage2Config, partition int, log zerolog.Logger) *partitionState {
	return &partitionState{
		cfg: cfg, partition: partition, log: log.With().Int("partition", partition).Logger(),
		engine:  aggregate.New(cfg.Rules.Rules, cfg.Engine),
		tracker: NewTracker(), seen: map[string]int64{}, windows: map[windowID]windowStart{},
		label: strconv.Itoa(partition), topic: cfg.Topic,
	}
}

func (p *partitionState) run(ctx context.Context, gen *kafka.Generation, dr *drain, drained func()) error {
	cfg := p.cfg
	off, raw, err := committed(ctx, cfg.Conn, gen.GroupID, p.topic, p.partition)
	if err != nil {
		return err
	}
	meta, err := decodeMeta(raw)
	if err != nil {
		// Not ours (a reset by hand?): start clean from the offset rather
		// than refuse to run; say so.
		p.log.Warn().Err(err).Msg("ignoring commit metadata")
	}
	if meta != nil {
		p.engine.Advance(time.Unix(0, meta.Emitted))
		p.tracker, p.seen, p.replayTo = meta.Tracker, meta.Seen, meta.Read
	}
	r := NewPartitionFetcher(FetchConfig{Conn: cfg.Conn, Topic: p.topic, Partition: p.partition, Offset: off,
		MaxBytes: cfg.FetchMaxBytes, Log: p.log, Metrics: cfg.Metrics, Now: cfg.Now})
	defer r.Close()
	p.next = off
	// Risk messages are written by their own goroutine, in order, so the
	// partition goes on reading while the broker acknowledges them; a
	// commit waits for every write before it.
	p.wr = newOrderedWriter(8, func(b riskBatch) error { return p.writeRisk(ctx, b) })
	defer p.wr.close()
	p.log.Info().Int64("offset", off).Int64("replay_to", p.replayTo).Msg("assigned: rebuilding state from the commit point")
	lastCommit := cfg.Now()
	dirty := false
	var dl deadline
	defer dl.stop()
	fetchCtx, stopFetch := dr.fetchContext(ctx)
	defer stopFetch()
	for {
		wait := cfg.Now().Add(cfg.CommitInterval)
		if len(p.out) > 0 {
			wait = p.outSince.Add(emitDelay)
		}
		msg, control, err := r.Fetch(dl.until(fetchCtx, wait))
		if ctx.Err() != nil {
			return nil
		}
		err = dr.fetchErr(err)
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("read %s/%d: %w", p.topic, p.partition, err)
		}
		if err != nil && p.direct != nil && p.next >= p.replayTo {
			if err := p.direct.idle(ctx, p, max(p.next, r.Position())); err != nil {
				return err
			}
		}
		if err == nil {
			if err := p.handle(ctx, msg, control); err != nil {
				return err
			}
			p.next = msg.Offset + 1
			dirty = true
		}
		if len(p.out) > 0 && (err != nil || cfg.Now().Sub(p.outSince) >= emitDelay) {
			if err := p.flushOut(ctx); err != nil {
				return err
			}
		}
		if dirty && p.next >= p.replayTo && cfg.Now().Sub(lastCommit) >= cfg.CommitInterval {
			if err := p.flushOut(ctx); err != nil {
				return err
			}
			if err := p.wr.wait(); err != nil {
				return err
			}
			if err := p.commit(ctx, gen); err != nil {
				cfg.Metrics.CommitErrors.WithLabelValues("2").Inc()
				return err
			}
			lastCommit, dirty = cfg.Now(), false
			cfg.Metrics.ConsumerLag.WithLabelValues("2", p.topic, p.label).Set(float64(r.Lag()))
		}
		if dr.requested() {
			if err := dr.finish(ctx, drained, func() error { return p.drainCommit(ctx, gen, dirty) }); err != nil {
				p.log.Warn().Err(err).Msg("drain: final write or commit failed; the next owner re-reads from the last commit")
			}
			return nil
		}
	}
}

// drainCommit writes what is pending and, when records were read since the
// last commit and the replay is over, commits.
func (p *partitionState) drainCommit(ctx context.Context, gen *kafka.Generation, dirty bool) error {
	if err := p.flushOut(ctx); err != nil {
		return err
	}
	if err := p.wr.wait(); err != nil {
		return err
	}
	if !dirty || p.next < p.replayTo {
		return nil
	}
	return p.commit(ctx, gen)
}

func (p *partitionState) handle(ctx context.Context, msg kafka.Message, control bool) error {
	replay := msg.Offset < p.replayTo
	if p.direct != nil {
		return p.direct.handle(ctx, p, msg, control, replay)
	}
	if control {
		return nil // a transaction marker: stage 1 writes none, but a hand-made producer might
	}
	switch string(producer.Header(msg.Headers, producer.HeaderType)) {
	case "watermark":
		if replay {
			return nil // already in the restored tracker
		}
		mk, err := decodeMarker(msg.Value)
		if err != nil {
			p.log.Warn().Err(err).Int64("offset", msg.Offset).Msg("skipping bad marker")
			return nil
		}
		return p.observe(ctx, mk)
	case "match":
		return p.handleMatch(ctx, msg, replay)
	default:
		p.log.Warn().Int64("offset", msg.Offset).Msg("skipping repartition record without a known msixguard-type header")
		return nil
	}
}

func (p *partitionState) handleMatch(ctx context.Context, msg kafka.Message, replay bool) error {
	src := string(producer.Header(msg.Headers, producer.HeaderSourceTopic)) + "/" + string(producer.Header(msg.Headers, producer.HeaderSourcePartition))
	srcOff, err := strconv.ParseInt(string(producer.Header(msg.Headers, producer.HeaderSourceOffset)), 10, 64)
	if err != nil {
		p.log.Warn().Int64("offset", msg.Offset).Msg("skipping match without a source offset")
		return nil
	}
	// Stage 1 re-sends matches after a crash or rebalance; the source
	// offsets of one input partition only grow otherwise.
	if last, ok := p.seen[src]; ok && srcOff <= last {
		p.cfg.Metrics.Duplicates.Inc()
		return nil
	}
	var m rules.Match
	if err := json.Unmarshal(msg.Value, &m); err != nil {
		p.log.Warn().Err(err).Int64("offset", msg.Offset).Msg("skipping undecodable match")
		return nil
	}
	err = p.aggregate(ctx, m, msg.Offset, replay, msg.Time)
	p.seen[src] = srcOff
	return err
}

// observe folds a watermark marker in and emits the windows it closes.
func (p *partitionState) observe(ctx context.Context, mk Marker) error {
	p.tracker.Observe(mk)
	wm, ok := p.tracker.Watermark()
	if !ok {
		return nil
	}
	p.updateWatermarkGauges(wm)
	results := p.engine.Advance(time.Unix(0, wm))
	for id := range p.windows {
		if r, ok := p.cfg.Rules.Rule(id.rule); !ok || p.engine.Final(r, id.start) {
			delete(p.windows, id)
		}
	}
	p.updateStateGauges()
	if len(results) > 0 {
		p.log.Info().Time("watermark", time.Unix(0, wm).UTC()).Int("groups", len(results)).Msg("windows closed")
	}
	return p.emit(ctx, results, time.Time{})
}

// aggregate folds one match, read at offset, into the engine. In replay
// (before the read position of the last commit) it only rebuilds state:
// matches of windows already emitted are skipped and nothing is written.
func (p *partitionState) aggregate(ctx context.Context, m rules.Match, offset int64, replay bool, recordTime time.Time) error {
	r, ok := p.cfg.Rules.Rule(m.Rule)
	if !ok {
		p.cfg.Metrics.Dropped.WithLabelValues(aggregate.DropUnknownRule).Inc()
		return nil
	}
	start := r.Window.Start(m.Time)
	id := windowID{rule: r.ID, start: start}
	final := p.engine.Final(r, start)
	if replay && final {
		return nil // emitted before the last commit (as final or late)
	}
	if _, ok := p.windows[id]; !ok && !final {
		p.windows[id] = windowStart{offset: offset, seen: copySeen(p.seen)}
	}
	results, dropped := p.engine.Add(m)
	if dropped != "" {
		p.cfg.Metrics.Dropped.WithLabelValues(dropped).Inc()
		// One line when the cap starts biting and then every 10000 drops,
		// not one per record: a cardinality attack must not flood the log.
		if n := p.engine.Dropped[dropped]; n == 1 || n%10000 == 0 {
			p.log.Warn().Str("reason", dropped).Int64("dropped", n).Int("open_groups", p.engine.OpenGroups()).Msg("match dropped (group_limit: raise --max-open-groups or look for a cardinality attack)")
		}
	}
	p.updateStateGauges()
	if replay {
		return nil // early messages of replayed records went out before the commit
	}
	return p.emit(ctx, results, recordTime)
}

// emit writes the risk messages of results. recordTime is the timestamp of
// the input record that caused them (early, late), zero for closed windows.
func (p *partitionState) emit(ctx context.Context, results []aggregate.Result, recordTime time.Time) error {
	if len(results) == 0 {
		return nil
	}
	evs := p.cfg.Emitter.Messages(results)
	for _, ev := range evs {
		rec, err := producer.RiskRecord(ev, p.cfg.Encoder)
		if err != nil {
			return err
		}
		p.out = append(p.out, rec)
	}
	if len(evs) > 0 {
		if len(p.outTimes) == 0 {
			p.outSince = p.cfg.Now()
		}
		p.outTimes = append(p.outTimes, recordTime)
	}
	if len(p.out) >= emitBatch {
		return p.flushOut(ctx)
	}
	return nil
}

// Risk messages are written in batches: one synchronous produce per message
// capped stage 2 at a few hundred messages a second. A batch waits at most
// emitDelay, and is always written before the commit that passes it.
const (
	emitBatch = 500
	emitDelay = 20 * time.Millisecond
)

// riskBatch is one write of risk messages, with the input record time of
// each emit for the latency histogram.
type riskBatch struct {
	out   []kafka.Message
	times []time.Time
}

// flushOut hands the pending risk messages to the partition's writer.
func (p *partitionState) flushOut(ctx context.Context) error {
	if len(p.out) == 0 {
		return nil
	}
	err := p.wr.send(ctx, riskBatch{out: p.out, times: p.outTimes})
	p.out, p.outTimes = make([]kafka.Message, 0, cap(p.out)), nil
	return err
}

// writeRisk writes one batch and waits for the broker (on the writer's
// goroutine).
func (p *partitionState) writeRisk(ctx context.Context, b riskBatch) error {
	if err := p.cfg.Risk.Write(ctx, b.out...); err != nil {
		p.cfg.Metrics.WriteErrors.WithLabelValues(p.cfg.Risk.Topic()).Inc()
		return err
	}
	now := p.cfg.Now()
	for _, t := range b.times {
		if !t.IsZero() {
			p.cfg.Metrics.Latency.Observe(now.Sub(t).Seconds())
		}
	}
	return nil
}

// commit commits the offset of the oldest open window's first record (or
// the read position when no window is open), with the metadata to rebuild
// the state from there.
func (p *partitionState) commit(ctx context.Context, gen *kafka.Generation) error {
	at, seenAt := p.next, p.seen
	for _, w := range p.windows {
		if w.offset < at {
			at, seenAt = w.offset, w.seen
		}
	}
	wm, _ := p.engine.Watermark()
	meta := commitMeta{Emitted: wm.UnixNano(), Read: p.next, Tracker: p.tracker, Seen: seenAt}
	s, err := meta.encode()
	if err != nil {
		return err
	}
	return commit(ctx, p.cfg.Conn, gen, p.topic, p.partition, at, s)
}

func (p *partitionState) updateWatermarkGauges(wm int64) {
	m := p.cfg.Metrics
	m.WatermarkAge.WithLabelValues(p.label).Set(p.cfg.Now().Sub(time.Unix(0, wm)).Seconds())
	for k, v := range p.tracker.InputWatermarks() {
		m.Watermark.WithLabelValues(k).Set(float64(v) / 1e9)
	}
}

// updateStateGauges reports open groups and windows, and this partition's
// share of the process-wide state estimate.
func (p *partitionState) updateStateGauges() {
	m := p.cfg.Metrics
	m.OpenGroups.WithLabelValues(p.label).Set(float64(p.engine.OpenGroups()))
	m.OpenWindows.WithLabelValues(p.label).Set(float64(len(p.windows)))
	b := p.engine.StateBytes()
	m.StateBytes.Add(float64(b - p.reported))
	p.reported = b
}

func (p *partitionState) clearGauges() {
	m := p.cfg.Metrics
	m.StateBytes.Sub(float64(p.reported))
	p.reported = 0
	m.OpenGroups.DeleteLabelValues(p.label)
	m.OpenWindows.DeleteLabelValues(p.label)
	m.WatermarkAge.DeleteLabelValues(p.label)
}

func copySeen(s map[string]int64) map[string]int64 {
	c := make(map[string]int64, len(s))
	for k, v := range s {
		c[k] = v
	}
	return c
}
