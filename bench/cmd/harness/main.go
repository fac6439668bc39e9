// Command harness is msixguard's end-to-end benchmark (issue 5). Against a
// real Apache Kafka (scripts/kafka) it generates an input topic and, in one
// run, measures the consumer ceiling (a bare kafka-go group loop and Kafka's
// ConsumerPerformance), msixguard's stage 1 alone and its whole pipeline, a
// Kafka Streams implementation of the same detection (bench/peers/kstreams),
// early-alert latency, and memory per open group; it compares the outputs
// and writes results.json, summary.md and plot.svg.
//
// Run it through bench/run, which starts the broker and builds everything:
//
//	bench/run                   # 1M records (the table)
//	bench/run -records 200000   # a quick run
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/msixguard/msixguard/aggregate"
	"github.com/msixguard/msixguard/cluster"
	"github.com/msixguard/msixguard/consumer"
	"github.com/msixguard/msixguard/metrics"
	"github.com/msixguard/msixguard/pipeline"
	"github.com/msixguard/msixguard/producer"
)

type options struct {
	brokers      string
	records      int
	partitions   int
	match        float64
	mix          string
	hosts        int
	users        int
	span         time.Duration
	eventRate    float64
	seed         uint64
	out          string
	msixguard    string
	peerDir      string
	ksThreads    int
	latency      time.Duration
	latRate      int
	latFractions string
	memGroups    string
	skip         string
	keep         bool
	profile      bool
	repoRoot     string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "child" {
		os.Exit(child(os.Args[2:]))
	}
	if len(os.Args) == 3 && os.Args[1] == "-render" {
		if err := render(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "harness:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	flag.StringVar(&o.brokers, "brokers", envOr("KAFKA_BROKERS", "127.0.0.1:39092"), "Kafka bootstrap broker")
	flag.IntVar(&o.records, "records", 1_000_000, "input records to generate")
	flag.IntVar(&o.partitions, "partitions", 6, "input topic partitions")
	flag.Float64Var(&o.match, "match", 0.01, "fraction of records that match the rule")
	flag.StringVar(&o.mix, "mix", "json=60,ecs=30,xml=10", "format mix (percent)")
	flag.IntVar(&o.hosts, "hosts", 20000, "distinct hosts (dvc)")
	flag.IntVar(&o.users, "users", 5000, "distinct users (user_id)")
	flag.DurationVar(&o.span, "span", 0, "event-time span of the input (0: records / -event-rate)")
	flag.Float64Var(&o.eventRate, "event-rate", 100, "records per second of event time, when -span is 0")
	flag.Uint64Var(&o.seed, "seed", 5, "generator seed")
	flag.StringVar(&o.out, "out", "bench/out", "output directory (a subdirectory per run)")
	flag.StringVar(&o.msixguard, "msixguard", "bench/out/msixguard", "msixguard binary")
	flag.StringVar(&o.peerDir, "peer", "bench/peers/kstreams", "Kafka Streams peer (built with mvn package)")
	flag.IntVar(&o.ksThreads, "ks-threads", 1, "Kafka Streams num.stream.threads (2 lets a starved thread's partitions fall behind the other's in event time, and the peer drops their records as late)")
	flag.DurationVar(&o.latency, "latency", 20*time.Second, "duration of each latency measurement")
	flag.IntVar(&o.latRate, "latency-rate", 0, "records/s at fraction 1 of the latency phase (0: the measured pipeline throughput)")
	flag.StringVar(&o.latFractions, "latency-fractions", "0.5,0.1", "loads of the latency phase, as fractions of the pipeline's measured throughput")
	flag.StringVar(&o.memGroups, "mem-groups", "10000,100000,1000000", "open-group counts for the memory phase")
	flag.StringVar(&o.skip, "skip", "", "phases to skip: ceiling,perf,fetcher,stage1,pipeline,kstreams,latency,mem")
	flag.BoolVar(&o.keep, "keep", false, "keep the run's topics")
	flag.BoolVar(&o.profile, "profile", false, "write a CPU profile of the stage-1 child (stage1.pprof in the run directory)")
	flag.Parse()
	o.repoRoot, _ = os.Getwd()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "harness:", short(err))
		os.Exit(1)
	}
}

