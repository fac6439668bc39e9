package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/msixguard/msixguard/aggregate"
	"github.com/msixguard/msixguard/cluster"
	"github.com/msixguard/msixguard/consumer"
	"github.com/msixguard/msixguard/internal/kafkatest"
	"github.com/msixguard/msixguard/metrics"
	"github.com/msixguard/msixguard/producer"
)

// testConn returns a connection to the real Kafka named by KAFKA_BROKERS,
// or to an embedded kfake broker.
func testConn(t *testing.T) *cluster.Conn {
	t.Helper()
	conn, err := cluster.New([]string{kafkatest.Brokers(t)}, nil, nil, "msixguard-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return conn
}

type testJob struct {
	keyedBy string // InputKeyedBy of the job; produce keys records by dvc then
	conn    *cluster.Conn
	prefix  string
	input   string
	risk    string
}

func newTestJob(t *testing.T, partitions int) *testJob {
	conn := testConn(t)
	p := fmt.Sprintf("t%d-%d", time.Now().UnixNano()%1e9, rand.Intn(1000))
	j := &testJob{conn: conn, prefix: p, input: p + "-input", risk: p + "-risk"}
	if _, err := conn.EnsureTopics(context.Background(), []cluster.TopicSpec{{Name: j.input, Partitions: partitions}}, true); err != nil {
		t.Fatal(err)
	}
	return j
}

func (j *testJob) config(t *testing.T, m *metrics.Metrics) JobConfig {
	set, err := LoadRules(nil, false)
	if err != nil {
		t.Fatal(err)
	}
	return JobConfig{
		Conn: j.conn, Group: j.prefix, InputTopics: []string{j.input}, RiskTopic: j.risk,
		DLQTopic: j.prefix + "-dlq", RepartitionTopic: j.prefix + "-repartition", RepartitionPartitions: 3, InputKeyedBy: j.keyedBy,
		CreateTopics: true, TopicPartitions: 1, Format: consumer.Format("auto"), Rules: set,
		Emitter: &producer.Emitter{Kinds: map[aggregate.Kind]bool{aggregate.KindFinal: true}, Loc: time.UTC, Now: time.Now},
		Encoder: producer.JSONEncoder{}, IdleTimeout: 2 * time.Second, MaxRecordBytes: 1 << 20,
		MarkerInterval: 200 * time.Millisecond, FlushInterval: 100 * time.Millisecond, CommitInterval: 300 * time.Millisecond,
		Settings: consumer.GroupSettings{SessionTimeout: 6 * time.Second, HeartbeatInterval: 500 * time.Millisecond, RebalanceTimeout: 6 * time.Second, JoinBackoff: 500 * time.Millisecond},
		Now:      time.Now, Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel), Metrics: m,
	}
}

// replica runs one in-process replica until its cancel is called.
type replica struct {
	cancel context.CancelFunc
	done   chan error
}

func (j *testJob) start(t *testing.T, m *metrics.Metrics) *replica {
	ctx, cancel := context.WithCancel(context.Background())
	r := &replica{cancel: cancel, done: make(chan error, 1)}
	cfg := j.config(t, m)
	go func() { r.done <- Run(ctx, cfg) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *replica) stop(t *testing.T) {
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("replica: %v", err)
		}
		r.done <- nil
	case <-time.After(20 * time.Second):
		t.Error("replica did not stop within 20s")
	}
}

// produce writes the lines of a file to the input topic, spread over its
// partitions at random (the SIEM's keying is unknown).
func (j *testJob) produce(t *testing.T, file string, from, to int) int {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var bal kafka.Balancer = &kafka.RoundRobin{}
	if j.keyedBy != "" {
		bal = &kafka.Hash{}
	}
	w := producer.NewWriter(j.conn, j.input, bal)
	defer w.Close()
	var msgs []kafka.Message
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		if n >= from && (to < 0 || n < to) {
			key := []byte(fmt.Sprint(rand.Int()))
			if j.keyedBy != "" {
				var ev map[string]any
				json.Unmarshal(sc.Bytes(), &ev)
				key = []byte(fmt.Sprint(ev[j.keyedBy]))
			}
			msgs = append(msgs, kafka.Message{Key: key, Value: append([]byte(nil), sc.Bytes()...)})
		}
		n++
	}
	if err := w.Write(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	return len(msgs)
}

// collect reads final risk messages until want distinct ids arrived.
func (j *testJob) collect(t *testing.T, want int, timeout time.Duration) ([]byte, int) {
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: j.conn.Brokers, Dialer: j.conn.Dialer(), Topic: j.risk, Partition: 0, MaxWait: 200 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out bytes.Buffer
	ids := map[string]bool{}
	total := 0
	for len(ids) < want {
		msg, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("read risk topic: got %d of %d messages: %v", len(ids), want, err)
		}
		total++
		out.Write(msg.Value)
		out.WriteByte('\n')
		var id string
		if i := bytes.Index(msg.Value, []byte(`"id":"`)); i >= 0 {
			id = string(msg.Value[i+6 : i+38])
		}
		ids[id] = true
	}
	// Give repeats a moment to show, so the test can report them.
	rest, cancel2 := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel2()
	for {
		msg, err := r.ReadMessage(rest)
		if err != nil {
			break
		}
		total++
		out.Write(msg.Value)
		out.WriteByte('\n')
	}
	return out.Bytes(), total - len(ids)
}

func expectedFromCheck(t *testing.T, file string) []string {
	out, _ := runCheck(t, "auto", "final", file)
	return canonicalMessages(t, out)
}

func assertSameSet(t *testing.T, want []string, got []byte) {
	t.Helper()
	g := dedupe(canonicalMessages(t, got))
	if strings.Join(want, "\n") != strings.Join(g, "\n") {
		t.Fatalf("risk messages differ from check\nwant %d:\n%s\ngot %d:\n%s", len(want), strings.Join(want, "\n"), len(g), strings.Join(g, "\n"))
	}
}

