package consumer

import (
	"context"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/msixguard/msixguard/event"
	"github.com/msixguard/msixguard/producer"
	"github.com/msixguard/msixguard/rules"
)

// DirectConfig runs the detection without the repartition hop, for input
// topics already keyed by host (--input-keyed-by dvc): every event of a
// (dvc, …) group is then on one input partition, so each input partition is
// aggregated on its own and its watermark is its own event time. Commits,
// restarts and rebalances work as in stage 2.
type DirectConfig struct {
	Stage2Config   // Topic is unused: Topics are read
	Topics         []string
	Format         Format
	Decoder        DecoderOptions
	DLQ            *producer.Writer
	IdleTimeout    time.Duration
	MaxRecordBytes int
	MaxFutureSkew  time.Duration
}

// RunDirect runs the single-stage job until ctx ends.
func RunDirect(ctx context.Context, cfg DirectConfig) error {
	log := cfg.Log.With().Str("stage", "direct").Logger()
	return runGroup(ctx, cfg.Conn, cfg.Group, cfg.Topics, cfg.Settings, log, func(gen *kafka.Generation, dr *drain) {
		joined(gen, "direct", cfg.Metrics, log, cfg.OnAssigned, cfg.OnGenerationEnd)
		for topic, parts := range gen.Assignments {
			for _, pa := range parts {
				topic, pa := topic, pa
				done := dr.loop()
				gen.Start(func(ctx context.Context) {
					defer done()
					p := newPartitionState(cfg.Stage2Config, pa.ID, log.With().Str("topic", topic).Logger())
					p.topic = topic
					dec, err := NewDecoder(cfg.Format, cfg.Decoder)
					if err != nil {
						log.Error().Err(err).Msg("decoder")
						return
					}
					p.direct = &directInput{cfg: cfg, dec: dec, lastRead: cfg.Now(),
						proc: inputProcessor{format: cfg.Format, rules: cfg.Rules, maxBytes: cfg.MaxRecordBytes, maxFutureSkew: cfg.MaxFutureSkew, metrics: cfg.Metrics}}
					err = p.run(ctx, gen, dr, done)
					p.clearGauges()
					if err != nil && ctx.Err() == nil {
						log.Error().Err(err).Str("topic", topic).Int("partition", pa.ID).Msg("input partition stopped; rejoining")
					}
				})
			}
		}
	})
}

// directInput is the per-partition part of the direct mode.
type directInput struct {
	cfg      DirectConfig
	proc     inputProcessor
	dec      Decoder
	ev       event.Event
	lastRead time.Time
	quiet    idleClock
	probe    time.Time // when the broker was last asked where the partition ends
	maxWM    int64
	hasWM    bool
}

// handle processes one input record: its matches are aggregated, its dead
// letter written (before the commit that passes it), and its event time
// moves the partition's watermark.
func (d *directInput) handle(ctx context.Context, p *partitionState, msg kafka.Message, control, replay bool) error {
	now := d.cfg.Now()
	d.lastRead = now
	d.quiet.reset()
	if !replay {
		d.cfg.Metrics.RecordsConsumed.WithLabelValues(msg.Topic).Inc()
	}
	var matches []rules.Match
	t, bad := d.proc.process(d.dec, &d.ev, msg, control, now, func(m rules.Match) { matches = append(matches, m) })
	if bad != nil && !replay {
		if err := d.cfg.DLQ.Write(ctx, *bad); err != nil {
			d.cfg.Metrics.WriteErrors.WithLabelValues(d.cfg.DLQ.Topic()).Inc()
			return err
		}
		d.cfg.Metrics.DLQWrites.Inc()
		p.log.Info().Int64("offset", msg.Offset).Str("reason", string(producer.Header(bad.Headers, producer.HeaderErrorReason))).Msg("dead-lettered")
	}
	for _, m := range matches {
		if err := p.aggregate(ctx, m, msg.Offset, replay, msg.Time); err != nil {
			return err
		}
	}
	if t.IsZero() {
		return nil
	}
	if tn := t.UnixNano(); !d.hasWM || tn > d.maxWM {
		d.maxWM, d.hasWM = tn, true
	}
	if replay {
		return nil // the restored tracker already holds it
	}
	return p.observe(ctx, d.marker(p, now, false))
}

// idle lets the watermark follow the wall clock once the broker has
// confirmed for the idle timeout that the partition has nothing more to
// read (see idleClock), so its last window still closes. pos is the next
// offset to read, negative when not known yet.
func (d *directInput) idle(ctx context.Context, p *partitionState, pos int64) error {
	now := d.cfg.Now()
	if now.Sub(d.lastRead) < time.Second || now.Sub(d.probe) < time.Second {
		return nil
	}
	d.probe = now
	ends := endOffsetsOf(ctx, d.cfg.Conn, map[string][]int{p.topic: {p.partition}}, probeTimeout(time.Second))
	end, ok := ends[p.topic][p.partition]
	d.quiet.probed(now, ok && atEnd(pos, end))
	if !d.quiet.idle(now, d.cfg.IdleTimeout) {
		return nil
	}
	return p.observe(ctx, d.marker(p, now, true))
}

func (d *directInput) marker(p *partitionState, now time.Time, idle bool) Marker {
	s := InputState{Topic: p.topic, Partition: p.partition, Idle: idle}
	if d.hasWM {
		wm := d.maxWM
		s.Watermark = &wm
	}
	return Marker{Inputs: 1, States: []InputState{s}, Wall: now.UnixNano()}
}