// short cuts kafka-go's error lists (one entry per record) to a line.
func short(err error) string {
	s := err.Error()
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// throughput is one measured consumer.
type throughput struct {
	Name      string  `json:"name"`
	Records   int64   `json:"records"`
	Seconds   float64 `json:"seconds"` // ready (group joined) → done
	RecPerSec float64 `json:"records_per_s"`
	CPU       float64 `json:"cpu_s"` // ready → done, all threads
	CPUPerM   float64 `json:"cpu_s_per_million"`
	TotalCPU  float64 `json:"total_cpu_s"` // the whole process life (rusage)
	PeakRSS   int64   `json:"peak_rss_bytes"`
	Startup   float64 `json:"startup_s"` // launch → ready
	Load      string  `json:"loadavg_before"`
	Note      string  `json:"note,omitempty"`
}

type comparison struct {
	Name    string   `json:"name"`
	Want    int      `json:"want"`
	Got     int      `json:"got"`
	Missing int      `json:"missing"`
	Extra   int      `json:"extra"`
	Example []string `json:"example,omitempty"`
}

type latencyResult struct {
	Fraction     float64            `json:"fraction_of_max"`
	TargetRate   int                `json:"target_records_per_s"`
	AchievedRate float64            `json:"achieved_records_per_s"`
	Sent         int                `json:"matches_sent"`
	Received     int                `json:"early_received"`
	P50          float64            `json:"p50_ms"`
	P90          float64            `json:"p90_ms"`
	P99          float64            `json:"p99_ms"`
	Max          float64            `json:"max_ms"`
	Percentiles  map[string]float64 `json:"ms"`
	// The first seconds of a load phase on a fresh topic carry a warm-up
	// (the broker's first segments, the writers' and readers' first
	// batches); the p99 of the matches sent after it is kept apart.
	WarmupS   float64      `json:"warmup_s"`
	P99Steady float64      `json:"p99_after_warmup_ms"`
	Series    [][2]float64 `json:"series"` // (seconds since start, ms)
	// The latency split at the risk message's detected_at (when msixguard
	// built it): produce → built (the broker's input side, stage 1, the
	// repartition hop, stage 2) and built → at the harness's reader (the
	// write, the risk topic, the harness's fetch and its own scheduling).
	// The slowest of each per second of the phase tell where a slow
	// stretch was spent.
	P99Built     float64   `json:"p99_produce_to_built_ms"`
	P99Delivered float64   `json:"p99_built_to_reader_ms"`
	MaxBuiltPerS []float64 `json:"max_produce_to_built_ms_per_s"`
	MaxDelivPerS []float64 `json:"max_built_to_reader_ms_per_s"`
}

// latencyWarmup is how long a load phase runs before P99Steady counts.
const latencyWarmup = 5 * time.Second

type results struct {
	RunID            string             `json:"run_id"`
	Machine          map[string]string  `json:"machine"`
	Records          int                `json:"records"`
	Bytes            int64              `json:"bytes"`
	AvgBytes         map[string]float64 `json:"avg_bytes_by_format"`
	FormatMix        map[string]int     `json:"records_by_format"`
	Partitions       int                `json:"partitions"`
	Span             string             `json:"event_time_span"`
	Matches          int                `json:"matches"`
	Finals           int                `json:"expected_final_messages"`
	Throughput       []throughput       `json:"throughput"`
	Stage1InPipeline float64            `json:"stage1_in_pipeline_s"`
	Compare          []comparison       `json:"compare"`
	KStreams         string             `json:"kstreams_stats"`
	Latency          []*latencyResult   `json:"latency,omitempty"`
	Memory           []memResult        `json:"memory"`
	Seconds          float64            `json:"harness_seconds"`
	LoadEnd          string             `json:"loadavg_end"`
}

type runner struct {
	o        options
	conn     *cluster.Conn
	dir      string
	prefix   string
	input    string
	res      *results
	skip     map[string]bool
	end      map[int]int64 // input end offsets
	total    int64         // records in the input topic
	tEnd     time.Time     // event time of the last data record
	expectF  []byte        // expected final messages (NDJSON)
	pool     [][]byte      // non-matching records for the latency phase
	guardOut []byte
	ceilings int
	ksOut    []byte
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func run(o options) error {
	t0 := time.Now()
	ctx := context.Background()
	conn, err := cluster.New([]string{o.brokers}, nil, nil, "bench-harness")
	if err != nil {
		return err
	}
	id := time.Now().Format("20060102-150405")
	r := &runner{o: o, conn: conn, prefix: "bench-" + id, skip: map[string]bool{},
		res: &results{RunID: id, Records: o.records, Partitions: o.partitions, Machine: machine()}}
	for _, s := range strings.Split(o.skip, ",") {
		r.skip[strings.TrimSpace(s)] = true
	}
	r.input = r.prefix + "-input"
	r.dir = filepath.Join(o.out, id)
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return err
	}
	if _, err := conn.Partitions(ctx); err != nil {
		return fmt.Errorf("no broker at %s (start one: bench/run does): %w", o.brokers, err)
	}
	if !o.keep {
		defer r.cleanup()
	}
	r.logf("run %s: %d records, %d partitions, %.1f%% matching, mix %s; output in %s", id, o.records, o.partitions, 100*o.match, o.mix, r.dir)
	if err := r.generate(ctx); err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	if err := r.expected(); err != nil {
		return fmt.Errorf("expected output: %w", err)
	}
	phases := []struct {
		name string
		fn   func(context.Context) error
	}{
		// The ceiling runs before and after every measured consumer: on a
		// shared machine each one is compared with its neighbours.
		{"ceiling", r.ceilingN},
		{"perf", r.perf},
		{"fetcher", r.fetcherLoop},
		{"stage1", r.stage1},
		{"ceiling", r.ceilingN},
		{"pipeline", r.pipeline},
		{"ceiling", r.ceilingN},
		{"kstreams", r.kstreams},
		{"ceiling", r.ceilingN},
		{"latency", r.latencyPhase},
		{"mem", r.memory},
	}
	for _, ph := range phases {
		if r.skip[ph.name] {
			continue
		}
		if err := ph.fn(ctx); err != nil {
			r.logf("phase %s failed: %s", ph.name, short(err))
			r.res.Throughput = append(r.res.Throughput, throughput{Name: ph.name, Note: "FAILED: " + short(err)})
		}
		r.save()
	}
	r.compare()
	r.res.Seconds = time.Since(t0).Seconds()
	r.res.LoadEnd = loadavg()
	r.save()
	r.logf("done in %.0fs: %s", r.res.Seconds, r.dir)
	return nil
}

func (r *runner) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ts, err := listTopics(ctx, r.conn)
	if err != nil {
		return
	}
	var mine []string
	for _, t := range ts {
		if strings.HasPrefix(t, r.prefix) {
			mine = append(mine, t)
		}
	}
	if len(mine) > 0 {
		deleteTopics(r.conn, mine...)
	}
}

