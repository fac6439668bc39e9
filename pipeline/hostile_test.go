package pipeline

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/msixguard/msixguard/metrics"
	"github.com/msixguard/msixguard/producer"
)

// hostileRecord is one adversarial input and what must become of it.
type hostileRecord struct {
	name  string
	value []byte // nil: a tombstone
	// outcome: "dlq:<reason>", "dropped:<reason>", "matched" or "unmatched".
	outcome string
}

const goodJSON = `{"_time": "2024-05-01T11:00:00Z", "EventCode": 855, "dvc": "H", "user_id": "U", "PackageMoniker": "A_1.0.0.0_x64__z0p5db6dqbn1q"}`

func hostileCorpus() []hostileRecord {
	deepArray := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	deepJSON := `{"_time": 1714560900, "x": ` + strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000) + "}"
	deepXML := "<Event>" + strings.Repeat("<a>", 5000) + strings.Repeat("</a>", 5000) + "</Event>"
	bomb := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><Event><System><EventID>&lol3;</EventID></System></Event>`
	external := `<!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]><Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><EventID>855</EventID><TimeCreated SystemTime='2024-05-01T11:00:00Z'/><Computer>&x;</Computer></System></Event>`
	huge := `{"_time": "2024-05-01T11:00:00Z", "EventCode": 855, "dvc": "H", "user_id": "U", "PackageMoniker": " addPackageList: ` + strings.Repeat("Contoso.App_1.0.0.0_x64__z0p5db6dqbn1q ", 10000) + `"}`
	return []hostileRecord{
		{"good control record", []byte(goodJSON), "matched"},
		{"other event code", []byte(`{"_time": 1714560900, "EventCode": 4688, "dvc": "H", "user_id": "U"}`), "unmatched"},
		{"truncated JSON", []byte(goodJSON[:40]), "dlq:invalid_json"},
		{"invalid JSON", []byte(`{"_time": 1714560900, "EventCode": 855,,}`), "dlq:invalid_json"},
		{"invalid UTF-8 in a field", []byte("{\"_time\": 1714560900, \"EventCode\": 855, \"dvc\": \"H\xff\xfe\", \"user_id\": \"U\"}"), "dlq:invalid_utf8"},
		{"deeply nested JSON array", []byte(deepArray), "dlq:unknown_format"},
		{"deeply nested JSON object", []byte(deepJSON), "dlq:invalid_json"},
		{"deeply nested XML", []byte(deepXML), "dlq:xml_too_deep"},
		{"XML entity bomb", []byte(bomb), "dlq:invalid_xml"},
		{"XML external entity", []byte(external), "dlq:invalid_xml"},
		{"huge PackageMoniker (390 KB)", []byte(huge), "matched"},
		{"record over --max-record-bytes", []byte(`{"x":"` + strings.Repeat("a", 1000000) + `"}`), "dlq:record_too_large"},
		{"object where a string belongs", []byte(`{"_time": 1714560900, "EventCode": 855, "dvc": {"a": 1}, "user_id": "U"}`), "dlq:bad_field_type"},
		{"number where a string belongs", []byte(`{"_time": 1714560900, "EventCode": 855, "dvc": 42, "user_id": 7}`), "matched"},
		{"time far in the future", []byte(`{"_time": "2999-01-01T00:00:00Z", "EventCode": 855, "dvc": "H", "user_id": "U"}`), "dlq:future_time"},
		{"time far in the past", []byte(`{"_time": "1971-01-01T00:00:00Z", "EventCode": 855, "dvc": "H", "user_id": "U"}`), "matched"},
		{"time not a time", []byte(`{"_time": "yesterday", "EventCode": 855, "dvc": "H", "user_id": "U"}`), "dlq:bad_time"},
		{"no time", []byte(`{"EventCode": 855, "dvc": "H", "user_id": "U"}`), "dlq:missing_time"},
		{"Avro with an unknown schema id", []byte{0, 0, 0, 0x30, 0x39, 2, 'x'}, "dlq:avro_unknown_schema"},
		{"Avro truncated", []byte{0, 0, 0, 0, 1, 0x80}, "dlq:avro_decode"},
		{"binary garbage", []byte{0x01, 0x02, 0x03, 0xff}, "dlq:unknown_format"},
		// Empty is not null: no tombstone, a record with no content.
		{"empty value", []byte{}, "dlq:empty_record"},
		{"whitespace only", []byte(" \n\t "), "dlq:empty_record"},
		{"tombstone", nil, "dropped:tombstone"},
		{"JSON array", []byte(`[1,2,3]`), "dlq:unknown_format"},
		{"JSON string", []byte(`"855"`), "dlq:unknown_format"},
		{"missing dvc", []byte(`{"_time": 1714560900, "EventCode": 855, "user_id": "U"}`), "matched"},
	}
}

// TestHostileInput sends every record of the corpus through the Kafka job:
// nothing crashes or hangs, each bad record reaches the DLQ with its reason
// (or is a counted drop), and records in = matched + unmatched + DLQ + dropped.
func TestHostileInput(t *testing.T) {
	corpus := hostileCorpus()
	j := newTestJob(t, 2)
	m := metrics.NewUnregistered()
	cfg := j.config(t, m)
	cfg.MaxRecordBytes = 512 << 10
	cfg.MaxFutureSkew = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	w := producer.NewWriter(j.conn, j.input, nil)
	defer w.Close()
	wantDLQ := map[string]int{}
	wantTomb := 0
	for i, h := range corpus {
		if err := w.Write(context.Background(), kafka.Message{Key: []byte(fmt.Sprint(i)), Value: h.value}); err != nil {
			t.Fatalf("%s: %v", h.name, err)
		}
		switch {
		case strings.HasPrefix(h.outcome, "dlq:"):
			wantDLQ[fmt.Sprint(i)] = 1
		case h.outcome == "dropped:tombstone":
			wantTomb++
		}
	}
	// Read the DLQ: one record per bad input, original key, the right reason.
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: j.conn.Brokers, Dialer: j.conn.Dialer(), Topic: j.prefix + "-dlq", Partition: 0, MaxWait: 200 * time.Millisecond, MaxBytes: 4 << 20})
	defer r.Close()
	rctx, rcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer rcancel()
	got := map[string]string{}
	for len(got) < len(wantDLQ) {
		msg, err := r.ReadMessage(rctx)
		if err != nil {
			t.Fatalf("DLQ: got %d of %d: %v (%v)", len(got), len(wantDLQ), err, got)
		}
		got[string(msg.Key)] = string(producer.Header(msg.Headers, producer.HeaderErrorReason))
	}
	for i, h := range corpus {
		if reason, ok := strings.CutPrefix(h.outcome, "dlq:"); ok && got[fmt.Sprint(i)] != reason {
			t.Errorf("%s: DLQ reason %q, want %q", h.name, got[fmt.Sprint(i)], reason)
		}
	}
	// Accounting, once every record is counted.
	deadline := time.Now().Add(20 * time.Second)
	for {
		in := metrics.Sum(m.RecordsConsumed)
		matched, unmatched, dlq := metrics.Sum(m.Matched), metrics.Sum(m.Unmatched), metrics.Sum(m.DLQWrites)
		tomb := metrics.ByLabel(m.Dropped, "reason")["tombstone"]
		if in == float64(len(corpus)) && in == matched+unmatched+dlq+tomb {
			t.Logf("records %v = matched %v + unmatched %v + DLQ %v + dropped %v; %d hostile kinds", in, matched, unmatched, dlq, tomb, len(corpus))
			wantMatched := 0
			for _, h := range corpus {
				if h.outcome == "matched" {
					wantMatched++
				}
			}
			if int(matched) != wantMatched || int(tomb) != wantTomb || int(dlq) != len(wantDLQ) {
				t.Fatalf("matched %v want %d, tombstones %v want %d, DLQ %v want %d", matched, wantMatched, tomb, wantTomb, dlq, len(wantDLQ))
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("records %v != matched %v + unmatched %v + DLQ %v + tombstones %v", in, matched, unmatched, dlq, tomb)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
