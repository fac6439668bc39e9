package consumer

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/msixguard/msixguard/event"
	"github.com/msixguard/msixguard/schemas"
)

// Seed corpora live in testdata/fuzz/<FuzzName>/: records from the real
// upstream samples and the conformance vectors, plus hostile ones
// (truncations, deep nesting, entity bombs, huge strings, invalid UTF-8,
// lying Avro counts).

func fuzzDecoders(f *testing.F, format Format) []Decoder {
	all, err := NewDecoder(format, DecoderOptions{})
	if err != nil {
		f.Fatal(err)
	}
	some, err := NewDecoder(format, DecoderOptions{Fields: []string{"EventCode", "dvc", "PackageMoniker", "HasFullTrust"}})
	if err != nil {
		f.Fatal(err)
	}
	return []Decoder{all, some}
}

func FuzzDecodeJSON(f *testing.F) {
	ds := fuzzDecoders(f, FormatJSON)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, d := range ds {
			checkDecodeInvariant(t, d, data)
		}
		// fastjson must not reject JSON that encoding/json accepts, except
		// for its nesting limit.
		var ev event.Event
		var de *DecodeError
		if err := ds[0].Decode(data, &ev); errors.As(err, &de) && de.Reason == ReasonInvalidJSON &&
			json.Valid(trimRecord(data)) && !strings.Contains(de.Detail, "nested deeper") {
			t.Fatalf("valid JSON rejected: %v", de)
		}
	})
}

func FuzzDecodeECS(f *testing.F) {
	ds := fuzzDecoders(f, FormatECS)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, d := range ds {
			checkDecodeInvariant(t, d, data)
		}
	})
}

func FuzzDecodeXML(f *testing.F) {
	ds := fuzzDecoders(f, FormatXML)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, d := range ds {
			checkDecodeInvariant(t, d, data)
		}
	})
}

// FuzzDecodeAvro also uses goavro as the oracle: whatever the decoder
// accepts, goavro must read to the same values. (The converse cannot be
// asked safely: goavro allocates from unchecked counts.)
func FuzzDecodeAvro(f *testing.F) {
	ds := fuzzDecoders(f, FormatAvro)
	codec, err := schemas.EventCodec()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, d := range ds {
			checkDecodeInvariant(t, d, data)
		}
		var ev event.Event
		if ds[0].Decode(data, &ev) != nil {
			return
		}
		native, rest, err := codec.NativeFromBinary(data[schemas.ConfluentHeaderLen:])
		if err != nil || len(rest) != 0 {
			t.Fatalf("decoder accepted what goavro rejects: %v (%d bytes left)", err, len(rest))
		}
		compareAvroNative(t, native.(map[string]any), &ev)
	})
}

func compareAvroNative(t *testing.T, m map[string]any, ev *event.Event) {
	t.Helper()
	union := func(v any) (any, bool) {
		if u, ok := v.(map[string]any); ok {
			for _, x := range u {
				return x, true
			}
		}
		return nil, false
	}
	want := map[string][]string{}
	if v, ok := union(m["EventCode"]); ok {
		want["EventCode"] = []string{string(appendInt(v.(int64)))}
	}
	for _, k := range []string{"dvc", "user_id"} {
		if v, ok := union(m[k]); ok {
			want[k] = []string{v.(string)}
		}
	}
	if v, ok := union(m["PackageMoniker"]); ok {
		for _, x := range v.([]any) {
			want["PackageMoniker"] = append(want["PackageMoniker"], x.(string))
		}
	}
	for k, v := range m["fields"].(map[string]any) {
		if k == "" || reservedField([]byte(k), false) {
			continue
		}
		want[k] = append(want[k], v.(string))
	}
	got := map[string][]string{}
	for _, f := range ev.Fields {
		got[f.Name] = append([]string(nil), f.Values...)
	}
	if len(want) == 0 {
		want = got // both empty
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoder %q, goavro %q", got, want)
	}
	tv, _ := union(m["_time"])
	if tm, err := ParseTime(tv.(string)); err != nil || !tm.Equal(ev.Time) {
		t.Fatalf("time %v, goavro %q", ev.Time, tv)
	}
}

func appendInt(v int64) []byte {
	if v < 0 {
		return appendUint([]byte{'-'}, uint64(-(v+1))+1)
	}
	return appendUint(nil, uint64(v))
}

func FuzzDecodeAuto(f *testing.F) {
	ds := fuzzDecoders(f, FormatAuto)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, d := range ds {
			checkDecodeInvariant(t, d, data)
		}
	})
}

func FuzzParseTime(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTime(s)
		if err != nil {
			if !got.IsZero() {
				t.Fatalf("error %v with time %v", err, got)
			}
			return
		}
		if got.IsZero() || got.Location() != time.UTC || got.Year() < 1 || got.Year() > 9999 {
			t.Fatalf("ParseTime(%q) = %v", s, got)
		}
		// The result writes back to text that parses to the same instant,
		// both as RFC 3339 and as epoch seconds.
		if back, err := ParseTime(got.Format(time.RFC3339Nano)); err != nil || !back.Equal(got) {
			t.Fatalf("RFC 3339 round trip of %q: %v, %v", s, back, err)
		}
		epoch := epochText(got)
		if back, err := ParseEpoch(epoch); err != nil || !back.Equal(got) {
			t.Fatalf("epoch round trip of %q via %s: %v, %v", s, epoch, back, err)
		}
		// Where Go's RFC 3339 parser also accepts the text, both agree.
		if std, err := time.Parse(time.RFC3339Nano, s); err == nil && !std.Equal(got) {
			t.Fatalf("ParseTime(%q) = %v, time.Parse %v", s, got, std)
		}
	})
}

// epochText writes t as exact epoch seconds ("-1.25", not "-2.75").
func epochText(t time.Time) string {
	sec, ns, sign := t.Unix(), int64(t.Nanosecond()), ""
	if sec < 0 {
		sign, sec = "-", -sec
		if ns > 0 {
			sec, ns = sec-1, 1e9-ns
		}
	}
	frac := appendUint(nil, uint64(ns))
	return sign + string(appendUint(nil, uint64(sec))) + "." + strings.Repeat("0", 9-len(frac)) + string(frac)
}