func (r *runner) save() {
	b, _ := json.MarshalIndent(r.res, "", "  ")
	os.WriteFile(filepath.Join(r.dir, "results.json"), b, 0o644)
	os.WriteFile(filepath.Join(r.dir, "summary.md"), []byte(summary(r.res)), 0o644)
	os.WriteFile(filepath.Join(r.dir, "plot.svg"), []byte(plot(r.res)), 0o644)
}

func machine() map[string]string {
	m := map[string]string{"cpus": strconv.Itoa(runtime.NumCPU()), "go": runtime.Version(), "loadavg_start": loadavg()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				m["cpu"] = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		m["memory"] = strings.Join(strings.Fields(strings.SplitN(string(b), "\n", 2)[0])[1:], " ")
	}
	if out, err := exec.Command("java", "-version").CombinedOutput(); err == nil {
		m["java"] = strings.SplitN(string(out), "\n", 2)[0]
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m["kernel"] = strings.TrimSpace(string(b))
	}
	m["kafka"] = "4.1.1 (scripts/kafka, single KRaft node, same machine)"
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		m["commit"] = strings.TrimSpace(string(out))
		if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench", ":!docs/BENCHMARKS.md", ":!.gitignore").Output(); err == nil && len(st) > 0 {
			m["commit"] += " + uncommitted changes"
		}
	}
	return m
}

// ---------------------------------------------------------------- input --

func parseMix(s string) ([3]float64, error) {
	var w [3]float64
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		f, err := strconv.ParseFloat(v, 64)
		i := slices.Index(formatNames[:], k)
		if !ok || err != nil || i < 0 {
			return w, fmt.Errorf("-mix %q: want json=N,ecs=N,xml=N", s)
		}
		w[i] = f
	}
	return w, nil
}

func (r *runner) generate(ctx context.Context) error {
	o := r.o
	mix, err := parseMix(o.mix)
	if err != nil {
		return err
	}
	if err := createTopic(ctx, r.conn, r.input, o.partitions); err != nil {
		return err
	}
	g := newGenerator(o.seed, o.hosts, o.users, o.match, mix)
	if o.span == 0 {
		o.span = time.Duration(float64(o.records) / o.eventRate * float64(time.Second))
	}
	r.res.Span = o.span.String()
	// Data ends 3 h before now: the closing records (+2 h) stay within
	// msixguard's --max-future-skew (1 h ahead of the wall clock).
	r.tEnd = time.Now().Add(-3 * time.Hour).Truncate(time.Second)
	tStart := r.tEnd.Add(-o.span)
	w := newProducer(r.conn, r.input, &kafka.Hash{})
	defer w.Close()
	var all bytes.Buffer
	byFmt := map[string]int{}
	bytesFmt := map[string]int64{}
	batch := make([]kafka.Message, 0, 10000)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := w.WriteMessages(ctx, batch...)
		batch = batch[:0]
		return err
	}
	t0 := time.Now()
	for i := 0; i < o.records; i++ {
		t := tStart.Add(time.Duration(float64(o.span) * float64(i) / float64(o.records)))
		t = t.Add(time.Duration(g.rng.IntN(40_000)-20_000) * time.Millisecond) // ±20 s of disorder
		f := g.format()
		rec, host, isMatch := g.nextFormat(t, f)
		byFmt[formatNames[f]]++
		bytesFmt[formatNames[f]] += int64(len(rec))
		if isMatch {
			r.res.Matches++
		} else if len(r.pool) < 100_000 {
			r.pool = append(r.pool, rec)
		}
		all.Write(rec)
		all.WriteByte('\n')
		r.res.Bytes += int64(len(rec))
		batch = append(batch, kafka.Message{Key: []byte(host), Value: rec, Time: t})
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	// One closing record per input partition (see closingRecord).
	parts := make([]int, o.partitions)
	for i := range parts {
		parts[i] = i
	}
	have := map[int]bool{}
	for i := 0; len(have) < o.partitions; i++ {
		key := fmt.Sprintf("closing-%d", i)
		p := (&kafka.Hash{}).Balance(kafka.Message{Key: []byte(key)}, parts...)
		if have[p] {
			continue
		}
		have[p] = true
		batch = append(batch, kafka.Message{Key: []byte(key), Value: closingRecord(r.tEnd.Add(2*time.Hour), key), Time: r.tEnd})
	}
	if err := flush(); err != nil {
		return err
	}
	r.res.FormatMix = byFmt
	r.res.AvgBytes = map[string]float64{}
	for k, n := range byFmt {
		r.res.AvgBytes[k] = math.Round(float64(bytesFmt[k]) / float64(n))
	}
	r.expectF = all.Bytes() // replaced by the expected output in expected()
	if r.end, err = endOffsets(ctx, r.conn, r.input); err != nil {
		return err
	}
	r.total = sumOffsets(r.end)
	r.logf("generated %d records (%d MB, %d matches) in %.1fs; topic holds %d", o.records, r.res.Bytes>>20, r.res.Matches, time.Since(t0).Seconds(), r.total)
	return nil
}

