package rules_test

import (
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/msixguard/msixguard/aggregate"
	"github.com/msixguard/msixguard/consumer"
	"github.com/msixguard/msixguard/event"
	"github.com/msixguard/msixguard/pipeline"
	"github.com/msixguard/msixguard/rules"
)

func benchRecords(b *testing.B, files ...string) [][]byte {
	var recs [][]byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		rr := pipeline.NewRecordReader(bytes.NewReader(data), 1<<20)
		for {
			rec, err := rr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			recs = append(recs, rec.Value)
		}
	}
	return recs
}

// BenchmarkPack is the per-record hot path (one decode, every rule's
// matcher, aggregation) with the seed rule alone and with the four rules of
// pack:appx, on the 400-record mixed conformance stream plus the pack's
// install-session vector. Compare ns/op of seed and appx per format: the
// issue asks appx throughput >= 0.8 x seed.
func BenchmarkPack(b *testing.B) {
	for _, format := range []struct{ name, ext string }{{"json", "ndjson"}, {"xml", "xml"}} {
		recs := benchRecords(b, "../testdata/conformance/08_many_windows_and_hosts/events."+format.ext,
			"packs/testdata/appx/04_install_session/events."+format.ext)
		for _, sel := range []struct {
			name  string
			paths []string
		}{{"seed", nil}, {"appx", []string{"pack:appx"}}} {
			set, err := pipeline.LoadRules(sel.paths, false)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(format.name+"/"+sel.name, func(b *testing.B) {
				dec, err := consumer.NewDecoder(consumer.Format(format.name), consumer.DecoderOptions{Fields: set.Fields()})
				if err != nil {
					b.Fatal(err)
				}
				eng := aggregate.New(set.Rules, aggregate.Options{})
				var ev event.Event
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
}