func dedupe(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

const mixedCase = "../testdata/conformance/08_many_windows_and_hosts/events.ndjson"

func TestJobMatchesCheck(t *testing.T) {
	for _, replicas := range []int{1, 3} {
		t.Run(fmt.Sprintf("%d replicas", replicas), func(t *testing.T) {
			want := expectedFromCheck(t, mixedCase)
			j := newTestJob(t, 4)
			m := metrics.NewUnregistered()
			for i := 0; i < replicas; i++ {
				j.start(t, m)
			}
			n := j.produce(t, mixedCase, 0, -1)
			got, repeats := j.collect(t, len(want), 60*time.Second)
			assertSameSet(t, want, got)
			t.Logf("records %d, risk messages expected %d, repeated %d", n, len(want), repeats)
		})
	}
}

func TestJobQuietStreamClosesByIdleWatermark(t *testing.T) {
	// One event, then silence: only the idle watermark can close its window.
	file := "../testdata/conformance/01_basic/events.ndjson"
	want := expectedFromCheck(t, file)
	j := newTestJob(t, 2)
	j.start(t, metrics.NewUnregistered())
	j.produce(t, file, 0, -1)
	got, _ := j.collect(t, len(want), 30*time.Second)
	assertSameSet(t, want, got)
}

func TestJobSurvivesReplicaLoss(t *testing.T) {
	want := expectedFromCheck(t, mixedCase)
	j := newTestJob(t, 4)
	m := metrics.NewUnregistered()
	a := j.start(t, m)
	j.start(t, m)
	j.produce(t, mixedCase, 0, 200)
	time.Sleep(1500 * time.Millisecond) // windows are open, partly aggregated
	a.stop(t)
	c := j.start(t, m)
	j.produce(t, mixedCase, 200, -1)
	time.Sleep(time.Second)
	// Rebalance again: 2 → 1 → 2 replicas while data is in flight.
	c.stop(t)
	j.start(t, m)
	got, repeats := j.collect(t, len(want), 60*time.Second)
	assertSameSet(t, want, got)
	t.Logf("risk messages expected %d, repeated %d (same ids)", len(want), repeats)
}

func TestJobDeadLettersBadRecords(t *testing.T) {
	j := newTestJob(t, 1)
	m := metrics.NewUnregistered()
	j.start(t, m)
	w := producer.NewWriter(j.conn, j.input, nil)
	defer w.Close()
	good := `{"_time": 1714560900, "EventCode": 855, "dvc": "H", "user_id": "U", "PackageMoniker": "A_1.0.0.0_x64__z0p5db6dqbn1q"}`
	err := w.Write(context.Background(),
		kafka.Message{Key: []byte("k1"), Value: []byte(good)},
		kafka.Message{Key: []byte("k2"), Value: []byte(`{"_time": "yesterday"`), Headers: []kafka.Header{{Key: "origin", Value: []byte("siem")}}},
		kafka.Message{Key: []byte("k3"), Value: []byte(`{"_time": 1714560901, "EventCode": 4688}`)},
	)
	if err != nil {
		t.Fatal(err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: j.conn.Brokers, Dialer: j.conn.Dialer(), Topic: j.prefix + "-dlq", Partition: 0, MaxWait: 200 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msg, err := r.ReadMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(msg.Key) != "k2" || string(producer.Header(msg.Headers, "origin")) != "siem" ||
		string(producer.Header(msg.Headers, producer.HeaderErrorReason)) != "invalid_json" ||
		string(producer.Header(msg.Headers, producer.HeaderSourceTopic)) != j.input ||
		string(producer.Header(msg.Headers, producer.HeaderSourceOffset)) != "1" {
		t.Fatalf("dead letter: key %q headers %v", msg.Key, msg.Headers)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		in := metrics.Sum(m.RecordsConsumed)
		if in == 3 && metrics.Sum(m.Matched) == 1 && metrics.Sum(m.Unmatched) == 1 && metrics.Sum(m.DLQWrites) == 1 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("records %v != matched %v + unmatched %v + DLQ %v", metrics.Sum(m.RecordsConsumed), metrics.Sum(m.Matched), metrics.Sum(m.Unmatched), metrics.Sum(m.DLQWrites))
}

// TestJobInputKeyedByDvc skips the repartition hop for an input keyed by
// host, with a replica lost and replaced mid-stream.
func TestJobInputKeyedByDvc(t *testing.T) {
	want := expectedFromCheck(t, mixedCase)
	j := newTestJob(t, 4)
	j.keyedBy = "dvc"
	m := metrics.NewUnregistered()
	a := j.start(t, m)
	j.start(t, m)
	j.produce(t, mixedCase, 0, 200)
	time.Sleep(time.Second)
	a.stop(t)
	j.start(t, m)
	j.produce(t, mixedCase, 200, -1)
	got, repeats := j.collect(t, len(want), 60*time.Second)
	assertSameSet(t, want, got)
	t.Logf("risk messages expected %d, repeated %d", len(want), repeats)
	if ps, err := j.conn.Partitions(context.Background(), j.prefix+"-repartition"); err != nil || len(ps) != 0 {
		t.Fatalf("repartition topic created in direct mode: %v %v", ps, err)
	}
}

func TestJobInputKeyedByRejectsFieldNotGroupedBy(t *testing.T) {
	j := &testJob{prefix: "x", input: "x-input", risk: "x-risk", keyedBy: "host"}
	cfg := j.config(t, metrics.NewUnregistered())
	err := Run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "does not group by host") {
		t.Fatalf("err = %v", err)
	}
}