// expected runs msixguard's offline engine (pipeline.Check, the same code
// as `msixguard check`) over the generated records: the final messages a
// Splunk search over the same events gives.
func (r *runner) expected() error {
	t0 := time.Now()
	set, err := pipeline.LoadRules(nil, false)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	bad := 0
	err = pipeline.Check([]pipeline.Input{{Name: "generated", R: bytes.NewReader(r.expectF)}}, &out, pipeline.CheckOptions{
		Format: consumer.Format("auto"), Rules: set, Emitter: &producer.Emitter{Loc: time.UTC, Kinds: map[aggregate.Kind]bool{aggregate.KindFinal: true}, Now: time.Now},
		MaxBytes: 1 << 20, Metrics: metrics.NewUnregistered(), BadRecord: func(string, int, error) { bad++ },
	})
	if err != nil {
		return err
	}
	if bad > 0 {
		return fmt.Errorf("%d generated records are bad", bad)
	}
	r.expectF = out.Bytes()
	r.res.Finals = bytes.Count(r.expectF, []byte{'\n'})
	os.WriteFile(filepath.Join(r.dir, "expected.ndjson"), r.expectF, 0o644)
	runtime.GC()
	debug.FreeOSMemory()
	r.logf("expected %d final messages (pipeline.Check, %.1fs)", r.res.Finals, time.Since(t0).Seconds())
	return nil
}

// ------------------------------------------------------------- phases --

func isReadyLine(line string) bool { return strings.HasPrefix(line, "READY ") }

func (r *runner) self() string { exe, _ := os.Executable(); return exe }

// measure runs a process to its ready line, waits for done, and fills a
// throughput row.
func (r *runner) measure(name, logName string, ready func(string) bool, done func(p *proc) (time.Time, error), argv ...string) (throughput, error) {
	tp := throughput{Name: name, Records: r.total, Load: loadavg()}
	r.logf("%s: start (load %s)", name, tp.Load)
	p, err := startProc(name, filepath.Join(r.dir, logName+".log"), ready, argv...)
	if err != nil {
		return tp, err
	}
	readyAt, err := p.waitReady(3 * time.Minute)
	if err != nil {
		p.stop(10 * time.Second)
		return tp, err
	}
	cpu0 := p.cpu()
	doneAt, err := done(p)
	cpu1 := p.cpu()
	exitedEarly := false
	select {
	case <-p.exited:
		exitedEarly = true
	default:
	}
	tp.TotalCPU, tp.PeakRSS = p.stop(30 * time.Second)
	if err != nil {
		return tp, err
	}
	if exitedEarly {
		cpu1 = tp.TotalCPU
	}
	if !doneAt.After(readyAt) {
		return tp, errors.New("no output after the group joined")
	}
	tp.Startup = readyAt.Sub(p.start).Seconds()
	tp.Seconds = doneAt.Sub(readyAt).Seconds()
	tp.RecPerSec = float64(tp.Records) / tp.Seconds
	tp.CPU = cpu1 - cpu0
	tp.CPUPerM = tp.CPU / (float64(tp.Records) / 1e6)
	r.logf("%s: %.0f records/s, %.1f CPU s per million, peak RSS %d MiB", name, tp.RecPerSec, tp.CPUPerM, tp.PeakRSS>>20)
	return tp, nil
}

func (r *runner) ceilingN(ctx context.Context) error {
	r.ceilings++
	return r.ceiling(ctx, fmt.Sprintf("kafka-go group loop (ceiling #%d)", r.ceilings), fmt.Sprintf("ceiling%d", r.ceilings))
}

// fetcherLoop is the ceiling of msixguard's own read path: the same group
// loop reading with consumer.PartitionFetcher (what both stages use)
// instead of kafka-go's Reader, counting records. It is not one of the
// neighbouring ceilings: those stay the bare Reader loop that issue 5
// names.
func (r *runner) fetcherLoop(ctx context.Context) error {
	return r.ceiling(ctx, "msixguard fetcher loop (counting only)", "fetcher", "-fetcher")
}

func (r *runner) ceiling(ctx context.Context, name, tag string, extra ...string) error {
	tp, err := r.measure(name, tag, isReadyLine, func(p *proc) (time.Time, error) {
		if err := p.waitExit(5 * time.Minute); err != nil {
			return time.Time{}, err
		}
		l, ok := p.line("DONE ")
		if !ok {
			return time.Time{}, errors.New("ceiling loop ended without counting every record")
		}
		ms, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
		return time.UnixMilli(ms), nil
	}, append([]string{r.self(), "child", "ceiling", "-brokers", r.o.brokers, "-topic", r.input, "-group", r.prefix + "-" + tag, "-expect", strconv.FormatInt(r.total, 10)}, extra...)...)
	r.res.Throughput = append(r.res.Throughput, tp)
	return err
}

