package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/msixguard/msixguard/cluster"
	"github.com/msixguard/msixguard/consumer"
	"github.com/msixguard/msixguard/metrics"
	"github.com/msixguard/msixguard/pipeline"
	"github.com/msixguard/msixguard/producer"
)

// runFlags are the settings of `msixguard run`.
type runFlags struct {
	engine                engineFlags
	security              securityFlags
	configFile            string
	printConfig           bool
	brokers               []string
	group                 string
	inputTopics           []string
	riskTopic             string
	dlqTopic              string
	repartitionTopic      string
	repartitionPartitions int
	inputKeyedBy          string
	topicPartitions       int
	replication           int
	createTopics          bool
	repartitionRetention  time.Duration
	outputFormat          string
	avroSchemaID          int
	idleTimeout           time.Duration
	maxFutureSkew         time.Duration
	metricsAddr           string
	logFormat             string
	logLevel              string
	drainTimeout          time.Duration
}

func (f *runFlags) register(c *cobra.Command) {
	fl := c.Flags()
	f.engine.register(c, "final,late")
	f.security.register(c)
	fl.StringVar(&f.configFile, "config", "", "YAML config file (keys are flag names); flags and MSIXGUARD_* env win over it")
	fl.BoolVar(&f.printConfig, "print-config", false, "print the effective configuration (secrets masked) and exit")
	fl.StringSliceVar(&f.brokers, "brokers", []string{"127.0.0.1:9092"}, "Kafka bootstrap brokers, host:port (comma-separated)")
	fl.StringVar(&f.group, "group", "msixguard", "consumer group prefix; stages use GROUP-stage1 and GROUP-stage2")
	fl.StringSliceVar(&f.inputTopics, "input-topic", []string{"wineventlog"}, "input topic(s) with Windows event records")
	fl.StringVar(&f.riskTopic, "risk-topic", "msixguard-risk", "output topic for risk messages")
	fl.StringVar(&f.dlqTopic, "dlq-topic", "msixguard-dlq", "dead-letter topic for records that cannot be decoded")
	fl.StringVar(&f.repartitionTopic, "repartition-topic", "msixguard-repartition", "internal topic between the stages (holds window state)")
	fl.IntVar(&f.repartitionPartitions, "repartition-partitions", 6, "partitions of a created repartition topic (caps stage-2 parallelism)")
	fl.StringVar(&f.inputKeyedBy, "input-keyed-by", "", "field the input is already keyed by (dvc): skip the repartition hop; every rule must group by it")
	fl.IntVar(&f.topicPartitions, "topic-partitions", 3, "partitions of created risk and DLQ topics")
	fl.IntVar(&f.replication, "replication-factor", 0, "replication factor of created topics (0: broker default)")
	fl.BoolVar(&f.createTopics, "create-topics", false, "create missing msixguard topics (never the input topic)")
	fl.DurationVar(&f.repartitionRetention, "repartition-retention", 24*time.Hour, "retention of a created repartition topic; at least twice the longest window + lag")
	fl.StringVar(&f.outputFormat, "output-format", "json", "risk message encoding: json or avro (Confluent wire format)")
	fl.IntVar(&f.avroSchemaID, "output-avro-schema-id", 1, "schema id written in Avro risk messages (register schemas/risk.avsc under it)")
	fl.DurationVar(&f.idleTimeout, "idle-timeout", 30*time.Second, "an input partition the broker confirms fully read for this long stops holding the watermark back")
	fl.DurationVar(&f.maxFutureSkew, "max-future-skew", time.Hour, "records whose event time is further ahead of the wall clock go to the DLQ (0: no limit)")
	fl.StringVar(&f.metricsAddr, "metrics-addr", "127.0.0.1:9464", "listen address of /metrics, /healthz, /readyz (empty: off)")
	fl.StringVar(&f.logFormat, "log-format", "json", "log format: json or console")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fl.DurationVar(&f.drainTimeout, "drain-timeout", 8*time.Second, "on SIGTERM, how long to wait for writes, commits and leaving the groups")
}

func newLogger(format, level string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil {
		return zerolog.Logger{}, usageErr("--log-level %q: %w", level, err)
	}
	var l zerolog.Logger
	switch format {
	case "json":
		l = zerolog.New(os.Stderr)
	case "console":
		l = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.RFC3339})
	default:
		return l, usageErr("--log-format %q: want json or console", format)
	}
	return l.Level(lvl).With().Timestamp().Logger(), nil
}

