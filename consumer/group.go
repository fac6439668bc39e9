package consumer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/msixguard/msixguard/cluster"
	"github.com/msixguard/msixguard/metrics"
)

// GroupSettings tune the consumer-group protocol for both stages.
type GroupSettings struct {
	SessionTimeout    time.Duration
	HeartbeatInterval time.Duration
	RebalanceTimeout  time.Duration
	JoinBackoff       time.Duration
}

// DefaultGroupSettings react to a dead replica within ~10 s.
var DefaultGroupSettings = GroupSettings{
	SessionTimeout: 10 * time.Second, HeartbeatInterval: time.Second,
	RebalanceTimeout: 10 * time.Second, JoinBackoff: time.Second,
}

// drainTimeout bounds how long a group waits for its partition loops'
// final writes and commits before it leaves anyway.
const drainTimeout = 5 * time.Second

// drain is how a group shuts down cleanly: when its context ends, every
// partition loop writes what it holds and commits it while the member is
// still in its generation (a member that has left can no longer commit),
// then the group is left. A loop must not return after draining: kafka-go
// ends the whole generation when any started function returns, which would
// cut the other loops' commits short; it waits for the generation's end.
type drain struct {
	ctx    context.Context // ends when the drain starts
	cancel context.CancelFunc
	// req is checked for every record: an atomic load, where ctx.Err()
	// would take a mutex that every partition loop shares.
	req atomic.Bool
	wg  sync.WaitGroup
}

func newDrain() *drain {
	d := &drain{}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	return d
}

// loop registers a partition loop; call its result once the loop has
// drained or stopped (more calls are no-ops).
func (d *drain) loop() func() {
	d.wg.Add(1)
	var once sync.Once
	return func() { once.Do(d.wg.Done) }
}

// requested tells a loop that it should drain.
func (d *drain) requested() bool { return d.req.Load() }

// fetchContext is ctx, also ended when the drain starts, for a loop's reads:
// a read that waits for records must not hold the drain up.
func (d *drain) fetchContext(ctx context.Context) (context.Context, func()) {
	fctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(d.ctx, cancel)
	return fctx, func() { stop(); cancel() }
}

// fetchErr is what a read's error means to the loop: a read cut short by
// the drain is as good as one that timed out.
func (d *drain) fetchErr(err error) error {
	if err != nil && errors.Is(err, context.Canceled) && d.requested() {
		return context.DeadlineExceeded
	}
	return err
}

// finish is a loop's last act once the drain is requested: its final
// writes and commit (final), then it tells the drain and stays in the
// generation until the group is left. It returns final's error, for the
// loop to log: the next owner re-reads from the last commit then.
func (d *drain) finish(ctx context.Context, drained func(), final func() error) error {
	err := final()
	drained()
	<-ctx.Done()
	return err
}