// perf runs Kafka's own consumer benchmark with the same fetch settings
// (16 MiB per partition, min 1 byte, max wait 200 ms). Its fetch.nMsg.sec
// excludes the group join, as the other rows do.
func (r *runner) perf(ctx context.Context) error {
	cfg := filepath.Join(r.dir, "perf-consumer.properties")
	os.WriteFile(cfg, []byte("fetch.min.bytes=1\nfetch.max.wait.ms=200\nmax.partition.fetch.bytes=16777216\n"), 0o644)
	tp := throughput{Name: "Kafka ConsumerPerformance (ceiling)", Records: r.total, Load: loadavg()}
	r.logf("%s: start (load %s)", tp.Name, tp.Load)
	p, err := startProc(tp.Name, filepath.Join(r.dir, "perf.log"), func(string) bool { return false },
		filepath.Join(r.o.repoRoot, "scripts/kafka"), "tool", "org.apache.kafka.tools.ConsumerPerformance",
		"--bootstrap-server", r.o.brokers, "--topic", r.input, "--messages", strconv.FormatInt(r.total, 10),
		"--group", r.prefix+"-perf", "--consumer.config", cfg, "--fetch-size", "16777216", "--timeout", "60000")
	if err != nil {
		return err
	}
	if err := p.waitExit(5 * time.Minute); err != nil {
		p.stop(5 * time.Second)
		return err
	}
	tp.TotalCPU, tp.PeakRSS = p.stop(time.Second)
	// start.time, end.time, MB, MB.sec, nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
	b, _ := os.ReadFile(filepath.Join(r.dir, "perf.log"))
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(l, ", ")
		if len(f) != 10 || strings.HasPrefix(l, "start.time") {
			continue
		}
		n, _ := strconv.ParseFloat(f[4], 64)
		fetchMs, _ := strconv.ParseFloat(f[7], 64)
		tp.Records = int64(n)
		tp.Seconds = fetchMs / 1000
		tp.RecPerSec = n / tp.Seconds
	}
	if tp.Seconds == 0 {
		r.res.Throughput = append(r.res.Throughput, tp)
		return errors.New("no result line from ConsumerPerformance (see perf.log)")
	}
	tp.CPU = tp.TotalCPU
	tp.CPUPerM = tp.TotalCPU / (float64(tp.Records) / 1e6)
	tp.Note = "CPU and RSS of the whole JVM life (start, join and fetch)"
	r.logf("%s: %.0f records/s", tp.Name, tp.RecPerSec)
	r.res.Throughput = append(r.res.Throughput, tp)
	return nil
}

func (r *runner) stage1(ctx context.Context) error {
	group := r.prefix + "-s1only"
	argv := []string{r.self(), "child", "stage1", "-brokers", r.o.brokers, "-topic", r.input, "-group", group,
		"-repartition", r.prefix + "-s1only-repartition", "-dlq", r.prefix + "-s1only-dlq"}
	if r.o.profile {
		argv = append(argv, "-cpuprofile", filepath.Join(r.dir, "stage1.pprof"))
	}
	tp, err := r.measure("msixguard stage 1 alone", "stage1", isReadyLine, func(p *proc) (time.Time, error) {
		return waitUntil(ctx, 5*time.Minute, func() (bool, error) { return committedAll(ctx, r.conn, group, r.input, r.end) })
	}, argv...)
	tp.Note = "until every input offset is committed (matches written and acknowledged first)"
	r.res.Throughput = append(r.res.Throughput, tp)
	return err
}

func (r *runner) guardArgs(group, topic, emit string) []string {
	return []string{r.o.msixguard, "run", "--brokers", r.o.brokers, "--input-topic", topic, "--group", group,
		"--repartition-topic", group + "-repartition", "--risk-topic", group + "-risk", "--dlq-topic", group + "-dlq",
		"--create-topics", "--metrics-addr", "", "--emit", emit}
}

func (r *runner) pipeline(ctx context.Context) error {
	group := r.prefix + "-guard"
	var col *collector
	var s1done time.Time
	tp, err := r.measure("msixguard whole pipeline", "pipeline", func(l string) bool { return isGuardReady(l) },
		func(p *proc) (time.Time, error) {
			col = collect(ctx, r.conn, group+"-risk", 3, nil)
			var mu sync.Mutex
			go func() {
				t, err := waitUntil(ctx, 5*time.Minute, func() (bool, error) { return committedAll(ctx, r.conn, group+"-stage1", r.input, r.end) })
				if err == nil {
					mu.Lock()
					s1done = t
					mu.Unlock()
				}
			}()
			_, err := waitUntil(ctx, 5*time.Minute, func() (bool, error) {
				n, _ := col.finals(func(string) bool { return true })
				return n >= r.res.Finals, nil
			})
			_, last := col.finals(func(string) bool { return true })
			mu.Lock()
			defer mu.Unlock()
			if !s1done.IsZero() {
				r.res.Stage1InPipeline = s1done.Sub(p.ready).Seconds()
			}
			return last, err
		}, r.guardArgs(group, r.input, "final,late")...)
	tp.Note = "until every expected final risk message arrived"
	if col != nil {
		r.guardOut = ndjson(col.stop(), func(a arrival) bool { return a.msg.Kind == "final" })
		os.WriteFile(filepath.Join(r.dir, "msixguard.ndjson"), r.guardOut, 0o644)
	}
	r.res.Throughput = append(r.res.Throughput, tp)
	return err
}

