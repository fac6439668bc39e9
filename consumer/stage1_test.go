package consumer

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/msixguard/msixguard/cluster"
	"github.com/msixguard/msixguard/metrics"
	"github.com/msixguard/msixguard/producer"
	"github.com/msixguard/msixguard/rules"
)

// stage1Env starts an embedded broker with a one-partition input topic "in",
// a repartition topic "rp" of rp partitions and a "dlq", and returns a
// stage 1 configuration over them with the seed rule (flush and marker
// intervals for the caller to set).
func stage1Env(tb testing.TB, rp int) (*cluster.Conn, Stage1Config) {
	tb.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	conn, err := cluster.New(c.ListenAddrs(), nil, nil, "test")
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := conn.EnsureTopics(context.Background(), []cluster.TopicSpec{{Name: "in", Partitions: 1}, {Name: "rp", Partitions: rp}, {Name: "dlq", Partitions: 1}}, true); err != nil {
		tb.Fatal(err)
	}
	builtin, err := rules.Builtin()
	if err != nil {
		tb.Fatal(err)
	}
	rs, _ := rules.NewSet(builtin)
	return conn, Stage1Config{
		Conn: conn, Group: "g", Topics: []string{"in"}, InputPartitions: 1, Format: FormatAuto,
		Decoder: DecoderOptions{Fields: rs.Fields()}, Rules: rs,
		Repartition: producer.NewWriter(conn, "rp", producer.RouteBalancer{}), RepartitionPartitions: rp,
		DLQ: producer.NewWriter(conn, "dlq", nil), IdleTimeout: time.Minute, MarkerInterval: time.Second,
		FlushInterval: 200 * time.Millisecond, FlushRecords: 5000, MaxRecordBytes: 1 << 20, FetchMaxBytes: 16 << 20,
		Settings: DefaultGroupSettings, Now: time.Now, Log: zerolog.Nop(), Metrics: metrics.NewUnregistered(),
	}
}

// TestStage1WritesMatchesBeforeTheCommitCadence: an early alert must not
// wait for stage 1's commit cadence. With commits every 30 s, a match still
// reaches the repartition topic within a few matchDelays, while its offset
// stays uncommitted (the commit comes only after the write, and only on the
// cadence).
func TestStage1WritesMatchesBeforeTheCommitCadence(t *testing.T) {
	conn, cfg := stage1Env(t, 1)
	cfg.MarkerInterval, cfg.FlushInterval = time.Minute, 30*time.Second
	ctx := context.Background()
	assigned := make(chan struct{}, 1)
	cfg.OnAssigned = func(map[string][]int) {
		select {
		case assigned <- struct{}{}:
		default:
		}
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- RunStage1(rctx, cfg) }()
	defer func() { cancel(); <-done }()

	r := kafka.NewReader(kafka.ReaderConfig{Brokers: conn.Brokers, Dialer: conn.Dialer(), Topic: "rp", Partition: 0, MaxWait: 50 * time.Millisecond})
	defer r.Close()
	select {
	case <-assigned:
	case <-time.After(20 * time.Second):
		t.Fatal("stage 1 did not join within 20s")
	}
	w := producer.NewWriter(conn, "in", nil)
	defer w.Close()
	sent := time.Now()
	if err := w.Write(ctx, kafka.Message{Value: []byte(`{"_time": 1714560900, "EventCode": 855, "dvc": "H", "user_id": "U", "PackageMoniker": "A_1.0.0.0_x64__z0p5db6dqbn1q"}`)}); err != nil {
		t.Fatal(err)
	}
	rd, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	for {
		msg, err := r.ReadMessage(rd)
		if err != nil {
			t.Fatalf("no match on the repartition topic within 10s (commit cadence 30s): %v", err)
		}
		if string(producer.Header(msg.Headers, producer.HeaderType)) == "match" {
			break
		}
	}
	took := time.Since(sent)
	if off, _, err := committed(ctx, conn, "g", "in", 0); err != nil || off > 0 {
		t.Fatalf("input offset committed before the cadence: %d %v", off, err)
	}
	t.Logf("match on the repartition topic %v after it was produced", took.Round(time.Millisecond))
}
