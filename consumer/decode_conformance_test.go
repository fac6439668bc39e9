package consumer

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/msixguard/msixguard/event"
)

// The conformance vectors (copied from shared/data/conformance) give each
// case as normalized JSON, XML and ECS. Every form must decode without error
// and give the same events, compared at the precision both forms carry:
// XML SystemTime has 7 fraction digits but its writers truncate to
// microseconds, ECS @timestamp has milliseconds.
func TestConformanceFormsAgree(t *testing.T) {
	dirs, err := filepath.Glob("testdata/conformance/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no conformance cases: %v", err)
	}
	forms := []struct {
		file   string
		format Format
	}{
		{"events.ndjson", FormatJSON},
		{"events.xml", FormatXML},
		{"events.ecs.ndjson", FormatECS},
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			decoded := map[Format][]event.Event{}
			for _, form := range forms {
				lines := readLines(t, filepath.Join(dir, form.file))
				if lines == nil {
					continue
				}
				decoded[form.format] = decodeAll(t, form.format, lines)
				// auto must give the same events as the explicit format.
				if auto := decodeAll(t, FormatAuto, lines); !reflect.DeepEqual(auto, decoded[form.format]) {
					t.Errorf("%s: auto differs from %s", form.file, form.format)
				}
			}
			ref := decoded[FormatJSON]
			if len(ref) == 0 {
				t.Fatal("no events.ndjson")
			}
			for _, other := range []struct {
				f         Format
				precision time.Duration
			}{{FormatXML, time.Microsecond}, {FormatECS, time.Millisecond}} {
				evs, ok := decoded[other.f]
				if !ok {
					continue
				}
				if len(evs) != len(ref) {
					t.Fatalf("%s has %d events, json %d", other.f, len(evs), len(ref))
				}
				for i := range ref {
					compareEvents(t, other.f, i, &ref[i], &evs[i], other.precision)
				}
			}
			// XML and ECS carry the same System fields beyond the JSON four.
			if x, e := decoded[FormatXML], decoded[FormatECS]; x != nil && e != nil {
				for i := range x {
					if !reflect.DeepEqual(fieldMap(t, &x[i]), fieldMap(t, &e[i])) {
						t.Errorf("event %d: xml %v, ecs %v", i, x[i].Fields, e[i].Fields)
					}
				}
			}
			// And the same events survive Avro: encode each JSON event with
			// goavro, decode it with the Avro decoder.
			for i := range ref {
				rec := encodeEventAvro(t, &ref[i])
				got := decodeAll(t, FormatAvro, [][]byte{rec})
				compareEvents(t, FormatAvro, i, &ref[i], &got[0], 1)
			}
		})
	}
}

func compareEvents(t *testing.T, f Format, i int, want, got *event.Event, precision time.Duration) {
	t.Helper()
	if w, g := want.Time.Truncate(precision), got.Time.Truncate(precision); !w.Equal(g) {
		t.Errorf("%s event %d: time %v, json %v", f, i, g, w)
	}
	for _, name := range slotNames {
		if w, g := nonEmpty(want.Values(name)), nonEmpty(got.Values(name)); !reflect.DeepEqual(w, g) {
			t.Errorf("%s event %d: %s = %q, json %q", f, i, name, g, w)
		}
	}
}

// nonEmpty drops empty values: JSON can say "dvc": "", XML only omits it,
// and rules treat both as missing.
func nonEmpty(vs []string) []string {
	var out []string
	for _, v := range vs {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

func readLines(t testing.TB, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			lines = append(lines, append([]byte(nil), line...))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

func decodeAll(t testing.TB, f Format, records [][]byte) []event.Event {
	t.Helper()
	d, err := NewDecoder(f, DecoderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ev event.Event
	out := make([]event.Event, 0, len(records))
	for i, rec := range records {
		if err := d.Decode(rec, &ev); err != nil {
			t.Fatalf("%s record %d: %v", f, i+1, err)
		}
		out = append(out, ev.Clone())
	}
	return out
}

// encodeEventAvro writes a decoded event back as an Avro record.
func encodeEventAvro(t testing.TB, ev *event.Event) []byte {
	t.Helper()
	n := avroNative{time: ev.Time.Format(time.RFC3339Nano), fields: map[string]string{}}
	if v, ok := ev.Value(event.FieldDvc); ok {
		n.dvc = v
	}
	if v, ok := ev.Value(event.FieldUserID); ok {
		n.uid = v
	}
	if v, ok := ev.Value(event.FieldEventCode); ok {
		var code int64
		for _, c := range v {
			code = code*10 + int64(c-'0')
		}
		n.code = code
	}
	n.monikers = ev.Values(event.FieldPackageMoniker)
	return encodeAvro(t, 1, n)
}