func ndjson(as []arrival, keep func(arrival) bool) []byte {
	var b bytes.Buffer
	for _, a := range as {
		if keep(a) {
			b.Write(a.value)
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

const tickPrefix = "BENCH-TICK-"

// kstreams runs the peer. Its windows close on stream time, which only the
// matches that reach the windowed task move; once the peer has re-keyed
// every match (its repartition topic holds them all), the harness appends
// one tick per key (a match far after the data) so every task's stream time
// passes the last window. A live stream would do that on its own.
func (r *runner) kstreams(ctx context.Context) error {
	app := r.prefix + "-ks"
	outTopic := app + "-out"
	if err := createTopic(ctx, r.conn, outTopic, 3); err != nil {
		return err
	}
	state := filepath.Join(r.dir, "ks-state")
	cp := filepath.Join(r.o.peerDir, "target/classes") + ":" + filepath.Join(r.o.peerDir, "target/lib/*")
	var col *collector
	incomplete := ""
	notTick := func(d string) bool { return !strings.HasPrefix(d, tickPrefix) }
	tp, err := r.measure("Kafka Streams peer", "kstreams", isReadyLine, func(p *proc) (time.Time, error) {
		col = collect(ctx, r.conn, outTopic, 3, nil)
		repart := app + "-matches-repartition"
		if _, err := waitUntil(ctx, 5*time.Minute, func() (bool, error) {
			end, err := endOffsets(ctx, r.conn, repart)
			return err == nil && sumOffsets(end) >= int64(r.res.Matches), err
		}); err != nil {
			return time.Time{}, fmt.Errorf("peer did not re-key every match: %w", err)
		}
		w := newProducer(r.conn, r.input, &kafka.Hash{})
		var ticks []kafka.Message
		for i := 0; i < 64; i++ {
			host := fmt.Sprintf("%s%02d", tickPrefix, i)
			ticks = append(ticks, kafka.Message{Key: []byte(host), Value: matchRecord(r.tEnd.Add(2*time.Hour), host, "S-1-5-18", "Bench.Tick_1.0.0.0_x64__benchtick0000")})
		}
		err := w.WriteMessages(ctx, ticks...)
		w.Close()
		if err != nil {
			return time.Time{}, err
		}
		// Done when every expected window came out, or when the output has
		// been quiet for 20 s after the ticks: records the peer dropped as
		// late never come (the comparison below counts them).
		ticked := time.Now()
		_, err = waitUntil(ctx, 5*time.Minute, func() (bool, error) {
			n, last := col.finals(notTick)
			quiet := time.Since(ticked) > 20*time.Second && (last.IsZero() || time.Since(last) > 20*time.Second)
			return n >= r.res.Finals || quiet, nil
		})
		n, last := col.finals(notTick)
		if n < r.res.Finals {
			incomplete = fmt.Sprintf("INCOMPLETE: %d of %d expected final messages; ", n, r.res.Finals)
		}
		return last, err
	}, "java", "-Xmx1g", "-cp", cp, "bench.kstreams.Peer", r.o.brokers, r.input, outTopic, app, state, strconv.Itoa(r.o.ksThreads))
	tp.Note = fmt.Sprintf("%suntil every expected final message arrived; %d stream thread(s), RocksDB store, -Xmx1g", incomplete, r.o.ksThreads)
	if col != nil {
		r.ksOut = ndjson(col.stop(), func(a arrival) bool { return notTick(a.msg.Dest) })
		os.WriteFile(filepath.Join(r.dir, "kstreams.ndjson"), r.ksOut, 0o644)
	}
	if b, err := os.ReadFile(filepath.Join(r.dir, "kstreams.log")); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "STATS ") {
				r.res.KStreams = strings.TrimPrefix(l, "STATS ")
			}
		}
	}
	os.RemoveAll(state)
	r.res.Throughput = append(r.res.Throughput, tp)
	return err
}

// compare checks both outputs against pipeline.Check's and each other.
func (r *runner) compare() {
	cmp := func(name string, want, got []byte) {
		c := comparison{Name: name, Want: bytes.Count(want, []byte{'\n'}), Got: bytes.Count(got, []byte{'\n'})}
		missing, extra, err := pipeline.DiffMessages(want, got)
		if err != nil {
			c.Example = []string{err.Error()}
		}
		c.Missing, c.Extra = len(missing), len(extra)
		for _, s := range append(missing, extra...) {
			if len(c.Example) < 2 {
				c.Example = append(c.Example, s)
			}
		}
		r.res.Compare = append(r.res.Compare, c)
		r.logf("compare %s: want %d got %d, missing %d, extra %d", name, c.Want, c.Got, c.Missing, c.Extra)
	}
	if r.guardOut != nil {
		cmp("msixguard vs expected (pipeline.Check)", r.expectF, r.guardOut)
	}
	if r.ksOut != nil {
		cmp("Kafka Streams vs expected (pipeline.Check)", r.expectF, r.ksOut)
	}
	if r.guardOut != nil && r.ksOut != nil {
		cmp("Kafka Streams vs msixguard", r.guardOut, r.ksOut)
	}
}

