package consumer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/msixguard/msixguard/cluster"
	"github.com/msixguard/msixguard/internal/kafkatest"
	"github.com/msixguard/msixguard/metrics"
)

// fetchEnv is a topic of one partition on the test's Kafka, a franz-go
// client to write it exactly (null and empty values, headers), and a conn
// for the fetcher.
func fetchEnv(t *testing.T, brokers string, opts ...kgo.Opt) (*cluster.Conn, *kgo.Client, string) {
	t.Helper()
	conn, err := cluster.New([]string{brokers}, nil, nil, "msixguard-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	topic := fmt.Sprintf("fetch-%d", time.Now().UnixNano())
	if _, err := conn.EnsureTopics(context.Background(), []cluster.TopicSpec{{Name: topic, Partitions: 1}}, true); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return conn, cl, topic
}

// produceNumbered writes records from..to-1, each its number as the value,
// one produce request each (so one record batch each).
func produceNumbered(t *testing.T, cl *kgo.Client, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Value: fmt.Appendf(nil, "%d", i)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// fetchAll reads n records from f, each within a few seconds.
func fetchAll(t *testing.T, f *PartitionFetcher, n int, each func(i int, msg []byte, key []byte, offset int64, control bool, hdrs int)) {
	t.Helper()
	for i := 0; i < n; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		msg, control, err := f.Fetch(ctx)
		cancel()
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		each(i, msg.Value, msg.Key, msg.Offset, control, len(msg.Headers))
	}
}

// TestFetcherReadsExactly: records come back in offset order with their
// keys, values and headers; null and empty stay apart; small fetches
// (many responses, records split across them) lose nothing; a start offset
// is honoured; at the end, Position is the end and a read times out.
func TestFetcherReadsExactly(t *testing.T) {
	conn, cl, topic := fetchEnv(t, kafkatest.Brokers(t))
	const n = 3000
	value := func(i int) []byte {
		switch i % 10 {
		case 3:
			return nil
		case 4:
			return []byte{}
		}
		return fmt.Appendf(nil, "record %d %s", i, strings.Repeat("x", i%700))
	}
	ctx := context.Background()
	var recs []*kgo.Record
	for i := 0; i < n; i++ {
		r := &kgo.Record{Key: fmt.Appendf(nil, "k%d", i), Value: value(i)}
		if i%7 == 0 {
			r.Headers = []kgo.RecordHeader{{Key: "h", Value: []byte("v")}}
		}
		recs = append(recs, r)
		if len(recs) == 100 || i == n-1 {
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				t.Fatal(err)
			}
			recs = nil
		}
	}
	for _, start := range []int64{-1, 0, 1234} {
		t.Run(fmt.Sprint("from ", start), func(t *testing.T) {
			f := NewPartitionFetcher(FetchConfig{Conn: conn, Topic: topic, Offset: start, MaxBytes: 4096, Log: zerolog.Nop()})
			defer f.Close()
			first := max(start, 0)
			fetchAll(t, f, n-int(first), func(i int, v, k []byte, off int64, control bool, hdrs int) {
				want := first + int64(i)
				if off != want || control {
					t.Fatalf("record %d: offset %d control %v, want offset %d", i, off, control, want)
				}
				wv := value(int(want))
				if !bytes.Equal(v, wv) || (v == nil) != (wv == nil) || string(k) != fmt.Sprintf("k%d", want) {
					t.Fatalf("offset %d: key %q value %q (nil %v), want %q (nil %v)", off, k, v, v == nil, wv, wv == nil)
				}
				if wh := map[bool]int{true: 1}[want%7 == 0]; hdrs != wh {
					t.Fatalf("offset %d: %d headers, want %d", off, hdrs, wh)
				}
			})
			if pos := f.Position(); pos != n {
				t.Errorf("Position at the end = %d, want %d", pos, n)
			}
			if lag := f.Lag(); lag != 0 {
				t.Errorf("Lag at the end = %d, want 0", lag)
			}
			rctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			if _, _, err := f.Fetch(rctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("read past the end: %v, want a deadline error", err)
			}
		})
	}
}

// TestFetcherTransactionMarkers: a transactional producer's commit markers
// come out flagged, with their offsets, so the reader can count them and
// commit past them.
func TestFetcherTransactionMarkers(t *testing.T) {
	conn, cl, topic := fetchEnv(t, kafkatest.Brokers(t), kgo.TransactionalID(fmt.Sprintf("fetch-tx-%d", time.Now().UnixNano())))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for tx := 0; tx < 5; tx++ {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("a")}, &kgo.Record{Value: []byte("b")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
	}
	f := NewPartitionFetcher(FetchConfig{Conn: conn, Topic: topic, Offset: 0, MaxBytes: DefaultFetchBytes, Log: zerolog.Nop()})
	defer f.Close()
	// Each transaction: two records, then one marker.
	fetchAll(t, f, 15, func(i int, v, _ []byte, off int64, control bool, _ int) {
		if off != int64(i) || control != (i%3 == 2) {
			t.Fatalf("record %d: offset %d control %v value %q", i, off, control, v)
		}
	})
	if pos := f.Position(); pos != 15 {
		t.Errorf("Position after the last marker = %d, want 15", pos)
	}
}

