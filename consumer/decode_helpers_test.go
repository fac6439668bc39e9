package consumer

import (
	"errors"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/msixguard/msixguard/event"
)

// decodeCase is one table row: a record, the options, and either the event
// it gives or the DecodeError reason.
type decodeCase struct {
	name   string
	in     string
	fields []string            // DecoderOptions.Fields; nil keeps all
	time   string              // wanted event time, RFC 3339 in UTC
	want   map[string][]string // wanted fields, exactly
	reason string              // wanted DecodeError.Reason; "" for success
	format Format              // wanted DecodeError.Format; "" = the decoder's
}

func runDecodeCases(t *testing.T, f Format, cases []decodeCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := NewDecoder(f, DecoderOptions{Fields: c.fields})
			if err != nil {
				t.Fatal(err)
			}
			// A used Event, to check that Decode resets it.
			ev := event.Event{Time: time.Unix(1, 0)}
			ev.Add("stale", "x")
			err = d.Decode([]byte(c.in), &ev)
			if c.reason != "" {
				var de *DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("err = %v (%T), want DecodeError %s", err, err, c.reason)
				}
				if de.Reason != c.reason {
					t.Fatalf("reason = %s (%v), want %s", de.Reason, de, c.reason)
				}
				wantFormat := c.format
				if wantFormat == "" {
					wantFormat = f
				}
				if de.Format != wantFormat {
					t.Errorf("format = %s, want %s", de.Format, wantFormat)
				}
				if de.Detail == "" {
					t.Error("empty Detail")
				}
				if len(ev.Fields) != 0 {
					t.Errorf("failed decode left fields %v", ev.Fields)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got := ev.Time.Format(time.RFC3339Nano); got != c.time {
				t.Errorf("time = %s, want %s", got, c.time)
			}
			if ev.Time.Location() != time.UTC {
				t.Errorf("time zone = %v, want UTC", ev.Time.Location())
			}
			if got := fieldMap(t, &ev); !reflect.DeepEqual(got, c.want) {
				t.Errorf("fields:\n got %q\nwant %q", got, c.want)
			}
		})
	}
}

// fieldMap returns the fields of ev, failing on a duplicated or empty name.
func fieldMap(t testing.TB, ev *event.Event) map[string][]string {
	t.Helper()
	m := map[string][]string{}
	for _, f := range ev.Fields {
		if f.Name == "" {
			t.Errorf("field with empty name: %q", f.Values)
		}
		if _, dup := m[f.Name]; dup {
			t.Errorf("field %q listed twice", f.Name)
		}
		m[f.Name] = append([]string(nil), f.Values...)
	}
	return m
}

// checkDecodeInvariant is what every fuzz target asserts: Decode returns
// either an event with a UTC time and valid UTF-8 fields, or a
// *DecodeError with a known reason and an empty event; and decoding the
// same bytes again gives the same result.
func checkDecodeInvariant(t *testing.T, d Decoder, data []byte) {
	var ev event.Event
	ev.Add("stale", "value")
	err := d.Decode(data, &ev)
	if err != nil {
		var de *DecodeError
		if !errors.As(err, &de) {
			t.Fatalf("err %v is %T, not *DecodeError", err, err)
		}
		if !knownReasons[de.Reason] || de.Format == "" || de.Detail == "" ||
			len(de.Detail) > maxDetail+len("…") || !utf8.ValidString(de.Detail) {
			t.Fatalf("bad DecodeError %#v", de)
		}
		if len(ev.Fields) != 0 || !ev.Time.IsZero() {
			t.Fatalf("failed decode left %v %v", ev.Time, ev.Fields)
		}
	} else {
		if ev.Time.IsZero() || ev.Time.Location() != time.UTC {
			t.Fatalf("decoded event has time %v", ev.Time)
		}
		for _, f := range ev.Fields {
			if f.Name == "" || !utf8.ValidString(f.Name) {
				t.Fatalf("bad field name %q", f.Name)
			}
			for _, v := range f.Values {
				if !utf8.ValidString(v) {
					t.Fatalf("field %s: invalid UTF-8 %q", f.Name, v)
				}
			}
		}
	}
	first := ev.Clone()
	err2 := d.Decode(data, &ev)
	if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
		t.Fatalf("second decode: %v, first: %v", err2, err)
	}
	if !first.Time.Equal(ev.Time) || !reflect.DeepEqual(first.Fields, ev.Clone().Fields) {
		t.Fatalf("second decode differs: %v vs %v", ev.Fields, first.Fields)
	}
}

var knownReasons = map[string]bool{
	ReasonEmptyRecord: true, ReasonUnknownFormat: true, ReasonInvalidJSON: true,
	ReasonInvalidXML: true, ReasonXMLTooDeep: true, ReasonXMLTooLarge: true,
	ReasonNotAnEvent: true, ReasonMissingTime: true, ReasonBadTime: true,
	ReasonBadFieldType: true, ReasonInvalidUTF8: true, ReasonTooManyFields: true,
	ReasonAvroBadMagic: true, ReasonAvroUnknownSchema: true, ReasonAvroDecode: true,
}
