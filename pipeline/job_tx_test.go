package pipeline

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/msixguard/msixguard/metrics"
)

// TestJobTransactionalInput: an input topic written by a transactional
// producer (Kafka Connect with exactly-once, Flink, Streams) holds commit
// markers, which kafka-go hands over as records. They are counted drops,
// not dead letters, and the risk messages are check's.
func TestJobTransactionalInput(t *testing.T) {
	file := "../testdata/conformance/01_basic/events.ndjson"
	want := expectedFromCheck(t, file)
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	j := newTestJob(t, 1)
	m := metrics.NewUnregistered()
	j.start(t, m)
	cl, err := kgo.NewClient(kgo.SeedBrokers(j.conn.Brokers...), kgo.TransactionalID(j.prefix+"-tx"), kgo.DefaultProduceTopic(j.input))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// One transaction per record: as many markers as events.
	for _, l := range lines {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(l)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
	}
	cl.Close()
	got, _ := j.collect(t, len(want), 60*time.Second)
	assertSameSet(t, want, got)
	waitFor(t, 20*time.Second, "every record counted", func() bool {
		return metrics.Sum(m.RecordsConsumed) == float64(2*len(lines))
	})
	markers := metrics.ByLabel(m.Dropped, "reason")["transaction_marker"]
	if markers != float64(len(lines)) || metrics.Sum(m.DLQWrites) != 0 {
		t.Fatalf("%v transaction markers dropped (want %d), %v dead letters (want 0)", markers, len(lines), metrics.Sum(m.DLQWrites))
	}
}