// latencyPhase runs msixguard with --emit early on a fresh topic and
// produces at a steady rate (half the measured pipeline throughput by
// default): 1 % of the records are matches of a new group each, so each
// must yield one early message; latency = arrival of that message at the
// harness's reader − the moment the record was handed to the producer.
func (r *runner) latencyPhase(ctx context.Context) error {
	max := float64(r.o.latRate)
	if max == 0 {
		for _, t := range r.res.Throughput {
			if t.Name == "msixguard whole pipeline" && t.RecPerSec > 0 {
				max = t.RecPerSec
			}
		}
	}
	if max == 0 {
		max = 40000
	}
	for i, f := range strings.Split(r.o.latFractions, ",") {
		frac, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return fmt.Errorf("-latency-fractions: %w", err)
		}
		if err := r.latencyAt(ctx, i, frac, int(frac*max)); err != nil {
			return err
		}
	}
	return nil
}

func (r *runner) latencyAt(ctx context.Context, run int, frac float64, rate int) error {
	topic := fmt.Sprintf("%s-lat%d", r.prefix, run)
	if err := createTopic(ctx, r.conn, topic, r.o.partitions); err != nil {
		return err
	}
	group := topic
	r.logf("latency: %d records/s for %s (load %s)", rate, r.o.latency, loadavg())
	p, err := startProc("msixguard (latency)", filepath.Join(r.dir, fmt.Sprintf("latency%d.log", run)), func(l string) bool { return isGuardReady(l) },
		r.guardArgs(group, topic, "early,final")...)
	if err != nil {
		return err
	}
	defer p.stop(30 * time.Second)
	if _, err := p.waitReady(3 * time.Minute); err != nil {
		return err
	}
	var (
		mu   sync.Mutex
		sent = map[string]time.Time{}
		lat  = map[string]float64{}
		t0   = time.Now()
		ser  [][2]float64
		// produce→built and built→reader per match, with its send second
		split [][3]float64
	)
	col := collect(ctx, r.conn, group+"-risk", 3, func(a arrival) {
		if a.msg.Kind != "early" {
			return
		}
		mu.Lock()
		if s, ok := sent[a.msg.Dest]; ok {
			if _, dup := lat[a.msg.Dest]; !dup {
				ms := float64(a.at.Sub(s).Microseconds()) / 1000
				lat[a.msg.Dest] = ms
				ser = append(ser, [2]float64{s.Sub(t0).Seconds(), ms})
				if !a.msg.DetectedAt.IsZero() {
					split = append(split, [3]float64{s.Sub(t0).Seconds(),
						float64(a.msg.DetectedAt.Sub(s).Microseconds()) / 1000, float64(a.at.Sub(a.msg.DetectedAt).Microseconds()) / 1000})
				}
			}
		}
		mu.Unlock()
	})
	w := &kafka.Writer{Addr: kafka.TCP(r.conn.Brokers...), Topic: topic, Transport: r.conn.Transport(), Balancer: &kafka.Hash{},
		RequiredAcks: kafka.RequireOne, Async: true, BatchSize: 1000, BatchBytes: 900 << 10, BatchTimeout: 2 * time.Millisecond}
	// Warm up: every stage-2 partition must be reading before the clock
	// starts (joining is not reading: each partition first fetches its
	// commit point). Probes are matches of 32 groups; their early messages
	// must all come back.
	var probes []kafka.Message
	for i := 0; i < 32; i++ {
		host := fmt.Sprintf("PROBE-%02d", i)
		probes = append(probes, kafka.Message{Key: []byte(host), Value: matchRecord(time.Now(), host, "S-1-5-18", "Bench.Probe_1.0.0.0_x64__benchprobe000")})
	}
	pw := newProducer(r.conn, topic, &kafka.Hash{})
	err = pw.WriteMessages(ctx, probes...)
	pw.Close()
	if err != nil {
		return err
	}
	if _, err := waitUntil(ctx, 2*time.Minute, func() (bool, error) {
		n := 0
		for _, a := range col.snapshot() {
			if strings.HasPrefix(a.msg.Dest, "PROBE-") && a.msg.Kind == "early" {
				n++
			}
		}
		return n >= len(probes), nil
	}); err != nil {
		return fmt.Errorf("warm-up probes did not come back: %w", err)
	}
	time.Sleep(2 * time.Second)
	const tick = 10 * time.Millisecond
	n, seq := 0, 0
	tk := time.NewTicker(tick)
	start := time.Now()
	t0 = start
	for time.Since(start) < r.o.latency {
		<-tk.C
		// Owed records follow the clock, not the ticks: a starved loop
		// (the ticker drops ticks) catches up instead of sending less.
		now := time.Now()
		k := int(float64(rate)*now.Sub(start).Seconds()) - n
		msgs := make([]kafka.Message, 0, k)
		for i := 0; i < k; i++ {
			n++
			if n%int(math.Round(1/r.o.match)) == 0 {
				seq++
				host := fmt.Sprintf("LAT-%07d", seq)
				mu.Lock()
				sent[host] = now
				mu.Unlock()
				msgs = append(msgs, kafka.Message{Key: []byte(host), Value: matchRecord(now, host, "S-1-5-21-2568234075-4274264167-1034506908-1104", "ContosoCorp.LineOfBusiness_1.0.12.0_x64__z0p5db6dqbn1q"), Time: now})
				continue
			}
			v := r.pool[n%len(r.pool)]
			msgs = append(msgs, kafka.Message{Key: []byte(strconv.Itoa(n)), Value: v, Time: now})
		}
		w.WriteMessages(ctx, msgs...)
	}
	tk.Stop()
	elapsed := time.Since(start)
	w.Close()
	waitUntil(ctx, 15*time.Second, func() (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		return len(lat) >= len(sent), nil
	})
	col.stop()
	mu.Lock()
	defer mu.Unlock()
	var all []float64
	for _, v := range lat {
		all = append(all, v)
	}
	slices.Sort(all)
	lr := &latencyResult{Fraction: frac, TargetRate: rate, AchievedRate: float64(n) / elapsed.Seconds(), Sent: len(sent), Received: len(all), Series: ser}
	if len(all) > 0 {
		q := func(p float64) float64 {
			return all[int(math.Min(float64(len(all)-1), math.Ceil(p*float64(len(all)))-1))]
		}
		lr.P50, lr.P90, lr.P99, lr.Max = q(0.50), q(0.90), q(0.99), all[len(all)-1]
		lr.Percentiles = map[string]float64{"p50": lr.P50, "p90": lr.P90, "p99": lr.P99, "max": lr.Max}
	}
	slices.SortFunc(lr.Series, func(a, b [2]float64) int { return int(math.Copysign(1, a[0]-b[0])) })
	var steady []float64
	for _, s := range lr.Series {
		if s[0] >= latencyWarmup.Seconds() {
			steady = append(steady, s[1])
		}
	}
	if len(steady) > 0 {
		slices.Sort(steady)
		lr.WarmupS = latencyWarmup.Seconds()
		lr.P99Steady = steady[int(math.Min(float64(len(steady)-1), math.Ceil(0.99*float64(len(steady)))-1))]
	}
	if len(split) > 0 {
		var built, deliv []float64
		for _, x := range split {
			if x[0] < 0 {
				continue // a probe of the warm-up
			}
			built, deliv = append(built, x[1]), append(deliv, x[2])
			sec := int(x[0])
			for len(lr.MaxBuiltPerS) <= sec {
				lr.MaxBuiltPerS, lr.MaxDelivPerS = append(lr.MaxBuiltPerS, 0), append(lr.MaxDelivPerS, 0)
			}
			lr.MaxBuiltPerS[sec] = math.Max(lr.MaxBuiltPerS[sec], math.Round(x[1]))
			lr.MaxDelivPerS[sec] = math.Max(lr.MaxDelivPerS[sec], math.Round(x[2]))
		}
		p99 := func(v []float64) float64 {
			if len(v) == 0 {
				return 0
			}
			slices.Sort(v)
			return v[int(math.Min(float64(len(v)-1), math.Ceil(0.99*float64(len(v)))-1))]
		}
		lr.P99Built, lr.P99Delivered = p99(built), p99(deliv)
	}
	lr.Series = thin(lr.Series, 2000) // percentiles above used every sample
	r.res.Latency = append(r.res.Latency, lr)
	r.logf("latency: %d/%d early messages, p50 %.0f ms, p99 %.0f ms (after the first %.0f s: %.0f ms), max %.0f ms at %.0f records/s", lr.Received, lr.Sent, lr.P50, lr.P99, lr.WarmupS, lr.P99Steady, lr.Max, lr.AchievedRate)
	r.logf("latency split at detected_at: p99 produce→built %.0f ms, built→reader %.0f ms; slowest per second: produce→built %v, built→reader %v", lr.P99Built, lr.P99Delivered, lr.MaxBuiltPerS, lr.MaxDelivPerS)
	return nil
}