// TestFetcherOutOfRange: an offset that retention has deleted goes on from
// the log start and counts what was lost; an offset past the end (a
// truncated log) goes on from the end.
func TestFetcherOutOfRange(t *testing.T) {
	conn, cl, topic := fetchEnv(t, kafkatest.Brokers(t))
	ctx := context.Background()
	produce := func(from, to int) { produceNumbered(t, cl, from, to) }
	produce(0, 100)
	req := kmsg.NewPtrDeleteRecordsRequest()
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Offset = 60
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 10000
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("delete records: error code %d", code)
	}
	m := metrics.NewUnregistered()
	f := NewPartitionFetcher(FetchConfig{Conn: conn, Topic: topic, Offset: 10, MaxBytes: DefaultFetchBytes, Log: zerolog.Nop(), Metrics: m})
	defer f.Close()
	fetchAll(t, f, 40, func(i int, v, _ []byte, off int64, _ bool, _ int) {
		if off != int64(60+i) || string(v) != fmt.Sprint(60+i) {
			t.Fatalf("record %d: offset %d value %q, want offset %d", i, off, v, 60+i)
		}
	})
	if got := metrics.Sum(m.OffsetsSkipped); got != 50 {
		t.Errorf("offsets skipped = %v, want 50", got)
	}

	g := NewPartitionFetcher(FetchConfig{Conn: conn, Topic: topic, Offset: 500, MaxBytes: DefaultFetchBytes, Log: zerolog.Nop(), Metrics: m})
	defer g.Close()
	waitUntil(t, 10*time.Second, "the fetcher at the end", func() bool { return g.Position() == 100 })
	produce(100, 110)
	fetchAll(t, g, 10, func(i int, v, _ []byte, off int64, _ bool, _ int) {
		if off != int64(100+i) {
			t.Fatalf("record %d: offset %d, want %d", i, off, 100+i)
		}
	})
}