func newRunCmd() *cobra.Command {
	var f runFlags
	c := &cobra.Command{
		Use:   "run",
		Short: "Run the detection on Kafka (both stages; scale by adding replicas)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyConfig(cmd, f.configFile); err != nil {
				return err
			}
			if f.printConfig {
				return printConfig(cmd)
			}
			log, err := newLogger(f.logFormat, f.logLevel)
			if err != nil {
				return err
			}
			cfg, err := f.job(log)
			if err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, f.metricsAddr, f.drainTimeout, log)
		},
	}
	f.register(c)
	return c
}

// job builds the pipeline configuration from the flags.
func (f *runFlags) job(log zerolog.Logger) (pipeline.JobConfig, error) {
	eng, err := f.engine.build()
	if err != nil {
		return pipeline.JobConfig{}, err
	}
	tc, mech, err := f.security.build()
	if err != nil {
		return pipeline.JobConfig{}, err
	}
	conn, err := cluster.New(f.brokers, tc, mech, "msixguard")
	if err != nil {
		return pipeline.JobConfig{}, usageErr("%w", err)
	}
	enc, err := producer.NewEncoder(f.outputFormat, f.avroSchemaID)
	if err != nil {
		return pipeline.JobConfig{}, usageErr("--output-format: %w", err)
	}
	if f.idleTimeout <= 0 {
		return pipeline.JobConfig{}, usageErr("--idle-timeout must be positive")
	}
	return pipeline.JobConfig{
		Conn: conn, Group: f.group, InputTopics: f.inputTopics, RiskTopic: f.riskTopic, DLQTopic: f.dlqTopic,
		RepartitionTopic: f.repartitionTopic, RepartitionPartitions: f.repartitionPartitions, InputKeyedBy: f.inputKeyedBy, CreateTopics: f.createTopics,
		TopicPartitions: f.topicPartitions, Replication: f.replication, RepartitionRetention: f.repartitionRetention,
		Format: eng.format, Rules: eng.rules, Engine: eng.opts, Emitter: eng.emitter, Encoder: enc,
		IdleTimeout: f.idleTimeout, MaxRecordBytes: f.engine.maxRecord, MaxFutureSkew: f.maxFutureSkew,
		MarkerInterval: time.Second, FlushInterval: 200 * time.Millisecond, CommitInterval: time.Second,
		Settings: consumer.DefaultGroupSettings, Now: time.Now, Log: log,
	}, nil
}

// serve runs the job with the metrics listener until SIGINT/SIGTERM, then
// drains within drain.
func serve(parent context.Context, cfg pipeline.JobConfig, metricsAddr string, drain time.Duration, log zerolog.Logger) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cfg.Metrics = metrics.New(reg)
	if parent == nil {
		parent = context.Background()
	}
	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer stop()
	var ready atomic.Bool
	cfg.Ready = func(r bool) {
		ready.Store(r)
		if r {
			log.Info().Msg("ready: every stage is in a consumer-group generation")
		} else {
			log.Info().Msg("not ready: a stage is rebalancing")
		}
	}
	if metricsAddr != "" {
		srv, err := startHTTP(metricsAddr, reg, &ready, cfg.Conn)
		if err != nil {
			return err
		}
		defer srv.Close()
		log.Info().Str("addr", metricsAddr).Msg("metrics, /healthz and /readyz listening")
	}
	done := make(chan error, 1)
	go func() { done <- pipeline.Run(ctx, cfg) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	log.Info().Dur("timeout", drain).Msg("draining: stop fetching, flush, commit, leave groups")
	select {
	case err := <-done:
		log.Info().Msg("drained")
		return err
	case <-time.After(drain):
		return errors.New("drain timed out; uncommitted records will be re-read by the next owner")
	}
}

func startHTTP(addr string, reg *prometheus.Registry, ready *atomic.Bool, conn *cluster.Conn) (*http.Server, error) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			http.Error(w, "not ready: joining consumer groups", http.StatusServiceUnavailable)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		if _, err := conn.Partitions(ctx); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, usageErr("--metrics-addr %s: %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return srv, nil
}
