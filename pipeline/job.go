package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/msixguard/msixguard/aggregate"
	"github.com/msixguard/msixguard/cluster"
	"github.com/msixguard/msixguard/consumer"
	"github.com/msixguard/msixguard/metrics"
	"github.com/msixguard/msixguard/producer"
	"github.com/msixguard/msixguard/rules"
)

// JobConfig is everything `msixguard run` needs.
type JobConfig struct {
	Conn                  *cluster.Conn
	Group                 string // stage groups are Group+"-stage1" and Group+"-stage2"
	InputTopics           []string
	RiskTopic             string
	DLQTopic              string
	RepartitionTopic      string
	RepartitionPartitions int
	// InputKeyedBy names the field the input topics are already keyed by
	// ("dvc"); when set, the repartition hop is skipped (see RunDirect).
	InputKeyedBy         string
	CreateTopics         bool
	TopicPartitions      int           // for created risk/DLQ topics
	Replication          int           // for created topics; 0 = broker default
	RiskRetention        time.Duration // 0 = broker default
	RepartitionRetention time.Duration // must exceed the longest window + lag
	Format               consumer.Format
	Rules                *rules.Set
	Engine               aggregate.Options
	Emitter              *producer.Emitter
	Encoder              producer.Encoder
	IdleTimeout          time.Duration
	MaxRecordBytes       int
	MaxFutureSkew        time.Duration
	MarkerInterval       time.Duration
	FlushInterval        time.Duration
	CommitInterval       time.Duration
	Settings             consumer.GroupSettings
	Now                  func() time.Time
	Log                  zerolog.Logger
	Metrics              *metrics.Metrics
	// Ready is told whenever the job becomes ready (every stage is in a
	// consumer-group generation) or stops being ready (a stage rebalances).
	Ready func(bool)
}

// Run checks the topics and runs both stages until ctx ends, then drains:
// partition loops stop, writers flush, groups are left.
func Run(ctx context.Context, cfg JobConfig) error {
	if err := cfg.check(); err != nil {
		return err
	}
	specs := []cluster.TopicSpec{
		{Name: cfg.RiskTopic, Partitions: cfg.TopicPartitions, Replication: cfg.Replication, Retention: cfg.RiskRetention},
		{Name: cfg.DLQTopic, Partitions: cfg.TopicPartitions, Replication: cfg.Replication},
	}
	if cfg.InputKeyedBy == "" {
		specs = append(specs, cluster.TopicSpec{Name: cfg.RepartitionTopic, Partitions: cfg.RepartitionPartitions, Replication: cfg.Replication, Retention: cfg.RepartitionRetention})
	}
	for _, t := range cfg.InputTopics {
		specs = append(specs, cluster.TopicSpec{Name: t, MustExist: true})
	}
	parts, err := cfg.Conn.EnsureTopics(ctx, specs, cfg.CreateTopics)
	if err != nil {
		return err
	}
	inputs := 0
	for _, t := range cfg.InputTopics {
		inputs += parts[t]
	}
	cfg.Log.Info().Strs("input", cfg.InputTopics).Int("input_partitions", inputs).
		Str("repartition", cfg.RepartitionTopic).Int("repartition_partitions", parts[cfg.RepartitionTopic]).
		Str("risk", cfg.RiskTopic).Str("dlq", cfg.DLQTopic).Msg("topics ready")

	dlq := producer.NewWriter(cfg.Conn, cfg.DLQTopic, nil)
	risk := producer.NewWriter(cfg.Conn, cfg.RiskTopic, nil)
	writers := []*producer.Writer{dlq, risk}
	defer func() {
		for _, w := range writers {
			if err := w.Close(); err != nil {
				cfg.Log.Warn().Err(err).Str("topic", w.Topic()).Msg("flush on close failed")
			}
		}
	}()
	em := *cfg.Emitter
	em.Metrics = cfg.Metrics
	stages := 2
	if cfg.InputKeyedBy != "" {
		stages = 1
	}
	ready := newReadiness(stages, func(r bool) {
		v := 0.0
		if r {
			v = 1
		}
		cfg.Metrics.Ready.Set(v)
		if cfg.Ready != nil {
			cfg.Ready(r)
		}
	})
	s2 := consumer.Stage2Config{
		Conn: cfg.Conn, Group: cfg.Group + "-stage2", Topic: cfg.RepartitionTopic, Rules: cfg.Rules,
		Engine: cfg.Engine, Emitter: &em, Encoder: cfg.Encoder, Risk: risk, CommitInterval: cfg.CommitInterval,
		FetchMaxBytes: consumer.DefaultFetchBytes, Settings: cfg.Settings, Now: cfg.Now, Log: cfg.Log, Metrics: cfg.Metrics,
	}
	if cfg.InputKeyedBy != "" {
		s2.Group = cfg.Group + "-direct"
		s2.OnAssigned, s2.OnGenerationEnd = ready.joined(0)
		return consumer.RunDirect(ctx, consumer.DirectConfig{
			Stage2Config: s2, Topics: cfg.InputTopics, Format: cfg.Format,
			Decoder: consumer.DecoderOptions{Fields: cfg.Rules.Fields()}, DLQ: dlq,
			IdleTimeout: cfg.IdleTimeout, MaxRecordBytes: cfg.MaxRecordBytes, MaxFutureSkew: cfg.MaxFutureSkew,
		})
	}
	repart := producer.NewWriter(cfg.Conn, cfg.RepartitionTopic, producer.RouteBalancer{})
	writers = append(writers, repart)
	s1 := consumer.Stage1Config{
		Conn: cfg.Conn, Group: cfg.Group + "-stage1", Topics: cfg.InputTopics, InputPartitions: inputs,
		Format: cfg.Format, Decoder: consumer.DecoderOptions{Fields: cfg.Rules.Fields()}, Rules: cfg.Rules,
		Repartition: repart, RepartitionPartitions: parts[cfg.RepartitionTopic], DLQ: dlq,
		IdleTimeout: cfg.IdleTimeout, MarkerInterval: cfg.MarkerInterval, FlushInterval: cfg.FlushInterval,
		FlushRecords: 5000, MaxRecordBytes: cfg.MaxRecordBytes, MaxFutureSkew: cfg.MaxFutureSkew,
		FetchMaxBytes: consumer.DefaultFetchBytes, Settings: cfg.Settings, Now: cfg.Now, Log: cfg.Log, Metrics: cfg.Metrics,
	}
	s1.OnAssigned, s1.OnGenerationEnd = ready.joined(0)
	s2.OnAssigned, s2.OnGenerationEnd = ready.joined(1)
	errs := make(chan error, 2)
	go func() { errs <- consumer.RunStage1(ctx, s1) }()
	go func() { errs <- consumer.RunStage2(ctx, s2) }()
	return errors.Join(<-errs, <-errs)
}