// TestFetcherRetries: fetches the broker refuses (here: its leader is not
// known) are retried and counted, and nothing is lost. Runs on kfake, whose
// requests the test can intercept, whatever KAFKA_BROKERS says.
func TestFetcherRetries(t *testing.T) {
	c := kafkatest.Fake(t)
	conn, cl, topic := fetchEnv(t, strings.Join(c.ListenAddrs(), ","))
	produceNumbered(t, cl, 0, 50)
	var refused atomic.Int64
	c.ControlKey(int16(kmsg.Fetch), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if refused.Load() >= 4 {
			return nil, nil, false
		}
		refused.Add(1)
		req := kreq.(*kmsg.FetchRequest)
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewFetchResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewFetchResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = 6 // NOT_LEADER_OR_FOLLOWER
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	m := metrics.NewUnregistered()
	f := NewPartitionFetcher(FetchConfig{Conn: conn, Topic: topic, Offset: 0, MaxBytes: 256, Log: zerolog.Nop(), Metrics: m})
	defer f.Close()
	fetchAll(t, f, 50, func(i int, v, _ []byte, off int64, _ bool, _ int) {
		if off != int64(i) || string(v) != fmt.Sprint(i) {
			t.Fatalf("record %d: offset %d value %q", i, off, v)
		}
	})
	if got := metrics.Sum(m.FetchErrors); got != 4 {
		t.Errorf("fetch errors = %v, want 4 (the refused fetches)", got)
	}
}

func waitUntil(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFetcherOnlyEarlierRecords: a fetch that returns only records before
// the asked offset (what a batch emptied by log compaction looks like;
// here the test rewinds the request) is counted and retried, not spun on
// silently, and reading goes on once the partition answers normally.
func TestFetcherOnlyEarlierRecords(t *testing.T) {
	c := kafkatest.Fake(t)
	conn, cl, topic := fetchEnv(t, strings.Join(c.ListenAddrs(), ","))
	produce := func(from, to int) { produceNumbered(t, cl, from, to) }
	produce(0, 5)
	var rewind atomic.Bool
	rewind.Store(true)
	var rewound atomic.Int64
	c.ControlKey(int16(kmsg.Fetch), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if rewind.Load() {
			for i := range kreq.(*kmsg.FetchRequest).Topics {
				for j := range kreq.(*kmsg.FetchRequest).Topics[i].Partitions {
					kreq.(*kmsg.FetchRequest).Topics[i].Partitions[j].FetchOffset = 0
				}
			}
			rewound.Add(1)
		}
		return nil, nil, false
	})
	m := metrics.NewUnregistered()
	f := NewPartitionFetcher(FetchConfig{Conn: conn, Topic: topic, Offset: 5, MaxBytes: DefaultFetchBytes, Log: zerolog.Nop(), Metrics: m})
	defer f.Close()
	waitUntil(t, 10*time.Second, "fetches counted as failures", func() bool { return metrics.Sum(m.FetchErrors) >= 2 })
	// Backed off, not spun on: 50 ms, 100 ms, 200 ms, ... between tries.
	time.Sleep(time.Second)
	if n := rewound.Load(); n > 8 {
		t.Errorf("%d fetches in about 1.2 s: the fetcher spins instead of backing off", n)
	}
	if pos := f.Position(); pos != 5 {
		t.Errorf("Position = %d, want 5 (nothing before it may be handed out)", pos)
	}
	rewind.Store(false)
	produce(5, 8)
	fetchAll(t, f, 3, func(i int, v, _ []byte, off int64, _ bool, _ int) {
		if off != int64(5+i) || string(v) != fmt.Sprint(5+i) {
			t.Fatalf("record %d: offset %d value %q, want offset %d", i, off, v, 5+i)
		}
	})
}

// TestFetcherFollowsTheLeader: when a partition's leadership moves to
// another broker (a rolling restart, a reassignment), the fetcher's
// requests to the old leader fail until kafka-go's metadata cache
// refreshes (every 10 s at most), then it reads on from the new leader,
// losing and repeating nothing. Runs on a 3-broker kfake cluster.
func TestFetcherFollowsTheLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a metadata refresh")
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(3))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	conn, cl, topic := fetchEnv(t, strings.Join(c.ListenAddrs(), ","))
	produce := func(from, to int) { produceNumbered(t, cl, from, to) }
	produce(0, 10)
	m := metrics.NewUnregistered()
	f := NewPartitionFetcher(FetchConfig{Conn: conn, Topic: topic, Offset: 0, MaxBytes: DefaultFetchBytes, Log: zerolog.Nop(), Metrics: m})
	defer f.Close()
	check := func(from int) func(int, []byte, []byte, int64, bool, int) {
		return func(i int, v, _ []byte, off int64, _ bool, _ int) {
			if off != int64(from+i) || string(v) != fmt.Sprint(from+i) {
				t.Fatalf("record %d: offset %d value %q, want offset %d", i, off, v, from+i)
			}
		}
	}
	fetchAll(t, f, 10, check(0))
	old := c.LeaderFor(topic, 0)
	if err := c.MoveTopicPartition(topic, 0, (old+1)%3); err != nil {
		t.Fatal(err)
	}
	if c.LeaderFor(topic, 0) == old {
		t.Fatal("leadership did not move")
	}
	produce(10, 20)
	start := time.Now()
	for i := 0; i < 10; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
		msg, _, err := f.Fetch(ctx)
		cancel()
		if err != nil {
			t.Fatalf("record %d after the move: %v (after %s)", 10+i, err, time.Since(start))
		}
		check(10)(i, msg.Value, msg.Key, msg.Offset, false, 0)
	}
	t.Logf("read on from the new leader %s after the move (%v failed fetches)", time.Since(start).Round(time.Millisecond), metrics.Sum(m.FetchErrors))
}

// TestFetchBufferShrinks: a buffer grown by a large response is let go
// once responses are small again, and kept while they are large.
func TestFetchBufferShrinks(t *testing.T) {
	big := kafka.Record{Offset: 0, Value: kafka.NewBytes(make([]byte, 512<<10))}
	small := func(off int64) kafka.RecordReader {
		return kafka.NewRecordReader(kafka.Record{Offset: off, Value: kafka.NewBytes([]byte("x"))})
	}
	var b fetchBatch
	if _, _, err := b.fill(kafka.NewRecordReader(big), 0); err != nil {
		t.Fatal(err)
	}
	grown := cap(b.data)
	if grown < 512<<10 {
		t.Fatalf("cap %d after a 512 KiB record", grown)
	}
	if _, _, err := b.fill(small(1), 1); err != nil {
		t.Fatal(err)
	}
	if cap(b.data) != grown {
		t.Fatalf("cap %d right after the large response, want it kept (%d)", cap(b.data), grown)
	}
	if _, _, err := b.fill(small(2), 2); err != nil {
		t.Fatal(err)
	}
	if cap(b.data) > keepFetchBuffer {
		t.Fatalf("cap %d after two small responses, want at most %d", cap(b.data), keepFetchBuffer)
	}
	if string(b.bytes(b.recs[0].value)) != "x" || b.recs[0].offset != 2 {
		t.Fatalf("record after the shrink: %+v", b.recs[0])
	}
}
