package pipeline

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/msixguard/msixguard/cluster"
	"github.com/msixguard/msixguard/internal/kafkatest"
	"github.com/msixguard/msixguard/metrics"
)

// TestJobIdleNeedsTheBroker: silence is not idleness. While the broker
// cannot say where the input partitions end (a paused broker, a partition
// without a leader), the idle watermark must not follow the wall clock, or
// it closes windows whose events are still to be read. Once the broker
// answers again, the quiet stream closes as usual. Runs on kfake, whose
// requests the test can intercept, whatever KAFKA_BROKERS says.
func TestJobIdleNeedsTheBroker(t *testing.T) {
	for _, keyedBy := range []string{"", "dvc"} {
		name := "two-stage"
		if keyedBy != "" {
			name = "keyed-by-" + keyedBy
		}
		t.Run(name, func(t *testing.T) {
			c := kafkatest.Fake(t)
			var refuse atomic.Bool
			var refused atomic.Int64
			c.ControlKey(int16(kmsg.ListOffsets), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				if !refuse.Load() {
					return nil, nil, false
				}
				refused.Add(1)
				req := kreq.(*kmsg.ListOffsetsRequest)
				resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
				for _, rt := range req.Topics {
					st := kmsg.NewListOffsetsResponseTopic()
					st.Topic = rt.Topic
					for _, rp := range rt.Partitions {
						sp := kmsg.NewListOffsetsResponseTopicPartition()
						sp.Partition = rp.Partition
						sp.ErrorCode = 5 // LEADER_NOT_AVAILABLE
						st.Partitions = append(st.Partitions, sp)
					}
					resp.Topics = append(resp.Topics, st)
				}
				return resp, nil, true
			})
			conn, err := cluster.New([]string{strings.Join(c.ListenAddrs(), ",")}, nil, nil, "msixguard-test")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(conn.Close)
			p := fmt.Sprintf("t%d-%d", time.Now().UnixNano()%1e9, rand.Intn(1000))
			j := &testJob{conn: conn, prefix: p, input: p + "-input", risk: p + "-risk", keyedBy: keyedBy}
			if _, err := conn.EnsureTopics(context.Background(), []cluster.TopicSpec{{Name: j.input, Partitions: 2}}, true); err != nil {
				t.Fatal(err)
			}
			file := "../testdata/conformance/01_basic/events.ndjson"
			want := expectedFromCheck(t, file)
			m := metrics.NewUnregistered()
			j.start(t, m)
			n := j.produce(t, file, 0, -1)
			waitFor(t, 20*time.Second, "every record read", func() bool { return metrics.Sum(m.RecordsConsumed) == float64(n) })
			refuse.Store(true)
			// Three idle timeouts (2s) of silence with the broker unable to
			// confirm the end: no window may close.
			time.Sleep(6 * time.Second)
			if got := metrics.Sum(m.RiskMessages); got != 0 || refused.Load() == 0 {
				t.Fatalf("with the end unconfirmed (%d ListOffsets refused): %v risk messages, want 0", refused.Load(), got)
			}
			refuse.Store(false)
			got, _ := j.collect(t, len(want), 30*time.Second)
			assertSameSet(t, want, got)
		})
	}
}

func waitFor(t *testing.T, timeout time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
