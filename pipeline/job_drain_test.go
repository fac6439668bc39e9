package pipeline

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/msixguard/msixguard/metrics"
)

// TestJobShutdownCommits: a replica that stops (SIGTERM in `run`) writes
// and commits what it read before it leaves its groups, so the next owner
// does not read it again. With commit cadences of a minute, only the drain
// can have committed the input offsets.
func TestJobShutdownCommits(t *testing.T) {
	for _, keyedBy := range []string{"", "dvc"} {
		t.Run("keyed-by-"+keyedBy, func(t *testing.T) {
			j := newTestJob(t, 2)
			j.keyedBy = keyedBy
			m := metrics.NewUnregistered()
			cfg := j.config(t, m)
			cfg.FlushInterval, cfg.CommitInterval = time.Minute, time.Minute
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- Run(ctx, cfg) }()
			n := j.produce(t, "../testdata/conformance/08_many_windows_and_hosts/events.ndjson", 0, -1)
			waitFor(t, 30*time.Second, "every record read", func() bool { return metrics.Sum(m.RecordsConsumed) == float64(n) })
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("Run did not return within 20s of its context ending")
			}
			group := cfg.Group + "-stage1"
			if keyedBy != "" {
				group = cfg.Group + "-direct"
			}
			resp, err := j.conn.Client().OffsetFetch(context.Background(), &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{j.input: {0, 1}}})
			if err != nil {
				t.Fatal(err)
			}
			// Stage 1 commits its read position; the direct mode commits at
			// the oldest open window with its read position in the
			// metadata ("r"), from which the next owner goes on.
			var read int64
			for _, p := range resp.Topics[j.input] {
				at := p.CommittedOffset
				if keyedBy != "" {
					at = metaRead(t, p.Metadata)
				}
				if at > 0 {
					read += at
				}
			}
			if read != int64(n) {
				t.Fatalf("%s committed a read position of %d of %d input records at shutdown", group, read, n)
			}
		})
	}
}

// metaRead is the read position in a stage-2/direct commit's metadata
// ("j1:" JSON or "z1:" deflated JSON, consumer/stage2.go).
func metaRead(t *testing.T, meta string) int64 {
	var raw []byte
	switch {
	case strings.HasPrefix(meta, "j1:"):
		raw = []byte(meta[3:])
	case strings.HasPrefix(meta, "z1:"):
		z, err := base64.StdEncoding.DecodeString(meta[3:])
		if err != nil {
			t.Fatal(err)
		}
		if raw, err = io.ReadAll(flate.NewReader(bytes.NewReader(z))); err != nil {
			t.Fatal(err)
		}
	default:
		return -1
	}
	var m struct {
		Read int64 `json:"r"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m.Read
}
