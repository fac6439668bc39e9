package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the process's collectors. Stages receive a *Metrics and
// update it; a nil-free zero value is not valid, use New.
type Metrics struct {
	RecordsConsumed *prometheus.CounterVec // topic
	Matched         *prometheus.CounterVec // rule
	Unmatched       prometheus.Counter
	Dropped         *prometheus.CounterVec // reason
	DecodeErrors    *prometheus.CounterVec // format, reason
	DLQWrites       prometheus.Counter
	LateEvents      *prometheus.CounterVec // rule
	Suppressed      *prometheus.CounterVec // rule
	RiskMessages    *prometheus.CounterVec // rule, kind
	OpenGroups      *prometheus.GaugeVec   // partition
	OpenWindows     *prometheus.GaugeVec   // partition
	StateBytes      prometheus.Gauge
	CommitErrors    *prometheus.CounterVec // stage
	WriteErrors     *prometheus.CounterVec // topic
	FetchErrors     *prometheus.CounterVec // topic
	OffsetsSkipped  *prometheus.CounterVec // topic
	ConsumerLag     *prometheus.GaugeVec   // stage, topic, partition
	Watermark       *prometheus.GaugeVec   // input_partition (stage 2 view), seconds since epoch
	WatermarkAge    *prometheus.GaugeVec   // partition: wall clock minus watermark, seconds
	Latency         prometheus.Histogram   // record timestamp to risk message write
	Rebalances      *prometheus.CounterVec // stage
	Duplicates      prometheus.Counter
	Ready           prometheus.Gauge
}

// New creates the collectors and registers them on reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		RecordsConsumed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "msixguard_records_consumed_total", Help: "Input records read, by topic."}, []string{"topic"}),
		Matched:         prometheus.NewCounterVec(prometheus.CounterOpts{Name: "msixguard_records_matched_total", Help: "Records that passed a rule's search filter, by rule."}, []string{"rule"}),
		Unmatched:       prometheus.NewCounter(prometheus.CounterOpts{Name: "msixguard_records_unmatched_total", Help: "Decoded records that matched no rule."}),
		Dropped:         prometheus.NewCounterVec(prometheus.CounterOpts{Name: "msixguard_records_dropped_total", Help: "Matching records not aggregated, by reason (missing_by_field, group_limit, future_time, tombstone, …)."}, []string{"reason"}),
		DecodeErrors:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "msixguard_decode_errors_total", Help: "Records that could not be decoded, by format and reason."}, []string{"format", "reason"}),
		DLQWrites:       prometheus.NewCounter(prometheus.CounterOpts{Name: "msixguard_dlq_writes_total", Help: "Records written to the dead-letter topic."}),
		LateEvents:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "msixguard_late_events_total", Help: "Matches whose window was already final when they arrived."}, []string{"rule"}),
		Suppressed:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "msixguard_groups_suppressed_total", Help: "Risk messages suppressed by the tuning allowlist."}, []string{"rule"}),
		RiskMessages:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "msixguard_risk_messages_total", Help: "Risk messages produced, by rule and kind."}, []string{"rule", "kind"}),
		OpenGroups:      prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "msixguard_open_groups", Help: "Groups in windows not yet final, by repartition partition."}, []string{"partition"}),
		OpenWindows:     prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "msixguard_open_windows", Help: "Distinct windows not yet final, by repartition partition."}, []string{"partition"}),
		StateBytes:      prometheus.NewGauge(prometheus.GaugeOpts{Name: "msixguard_state_bytes", Help: "Estimated bytes of window state held in memory."}),
		CommitErrors:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "msixguard_commit_errors_total", Help: "Failed offset commits, by stage."}, []string{"stage"}),
		WriteErrors:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "msixguard_write_errors_total", Help: "Failed produce requests, by topic."}, []string{"topic"}),
		FetchErrors:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "msixguard_fetch_errors_total", Help: "Failed fetch requests (each is retried), by topic."}, []string{"topic"}),
		OffsetsSkipped:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "msixguard_offsets_skipped_total", Help: "Offsets skipped because retention deleted them before they were read, by topic."}, []string{"topic"}),
		ConsumerLag:     prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "msixguard_consumer_lag_records", Help: "High watermark minus next offset, by stage, topic and partition."}, []string{"stage", "topic", "partition"}),
		Watermark:       prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "msixguard_watermark_seconds", Help: "Event-time watermark of each input partition as seen by stage 2 (unix seconds)."}, []string{"input_partition"}),
		WatermarkAge:    prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "msixguard_watermark_age_seconds", Help: "Wall clock minus the watermark of each repartition partition."}, []string{"partition"}),
		Latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "msixguard_end_to_end_latency_seconds", Help: "Input record timestamp to risk message write.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 7200}}),
		Rebalances: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "msixguard_rebalances_total", Help: "Consumer group generations joined, by stage."}, []string{"stage"}),
		Duplicates: prometheus.NewCounter(prometheus.CounterOpts{Name: "msixguard_duplicates_dropped_total", Help: "Repartition records dropped as repeats of an already-aggregated source offset."}),
		Ready:      prometheus.NewGauge(prometheus.GaugeOpts{Name: "msixguard_ready", Help: "1 while every stage is in a consumer-group generation; 0 while joining or rebalancing."}),
	}
	reg.MustRegister(m.RecordsConsumed, m.Matched, m.Unmatched, m.Dropped, m.DecodeErrors, m.DLQWrites, m.LateEvents,
		m.Suppressed, m.RiskMessages, m.OpenGroups, m.OpenWindows, m.StateBytes, m.CommitErrors, m.WriteErrors, m.FetchErrors, m.OffsetsSkipped,
		m.ConsumerLag, m.Watermark, m.WatermarkAge, m.Latency, m.Rebalances, m.Duplicates, m.Ready)
	return m
}

// NewUnregistered returns metrics on a private registry, for offline use
// (`check`) and tests.
func NewUnregistered() *Metrics { return New(prometheus.NewRegistry()) }