func (cfg *JobConfig) check() error {
	if cfg.InputKeyedBy != "" {
		// Skipping the hop is only correct when every group's events share
		// one input partition: the key must be one of every rule's by-fields.
		for _, r := range cfg.Rules.Rules {
			found := false
			for _, b := range r.By {
				found = found || b == cfg.InputKeyedBy
			}
			if !found {
				return fmt.Errorf("--input-keyed-by %s: rule %s does not group by %s, so its groups can span input partitions", cfg.InputKeyedBy, r.ID, cfg.InputKeyedBy)
			}
		}
	}
	var longest time.Duration
	for _, r := range cfg.Rules.Rules {
		if d := r.Window.Size + r.Window.Lag; d > longest {
			longest = d
		}
	}
	// The repartition topic is the state store: a window's records must
	// outlive the window, or a restart could not rebuild it.
	if cfg.RepartitionRetention > 0 && cfg.RepartitionRetention < 2*longest {
		return fmt.Errorf("repartition retention %s must be at least twice the longest window + lag (%s)", cfg.RepartitionRetention, longest)
	}
	if len(cfg.InputTopics) == 0 {
		return errors.New("no input topic (--input-topic)")
	}
	for _, t := range cfg.InputTopics {
		if t == cfg.RepartitionTopic || t == cfg.RiskTopic || t == cfg.DLQTopic {
			return fmt.Errorf("topic %s is used twice", t)
		}
	}
	if cfg.RepartitionPartitions < 1 || cfg.TopicPartitions < 1 {
		return errors.New("partition counts must be at least 1")
	}
	return nil
}

// readiness tracks which stages are in a consumer-group generation.
type readiness struct {
	mu     sync.Mutex
	in     []bool
	ready  bool
	notify func(bool)
}

func newReadiness(stages int, notify func(bool)) *readiness {
	return &readiness{in: make([]bool, stages), notify: notify}
}

// joined returns the hooks of stage i: one for a generation's start, one
// for its end.
func (r *readiness) joined(i int) (func(map[string][]int), func()) {
	return func(map[string][]int) { r.set(i, true) }, func() { r.set(i, false) }
}

func (r *readiness) set(i int, in bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.in[i] = in
	all := true
	for _, v := range r.in {
		all = all && v
	}
	if all != r.ready {
		r.ready = all
		r.notify(all)
	}
}
