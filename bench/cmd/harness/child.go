package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/msixguard/msixguard/aggregate"
	"github.com/msixguard/msixguard/cluster"
	"github.com/msixguard/msixguard/consumer"
	"github.com/msixguard/msixguard/event"
	"github.com/msixguard/msixguard/metrics"
	"github.com/msixguard/msixguard/pipeline"
	"github.com/msixguard/msixguard/producer"
	"github.com/msixguard/msixguard/rules"
)

// child runs one measured role in its own process, so its CPU time and
// peak RSS are its own: `harness child ceiling|stage1|mem ...`.
func child(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: harness child ceiling|stage1|mem FLAGS")
		return 2
	}
	fs := flag.NewFlagSet(args[0], flag.ExitOnError)
	brokers := fs.String("brokers", "127.0.0.1:39092", "")
	topic := fs.String("topic", "", "input topic")
	group := fs.String("group", "", "consumer group")
	expect := fs.Int64("expect", 0, "ceiling: records to count before exiting")
	fetcher := fs.Bool("fetcher", false, "ceiling: read with msixguard's consumer.PartitionFetcher instead of kafka-go's Reader")
	repart := fs.String("repartition", "", "stage1: repartition topic")
	dlq := fs.String("dlq", "", "stage1: DLQ topic")
	groups := fs.Int("groups", 0, "mem: open groups")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the child's life to this file")
	fs.Parse(args[1:])
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			return 1
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "ceiling":
		err = childCeiling(ctx, *brokers, *topic, *group, *expect, *fetcher)
	case "stage1":
		err = childStage1(ctx, *brokers, *topic, *group, *repart, *dlq)
	case "mem":
		err = childMem(*groups)
	default:
		err = fmt.Errorf("unknown child %q", args[0])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	return 0
}

// childCeiling is the bare kafka-go loop: the same ConsumerGroup settings
// as msixguard's consumer.runGroup and the same per-partition Reader as
// consumer.newPartitionReader (copied: it is unexported), and nothing but a
// counter per record.
func childCeiling(ctx context.Context, brokers, topic, group string, expect int64, fetcher bool) error {
	c, err := cluster.New([]string{brokers}, nil, nil, "bench-ceiling")
	if err != nil {
		return err
	}
	gs := consumer.DefaultGroupSettings
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID: group, Brokers: c.Brokers, Dialer: c.Dialer(), Topics: []string{topic},
		StartOffset: kafka.FirstOffset, WatchPartitionChanges: true, PartitionWatchInterval: 10 * time.Second,
		SessionTimeout: gs.SessionTimeout, HeartbeatInterval: gs.HeartbeatInterval,
		RebalanceTimeout: gs.RebalanceTimeout, JoinGroupBackoff: gs.JoinBackoff, Timeout: c.Timeout,
	})
	if err != nil {
		return err
	}
	defer cg.Close()
	var n atomic.Int64
	var once sync.Once
	done := make(chan struct{})
	// A fresh broker answers "coordinator not available" until its offsets
	// topic exists; msixguard's runGroup retries the same way.
	var gen *kafka.Generation
	for {
		if gen, err = cg.Next(ctx); err == nil {
			break
		}
		if ctx.Err() != nil {
			return err
		}
		time.Sleep(gs.JoinBackoff)
	}
	fmt.Printf("READY %d\n", time.Now().UnixMilli())
	for _, pa := range gen.Assignments[topic] {
		gen.Start(func(ctx context.Context) {
			if fetcher {
				// msixguard's own read path (consumer.PartitionFetcher,
				// as stage 1 configures it), counting records.
				f := consumer.NewPartitionFetcher(consumer.FetchConfig{Conn: c, Topic: topic, Partition: pa.ID, Offset: -1,
					MaxBytes: consumer.DefaultFetchBytes, Log: zerolog.Nop()})
				defer f.Close()
				for {
					if _, _, err := f.Fetch(ctx); err != nil {
						return
					}
					if n.Add(1) == expect {
						once.Do(func() { close(done) })
					}
				}
			}
			r := kafka.NewReader(kafka.ReaderConfig{
				Brokers: c.Brokers, Dialer: c.Dialer(), Topic: topic, Partition: pa.ID,
				MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 200 * time.Millisecond, ReadBackoffMin: 50 * time.Millisecond,
				ReadBackoffMax: time.Second, QueueCapacity: 1000,
			})
			defer r.Close()
			r.SetOffset(kafka.FirstOffset)
			for {
				if _, err := r.FetchMessage(ctx); err != nil {
					return
				}
				if n.Add(1) == expect {
					once.Do(func() { close(done) })
				}
			}
		})
	}
	select {
	case <-done:
		fmt.Printf("DONE %d %d\n", time.Now().UnixMilli(), n.Load())
	case <-ctx.Done():
		fmt.Printf("STOPPED %d %d\n", time.Now().UnixMilli(), n.Load())
	}
	return nil
}

