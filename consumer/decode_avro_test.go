package consumer

import (
	"encoding/binary"
	"reflect"
	"strings"
	"testing"

	"github.com/linkedin/goavro/v2"

	"github.com/msixguard/msixguard/event"
	"github.com/msixguard/msixguard/schemas"
)

// avroNative is a record as goavro takes it; nil fields stay null.
type avroNative struct {
	time     any // string or nil
	code     any // int64 or nil
	dvc, uid any // string or nil
	monikers []string
	fields   map[string]string
}

func (n avroNative) native() map[string]any {
	opt := func(branch string, v any) any {
		if v == nil {
			return nil
		}
		return goavro.Union(branch, v)
	}
	m := map[string]any{
		"_time": opt("string", n.time), "EventCode": opt("long", n.code),
		"dvc": opt("string", n.dvc), "user_id": opt("string", n.uid),
	}
	if n.monikers != nil {
		items := make([]any, len(n.monikers))
		for i, s := range n.monikers {
			items[i] = s
		}
		m["PackageMoniker"] = goavro.Union("array", items)
	}
	fields := map[string]any{}
	for k, v := range n.fields {
		fields[k] = v
	}
	m["fields"] = fields
	return m
}

func encodeAvro(t testing.TB, id uint32, n avroNative) []byte {
	t.Helper()
	codec, err := schemas.EventCodec()
	if err != nil {
		t.Fatal(err)
	}
	b, err := schemas.EncodeConfluent(codec, id, n.native())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// avroBytes builds a raw record: header for id 1, then the given parts
// (ints are written as Avro longs, strings length-prefixed, []byte raw).
func avroBytes(parts ...any) []byte {
	b := schemas.AppendConfluentHeader(nil, 1)
	for _, p := range parts {
		switch v := p.(type) {
		case int:
			b = binary.AppendVarint(b, int64(v)) // zigzag, as Avro
		case string:
			b = binary.AppendVarint(b, int64(len(v)))
			b = append(b, v...)
		case []byte:
			b = append(b, v...)
		}
	}
	return b
}

func TestDecodeAvro(t *testing.T) {
	full := avroNative{
		time: "2024-05-01T10:51:07.1234567Z", code: int64(855), dvc: "WS-0142", uid: sid,
		monikers: []string{moniker, "B_1.0.0.0_x64__abcdefghijk12"},
		fields:   map[string]string{"Channel": "Ops", "HasFullTrust": "true", "dvc": "ignored", "": "no name"},
	}
	cases := []struct {
		name   string
		rec    []byte
		opts   DecoderOptions
		time   string
		want   map[string][]string
		reason string
	}{
		{
			name: "full record", rec: encodeAvro(t, 1, full),
			time: "2024-05-01T10:51:07.1234567Z",
			want: map[string][]string{
				"EventCode": {"855"}, "dvc": {"WS-0142"}, "user_id": {sid},
				"PackageMoniker": {moniker, "B_1.0.0.0_x64__abcdefghijk12"},
				"Channel":        {"Ops"}, "HasFullTrust": {"true"},
			},
		},
		{
			name: "field filter", rec: encodeAvro(t, 1, full),
			opts: DecoderOptions{Fields: []string{"EventCode", "HasFullTrust"}},
			time: "2024-05-01T10:51:07.1234567Z",
			want: map[string][]string{"EventCode": {"855"}, "HasFullTrust": {"true"}},
		},
		{
			name: "nulls and epoch time", rec: encodeAvro(t, 1, avroNative{time: "1714561200.75"}),
			time: "2024-05-01T11:00:00.75Z", want: map[string][]string{},
		},
		{
			name: "negative code, empty array, PackageMoniker in fields",
			rec:  encodeAvro(t, 1, avroNative{time: "2024-05-01T10:51:07Z", code: int64(-9223372036854775808), monikers: []string{}, fields: map[string]string{"PackageMoniker": "m"}}),
			time: "2024-05-01T10:51:07Z",
			want: map[string][]string{"EventCode": {"-9223372036854775808"}, "PackageMoniker": {"m"}},
		},
		{
			name: "other accepted schema id", rec: encodeAvro(t, 42, avroNative{time: "2024-05-01T10:51:07Z"}),
			opts: DecoderOptions{AvroSchemaIDs: []int{7, 42}},
			time: "2024-05-01T10:51:07Z", want: map[string][]string{},
		},
		{
			// Negative block counts carry a byte size (goavro never writes
			// them, other encoders do).
			name: "negative block count",
			rec:  avroBytes(1, "2024-05-01T10:51:07Z", 0, 0, 0, 1, -2, 4, "a", "b", 0, -1, 6, "k", "v", 0),
			time: "2024-05-01T10:51:07Z",
			want: map[string][]string{"PackageMoniker": {"a", "b"}, "k": {"v"}},
		},
		{name: "empty", rec: nil, reason: ReasonEmptyRecord},
		{name: "bad magic", rec: append([]byte{1}, encodeAvro(t, 1, full)[1:]...), reason: ReasonAvroBadMagic},
		{name: "short header", rec: []byte{0, 0, 0}, reason: ReasonAvroDecode},
		{name: "unknown schema id", rec: encodeAvro(t, 2, full), reason: ReasonAvroUnknownSchema},
		{name: "truncated", rec: encodeAvro(t, 1, full)[:40], reason: ReasonAvroDecode},
		{name: "header only", rec: avroBytes(), reason: ReasonAvroDecode},
		{name: "trailing byte", rec: append(encodeAvro(t, 1, full), 0), reason: ReasonAvroDecode},
		{name: "bad union branch", rec: avroBytes(2), reason: ReasonAvroDecode},
		{name: "negative string length", rec: avroBytes(1, -5), reason: ReasonAvroDecode},
		{name: "varint too long", rec: avroBytes([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}), reason: ReasonAvroDecode},
		{
			// goavro would try make([]any, 0, 1<<30) here: 16 GiB.
			name: "hostile array count", rec: avroBytes(1, "2024-05-01T10:51:07Z", 0, 0, 0, 1, 1<<30, "a"),
			reason: ReasonAvroDecode,
		},
		{
			name: "hostile map count", rec: avroBytes(1, "2024-05-01T10:51:07Z", 0, 0, 0, 0, 1<<30, "k", "v"),
			reason: ReasonAvroDecode,
		},
		{name: "null time", rec: encodeAvro(t, 1, avroNative{code: int64(855)}), reason: ReasonMissingTime},
		{name: "bad time", rec: encodeAvro(t, 1, avroNative{time: "now"}), reason: ReasonBadTime},
		{name: "invalid UTF-8", rec: encodeAvro(t, 1, avroNative{time: "2024-05-01T10:51:07Z", dvc: "\xff"}), reason: ReasonInvalidUTF8},
		{
			name:   "too many values",
			rec:    avroBytes(1, "2024-05-01T10:51:07Z", 0, 0, 0, 1, maxFieldValues+1, []byte(strings.Repeat("\x00", maxFieldValues+1)), 0, 0),
			reason: ReasonTooManyFields,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := NewDecoder(FormatAvro, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			var ev event.Event
			err = d.Decode(c.rec, &ev)
			if c.reason != "" {
				de, ok := err.(*DecodeError)
				if !ok || de.Reason != c.reason || de.Format != FormatAvro {
					t.Fatalf("err = %v, want %s", err, c.reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := ev.Time.Format("2006-01-02T15:04:05.999999999Z07:00"); got != c.time {
				t.Errorf("time %s, want %s", got, c.time)
			}
			if got := fieldMap(t, &ev); !reflect.DeepEqual(got, c.want) {
				t.Errorf("fields\n got %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestNewAvroDecoderOptions(t *testing.T) {
	for _, ids := range [][]int{{-1}, {1 << 33}} {
		if _, err := NewDecoder(FormatAvro, DecoderOptions{AvroSchemaIDs: ids}); err == nil {
			t.Errorf("ids %v accepted", ids)
		}
	}
}

// A hostile count must be refused before any work proportional to it.
func TestDecodeAvroHostileCountIsCheap(t *testing.T) {
	d, err := NewDecoder(FormatAvro, DecoderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec := avroBytes(1, "2024-05-01T10:51:07Z", 0, 0, 0, 1, 1<<40)
	var ev event.Event
	allocs := testing.AllocsPerRun(10, func() { _ = d.Decode(rec, &ev) })
	if allocs > 5 {
		t.Errorf("%v allocations for a hostile record", allocs)
	}
}