// start asks every loop to drain and waits for them, at most timeout.
func (d *drain) start(timeout time.Duration) bool {
	d.req.Store(true)
	d.cancel()
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// runGroup joins group id on topics and calls onGen for every generation
// until ctx ends, then drains (see drain) and leaves. onGen starts the
// generation's work with gen.Start and returns; kafka-go ends the generation
// when any started function returns or the group rebalances.
func runGroup(ctx context.Context, c *cluster.Conn, id string, topics []string, gs GroupSettings, log zerolog.Logger, onGen func(*kafka.Generation, *drain)) error {
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID: id, Brokers: c.Brokers, Dialer: c.Dialer(), Topics: topics,
		StartOffset: kafka.FirstOffset, WatchPartitionChanges: true, PartitionWatchInterval: 10 * time.Second,
		SessionTimeout: gs.SessionTimeout, HeartbeatInterval: gs.HeartbeatInterval,
		RebalanceTimeout: gs.RebalanceTimeout, JoinGroupBackoff: gs.JoinBackoff,
		Timeout: c.Timeout,
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			log.Debug().Str("group", id).Msg(fmt.Sprintf(msg, args...))
		}),
	})
	if err != nil {
		return fmt.Errorf("consumer group %s: %w", id, err)
	}
	// Closing the group (deferred) leaves it, so the partitions move at once
	// rather than after the session timeout; first the loops commit what
	// they did. cg.Next returns as soon as ctx ends, generation or not.
	defer cg.Close()
	dr := newDrain()
	leave := func() error {
		if !dr.start(drainTimeout) {
			log.Warn().Str("group", id).Dur("timeout", drainTimeout).Msg("drain timed out; leaving the group, uncommitted records will be re-read")
		}
		return nil
	}
	for {
		gen, err := cg.Next(ctx)
		if ctx.Err() != nil {
			return leave()
		}
		if errors.Is(err, kafka.ErrGroupClosed) {
			return nil
		}
		if err != nil {
			log.Warn().Err(err).Str("group", id).Msg("join failed; retrying")
			select {
			case <-ctx.Done():
				return leave()
			case <-time.After(gs.JoinBackoff):
			}
			continue
		}
		onGen(gen, dr)
		gen.Start(func(ctx context.Context) {
			<-ctx.Done()
			log.Info().Str("group", id).Int32("generation", gen.ID).Interface("revoked", assigned(gen)).Msg("generation ended; partitions revoked")
		})
	}
}

// joined counts and logs a generation a stage joined, and tells the
// optional hooks of its start and (through a function bound to the
// generation) of its end.
func joined(gen *kafka.Generation, stage string, m *metrics.Metrics, log zerolog.Logger, onAssigned func(map[string][]int), onEnd func()) {
	m.Rebalances.WithLabelValues(stage).Inc()
	log.Info().Int32("generation", gen.ID).Interface("assigned", assigned(gen)).Msg("joined")
	if onAssigned != nil {
		onAssigned(assigned(gen))
	}
	if onEnd != nil {
		gen.Start(func(ctx context.Context) {
			<-ctx.Done()
			onEnd()
		})
	}
}

// assigned lists a generation's partitions for logs.
func assigned(gen *kafka.Generation) map[string][]int {
	out := map[string][]int{}
	for t, ps := range gen.Assignments {
		for _, p := range ps {
			out[t] = append(out[t], p.ID)
		}
	}
	return out
}

// commit commits one partition's offset with metadata through kafka.Client
// (kafka-go's Generation.CommitOffsets cannot carry metadata).
func commit(ctx context.Context, c *cluster.Conn, gen *kafka.Generation, topic string, partition int, offset int64, meta string) error {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	resp, err := c.Client().OffsetCommit(ctx, &kafka.OffsetCommitRequest{
		GroupID: gen.GroupID, GenerationID: int(gen.ID), MemberID: gen.MemberID,
		Topics: map[string][]kafka.OffsetCommit{topic: {{Partition: partition, Offset: offset, Metadata: meta}}},
	})
	if err != nil {
		return fmt.Errorf("commit %s/%d@%d: %w", topic, partition, offset, err)
	}
	for _, ps := range resp.Topics {
		for _, p := range ps {
			if p.Error != nil {
				return fmt.Errorf("commit %s/%d@%d: %w", topic, partition, offset, p.Error)
			}
		}
	}
	return nil
}

// committed fetches a partition's committed offset and metadata; offset is
// negative when nothing was committed.
func committed(ctx context.Context, c *cluster.Conn, group, topic string, partition int) (int64, string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	resp, err := c.Client().OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: {partition}}})
	if err != nil {
		return 0, "", fmt.Errorf("fetch committed offset of %s/%d: %w", topic, partition, err)
	}
	if resp.Error != nil {
		return 0, "", fmt.Errorf("fetch committed offset of %s/%d: %w", topic, partition, resp.Error)
	}
	for _, p := range resp.Topics[topic] {
		if p.Partition == partition {
			if p.Error != nil {
				return 0, "", fmt.Errorf("fetch committed offset of %s/%d: %w", topic, partition, p.Error)
			}
			return p.CommittedOffset, p.Metadata, nil
		}
	}
	return -1, "", nil
}