// childStage1 runs msixguard's stage 1 alone, configured as `msixguard
// run` configures it (pipeline/job.go, cmd/msixguard/run.go defaults).
func childStage1(ctx context.Context, brokers, topic, group, repartTopic, dlqTopic string) error {
	conn, err := cluster.New([]string{brokers}, nil, nil, "bench-stage1")
	if err != nil {
		return err
	}
	set, err := pipeline.LoadRules(nil, false)
	if err != nil {
		return err
	}
	parts, err := conn.EnsureTopics(ctx, []cluster.TopicSpec{
		{Name: topic, MustExist: true},
		{Name: repartTopic, Partitions: 6, Retention: 24 * time.Hour},
		{Name: dlqTopic, Partitions: 3},
	}, true)
	if err != nil {
		return err
	}
	repart := producer.NewWriter(conn, repartTopic, producer.RouteBalancer{})
	dlq := producer.NewWriter(conn, dlqTopic, nil)
	defer repart.Close()
	defer dlq.Close()
	var once sync.Once
	log := zerolog.New(os.Stderr).Level(zerolog.InfoLevel).With().Timestamp().Logger()
	return consumer.RunStage1(ctx, consumer.Stage1Config{
		Conn: conn, Group: group, Topics: []string{topic}, InputPartitions: parts[topic],
		Format: consumer.Format("auto"), Decoder: consumer.DecoderOptions{Fields: set.Fields()}, Rules: set,
		Repartition: repart, RepartitionPartitions: parts[repartTopic], DLQ: dlq,
		IdleTimeout: 30 * time.Second, MarkerInterval: time.Second, FlushInterval: 200 * time.Millisecond,
		FlushRecords: 5000, MaxRecordBytes: 1 << 20, MaxFutureSkew: time.Hour,
		FetchMaxBytes: consumer.DefaultFetchBytes, Settings: consumer.DefaultGroupSettings, Now: time.Now, Log: log,
		Metrics: metrics.NewUnregistered(),
		OnAssigned: func(map[string][]int) {
			once.Do(func() { fmt.Printf("READY %d\n", time.Now().UnixMilli()) })
		},
	})
}

// memResult is what `child mem` prints.
type memResult struct {
	Groups        int     `json:"groups"`
	HeapBytes     int64   `json:"heap_bytes"`      // live heap held by the engine
	BytesPerGroup float64 `json:"bytes_per_group"` // HeapBytes / Groups
	RSS           int64   `json:"rss_bytes"`       // process RSS with the groups open
	Seconds       float64 `json:"seconds"`         // time to add them
}

// childMem opens n groups in one aggregate.Engine, the way stage 2 does:
// each match is decoded from its repartition JSON (so the group owns fresh
// strings, as in production), then added.
func childMem(n int) error {
	set, err := pipeline.LoadRules(nil, false)
	if err != nil {
		return err
	}
	r := set.Rules[0]
	g := newGenerator(7, 1, 1, 0, [3]float64{1, 0, 0})
	eng := aggregate.New(set.Rules, aggregate.Options{MaxGroups: n + 1})
	heap := func() int64 {
		runtime.GC()
		debug.FreeOSMemory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc)
	}
	base := heap()
	t0 := time.Now()
	start := time.Date(2026, 5, 1, 10, 50, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		// Realistic values: a host name, a domain SID, one package.
		host := "WS-" + strconv.Itoa(100000+i)
		user := "S-1-5-21-2568234075-4274264167-1034506908-" + strconv.Itoa(1100+i%5000)
		pkg := g.devPkgs[i%len(g.devPkgs)]
		m := rules.Match{Rule: r.ID, Time: start.Add(time.Duration(i%3600) * time.Second).UnixNano(),
			By: []string{host, "855", user}, Values: [][]string{{" addPackageList: " + pkg}}}
		m.Packages = event.ParsePackages(m.Values[0][0])
		b, _ := json.Marshal(m)
		var dm rules.Match
		if err := json.Unmarshal(b, &dm); err != nil {
			return err
		}
		if _, drop := eng.Add(dm); drop != "" {
			return fmt.Errorf("dropped: %s", drop)
		}
	}
	secs := time.Since(t0).Seconds()
	held := heap() - base
	res := memResult{Groups: eng.OpenGroups(), HeapBytes: held, BytesPerGroup: float64(held) / float64(n), Seconds: secs}
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "VmRSS:") {
				kb, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
				res.RSS = kb << 10
			}
		}
	}
	out, _ := json.Marshal(res)
	fmt.Printf("RESULT %s\n", out)
	runtime.KeepAlive(eng)
	return nil
}
