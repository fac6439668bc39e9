package consumer

import (
	"encoding/json"
	"testing"

	"github.com/valyala/fastjson"

	"github.com/msixguard/msixguard/event"
)

// Benchmarks decode the first event of conformance/01_basic in each form.
// BenchmarkScanJSON only validates the same normalized JSON bytes: the
// ratio Decode/json to it is the cost of decoding over the bare minimum of
// looking at every byte once.

func benchRecords(b *testing.B) map[string][]byte {
	b.Helper()
	first := func(path string) []byte {
		lines := readLines(b, path)
		if len(lines) == 0 {
			b.Fatalf("no records in %s", path)
		}
		return lines[0]
	}
	jsonRec := first("testdata/conformance/01_basic/events.ndjson")
	var ev event.Event
	d, err := NewDecoder(FormatJSON, DecoderOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if err := d.Decode(jsonRec, &ev); err != nil {
		b.Fatal(err)
	}
	return map[string][]byte{
		"json":      jsonRec,
		"ecs":       first("testdata/conformance/01_basic/events.ecs.ndjson"),
		"xml":       first("testdata/conformance/01_basic/events.xml"),
		"avro":      encodeEventAvro(b, &ev),
		"auto-json": jsonRec,
	}
}

func BenchmarkDecode(b *testing.B) {
	recs := benchRecords(b)
	formats := map[string]Format{"json": FormatJSON, "ecs": FormatECS, "xml": FormatXML, "avro": FormatAvro, "auto-json": FormatAuto}
	// The fields the built-in rule reads: what a production decoder keeps.
	ruleFields := []string{"EventCode", "dvc", "user_id", "PackageMoniker"}
	for _, name := range []string{"json", "ecs", "xml", "avro", "auto-json"} {
		b.Run(name, func(b *testing.B) {
			d, err := NewDecoder(formats[name], DecoderOptions{Fields: ruleFields})
			if err != nil {
				b.Fatal(err)
			}
			rec := recs[name]
			var ev event.Event
			b.ReportAllocs()
			b.SetBytes(int64(len(rec)))
			for b.Loop() {
				if err := d.Decode(rec, &ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkScanJSON(b *testing.B) {
	rec := benchRecords(b)["json"]
	b.Run("fastjson.Validate", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(rec)))
		for b.Loop() {
			if err := fastjson.ValidateBytes(rec); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Valid", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(rec)))
		for b.Loop() {
			if !json.Valid(rec) {
				b.Fatal("invalid")
			}
		}
	})
}
