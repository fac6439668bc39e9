package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/msixguard/msixguard/aggregate"
	"github.com/msixguard/msixguard/cluster"
	"github.com/msixguard/msixguard/consumer"
	"github.com/msixguard/msixguard/metrics"
	"github.com/msixguard/msixguard/pipeline"
	"github.com/msixguard/msixguard/producer"
)

// demoEvents is constructed sample data (see demodata/README.md).
//
//go:embed demodata/events.ndjson
var demoEvents []byte

func newDemoCmd() *cobra.Command {
	var (
		asJSON  bool
		timeout time.Duration
	)
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole pipeline on an embedded Kafka broker with bundled sample events, print the risk messages, exit",
		Long: `demo needs no setup: it starts an in-process Kafka-protocol broker (franz-go's
kfake), creates the topics, writes the bundled constructed sample events
(normalized JSON, raw XML and ECS) to a 3-partition input topic, runs both
stages, and prints each risk message as it arrives. It exits 0 once the
messages equal what 'msixguard check' gives on the same events.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), asJSON, timeout)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print raw risk messages (NDJSON)")
	c.Flags().DurationVar(&timeout, "timeout", 60*time.Second, "give up after this long")
	return c
}

func runDemo(ctx context.Context, out, errOut io.Writer, asJSON bool, timeout time.Duration) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	set, err := pipeline.LoadRules(nil, false)
	if err != nil {
		return err
	}
	finals := map[aggregate.Kind]bool{aggregate.KindFinal: true}

	// What the Splunk search gives on the same events: the demo's yardstick.
	var want bytes.Buffer
	if err := pipeline.Check([]pipeline.Input{{Name: "demo", R: bytes.NewReader(demoEvents)}}, &want, pipeline.CheckOptions{
		Format: "auto", Rules: set, MaxBytes: 1 << 20, Metrics: metrics.NewUnregistered(),
		Emitter: &producer.Emitter{Kinds: finals, Loc: time.UTC, Now: time.Now},
	}); err != nil {
		return err
	}
	wantIDs := map[string]bool{}
	for _, line := range bytes.Split(bytes.TrimSpace(want.Bytes()), []byte{'\n'}) {
		var m struct{ ID string }
		if err := json.Unmarshal(line, &m); err != nil {
			return fmt.Errorf("demo expectation: %w", err)
		}
		wantIDs[m.ID] = true
	}

	broker, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		return fmt.Errorf("start embedded broker: %w", err)
	}
	defer broker.Close()
	conn, err := cluster.New(broker.ListenAddrs(), nil, nil, "msixguard-demo")
	if err != nil {
		return err
	}
	defer conn.Close()
	fmt.Fprintf(errOut, "embedded Kafka broker on %s\n", strings.Join(broker.ListenAddrs(), ","))
	const input, risk = "wineventlog", "msixguard-risk"
	if _, err := conn.EnsureTopics(ctx, []cluster.TopicSpec{{Name: input, Partitions: 3}}, true); err != nil {
		return err
	}

	log := zerolog.New(zerolog.ConsoleWriter{Out: errOut, TimeFormat: time.TimeOnly}).Level(zerolog.WarnLevel).With().Timestamp().Logger()
	m := metrics.NewUnregistered()
	jobCtx, stopJob := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- pipeline.Run(jobCtx, pipeline.JobConfig{
			Conn: conn, Group: "msixguard-demo", InputTopics: []string{input}, RiskTopic: risk,
			DLQTopic: "msixguard-dlq", RepartitionTopic: "msixguard-repartition", RepartitionPartitions: 3,
			CreateTopics: true, TopicPartitions: 1, Format: "auto", Rules: set,
			Emitter: &producer.Emitter{Kinds: finals, Loc: time.UTC, Now: time.Now}, Encoder: producer.JSONEncoder{},
			// Short timers: the demo's stream goes quiet at once, and the
			// idle watermark closes its windows.
			IdleTimeout: 2 * time.Second, MaxRecordBytes: 1 << 20, MarkerInterval: 250 * time.Millisecond,
			FlushInterval: 100 * time.Millisecond, CommitInterval: 500 * time.Millisecond,
			Settings: consumer.GroupSettings{SessionTimeout: 6 * time.Second, HeartbeatInterval: 500 * time.Millisecond, RebalanceTimeout: 6 * time.Second, JoinBackoff: 500 * time.Millisecond},
			Now:      time.Now, Log: log, Metrics: m,
		})
	}()
	defer func() { stopJob(); <-done }()

	w := producer.NewWriter(conn, input, &kafka.RoundRobin{})
	var recs []kafka.Message
	for _, line := range bytes.Split(demoEvents, []byte{'\n'}) {
		if len(bytes.TrimSpace(line)) > 0 {
			recs = append(recs, kafka.Message{Value: line})
		}
	}
	if err := w.Write(ctx, recs...); err != nil {
		return err
	}
	w.Close()
	fmt.Fprintf(errOut, "replayed %d constructed events to %s (3 partitions); waiting for %d risk messages…\n", len(recs), input, len(wantIDs))

	r := kafka.NewReader(kafka.ReaderConfig{Brokers: conn.Brokers, Dialer: conn.Dialer(), Topic: risk, Partition: 0, MaxWait: 200 * time.Millisecond})
	defer r.Close()
	var got bytes.Buffer
	seen := map[string]bool{}
	for len(seen) < len(wantIDs) {
		msg, err := r.ReadMessage(ctx)
		if err != nil {
			select {
			case jerr := <-done:
				return fmt.Errorf("pipeline stopped: %v", jerr)
			default:
			}
			return fmt.Errorf("got %d of %d risk messages: %w", len(seen), len(wantIDs), err)
		}
		got.Write(msg.Value)
		got.WriteByte('\n')
		var raw map[string]any
		if err := json.Unmarshal(msg.Value, &raw); err != nil {
			return fmt.Errorf("risk message: %w", err)
		}
		id, _ := raw["id"].(string)
		if !wantIDs[id] {
			return fmt.Errorf("unexpected risk message %s", msg.Value)
		}
		seen[id] = true
		if asJSON {
			fmt.Fprintf(out, "%s\n", msg.Value)
			continue
		}
		fmt.Fprintf(out, "[%s] %s  %s  user %s  count=%v  window %s → %s\n       %s\n",
			raw["kind"], raw["id"], raw["dest"], raw["user_id"], raw["count"], raw["window_start"], raw["window_end"], raw["risk_message"])
	}
	if missing, extra, err := pipeline.DiffMessages(want.Bytes(), got.Bytes()); err != nil || len(missing)+len(extra) > 0 {
		return fmt.Errorf("stream and check differ: %d missing, %d unexpected (%v)", len(missing), len(extra), err)
	}
	fmt.Fprintf(errOut, "ok: %d risk messages, identical to 'msixguard check' on the same events (%s)\n", len(seen), pipeline.Summary(m))
	return nil
}
