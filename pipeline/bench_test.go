package pipeline

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"testing"

	"github.com/msixguard/msixguard/aggregate"
	"github.com/msixguard/msixguard/consumer"
	"github.com/msixguard/msixguard/event"
	"github.com/msixguard/msixguard/rules"
)

func loadRecords(b *testing.B, file string) [][]byte {
	data, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	var recs [][]byte
	rr := NewRecordReader(bytes.NewReader(data), 1<<20)
	for {
		rec, err := rr.Next()
		if err == io.EOF {
			return recs
		}
		if err != nil {
			b.Fatal(err)
		}
		recs = append(recs, rec.Value)
	}
}

// BenchmarkRecord is the per-record hot path (decode, every rule, aggregate)
// per input format, on the 400-record mixed conformance case; compare its
// ns/op with BenchmarkBareScan/json, which only validates the same JSON bytes.
func BenchmarkRecord(b *testing.B) {
	set, err := LoadRules(nil, false)
	if err != nil {
		b.Fatal(err)
	}
	dir := "../testdata/conformance/08_many_windows_and_hosts/"
	for _, c := range []struct{ name, file, format string }{
		{"json", "events.ndjson", "json"}, {"ecs", "events.ecs.ndjson", "ecs"}, {"xml", "events.xml", "xml"}, {"auto-json", "events.ndjson", "auto"},
	} {
		recs := loadRecords(b, dir+c.file)
		b.Run(c.name, func(b *testing.B) {
			dec, err := consumer.NewDecoder(consumer.Format(c.format), consumer.DecoderOptions{Fields: set.Fields()})
			if err != nil {
				b.Fatal(err)
			}
			eng := aggregate.New(set.Rules, aggregate.Options{})
			var ev event.Event
			var size int64
			for _, r := range recs {
				size += int64(len(r))
			}
			b.SetBytes(size / int64(len(recs)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := dec.Decode(recs[i%len(recs)], &ev); err != nil {
					b.Fatal(err)
				}
				set.Detect(&ev, func(_ *rules.Rule, m rules.Match, drop rules.DropReason) {
					if drop == "" {
						eng.Add(m)
					}
				})
			}
		})
	}
}

func BenchmarkBareScan(b *testing.B) {
	recs := loadRecords(b, "../testdata/conformance/08_many_windows_and_hosts/events.ndjson")
	var size int64
	for _, r := range recs {
		size += int64(len(r))
	}
	b.Run("json", func(b *testing.B) {
		b.SetBytes(size / int64(len(recs)))
		for i := 0; i < b.N; i++ {
			if !json.Valid(recs[i%len(recs)]) {
				b.Fatal("invalid")
			}
		}
	})
}