func (r *runner) memory(ctx context.Context) error {
	for _, s := range strings.Split(r.o.memGroups, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return err
		}
		out, err := exec.Command(r.self(), "child", "mem", "-groups", strconv.Itoa(n)).Output()
		if err != nil {
			return fmt.Errorf("mem %d: %w", n, err)
		}
		for _, l := range strings.Split(string(out), "\n") {
			if rest, ok := strings.CutPrefix(l, "RESULT "); ok {
				var m memResult
				if err := json.Unmarshal([]byte(rest), &m); err != nil {
					return err
				}
				r.res.Memory = append(r.res.Memory, m)
				r.logf("memory: %d open groups: %.0f bytes/group, RSS %d MiB", m.Groups, m.BytesPerGroup, m.RSS>>20)
			}
		}
	}
	return nil
}

// isGuardReady spots msixguard's "ready: …" log line (both stages joined).
func isGuardReady(l string) bool { return strings.Contains(l, `"message":"ready:`) }

// thin keeps at most n evenly spaced points, always the slowest ones too
// (the plot must show the outliers).
func thin(s [][2]float64, n int) [][2]float64 {
	if len(s) <= n {
		return s
	}
	worst := append([][2]float64(nil), s...)
	slices.SortFunc(worst, func(a, b [2]float64) int { return int(math.Copysign(1, b[1]-a[1])) })
	keep := map[[2]float64]bool{}
	for _, w := range worst[:n/20] {
		keep[w] = true
	}
	step := float64(len(s)) / float64(n-n/20)
	for i := 0.0; int(i) < len(s); i += step {
		keep[s[int(i)]] = true
	}
	out := make([][2]float64, 0, len(keep))
	for _, p := range s {
		if keep[p] {
			out = append(out, p)
			delete(keep, p)
		}
	}
	return out
}
