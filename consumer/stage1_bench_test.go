package consumer

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/msixguard/msixguard/producer"
)

// BenchmarkStage1 measures stage 1 end to end on the embedded broker: b.N
// JSON records (1 % matching) in one input partition, from join until every
// offset is committed. Compare with BenchmarkReaderLoop, the bare kafka-go
// read loop over the same records.
func BenchmarkStage1(b *testing.B) { benchStage1(b, false) }

// BenchmarkReaderLoop is the ceiling: the same fetcher, counting records.
func BenchmarkReaderLoop(b *testing.B) { benchStage1(b, true) }

func benchStage1(b *testing.B, bare bool) {
	conn, cfg := stage1Env(b, 2)
	ctx := context.Background()
	w := producer.NewWriter(conn, "in", nil)
	msgs := make([]kafka.Message, 0, 1000)
	for i := 0; i < b.N; i++ {
		code := 4688
		if i%100 == 0 {
			code = 855
		}
		msgs = append(msgs, kafka.Message{Value: []byte(fmt.Sprintf(`{"_time": %d, "EventCode": %d, "dvc": "WS-%04d", "user_id": "S-1-5-21-%d", "PackageMoniker": " addPackageList: Contoso.App_1.0.0.0_x64__z0p5db6dqbn1q", "pad": %q}`,
			1714560900+i, code, i%500, i%40, strings.Repeat("x", 200)))})
		if len(msgs) == cap(msgs) || i == b.N-1 {
			if err := w.Write(ctx, msgs...); err != nil {
				b.Fatal(err)
			}
			msgs = msgs[:0]
		}
	}
	w.Close()
	b.ResetTimer()
	if bare {
		r := NewPartitionFetcher(FetchConfig{Conn: conn, Topic: "in", Offset: -1, MaxBytes: DefaultFetchBytes})
		defer r.Close()
		for i := 0; i < b.N; i++ {
			if _, _, err := r.Fetch(ctx); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- RunStage1(rctx, cfg) }()
	for {
		off, _, err := committed(ctx, conn, "g", "in", 0)
		if err == nil && off >= int64(b.N) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.StopTimer()
	cancel()
	<-done
}
