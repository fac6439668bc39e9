package consumer

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/msixguard/msixguard/event"
)

// jsonBothWays decodes data with the fast path alone and with the fastjson
// path alone, each on a fresh decoder of format f.
func jsonBothWays(t *testing.T, f Format, opts DecoderOptions, data []byte) (fastOK bool, fast event.Event, slowErr error, slow event.Event) {
	t.Helper()
	v := trimRecord(data)
	if len(v) == 0 {
		return false, fast, nil, slow
	}
	df, ds := testDecoders(t, f, opts)
	var fd, sd *jsonDecoder
	switch d := df.(type) {
	case *jsonDecoder:
		fd, sd = d, ds.(*jsonDecoder)
	case *autoDecoder:
		fd, sd = &d.json, &ds.(*autoDecoder).json
	default:
		t.Fatalf("format %s: %T", f, df)
	}
	fd.b.reset()
	if fastOK = fd.fastNormalized(v); fastOK {
		fd.b.flush(&fast)
		fast.Time = fd.b.time
	}
	sf := f
	if sf == FormatAuto {
		sf = FormatJSON
	}
	sd.b.reset()
	slowErr = sd.decodeTree(v, &slow, sf)
	return fastOK, fast, slowErr, slow
}

// jsonFastSeeds are records at the fast path's edges.
var jsonFastSeeds = []string{
	`{"_time":1714560900,"EventCode":855,"dvc":"H","user_id":"S-1-5-18","PackageMoniker":"A_1_x64__abc"}`,
	`{"_time":"2024-05-01T10:51:07Z","EventID":"0855","Computer":"h","UserID":"u","x":true,"y":false,"z":null,"n":-1.5e3}`,
	`{"_time":null,"TimeCreated":"2024-05-01T10:51:07Z","EventCode":855,"EventCode":856,"dvc":null,"dvc":"h"}`,
	`{"@timestamp":"2024-05-01T10:51:07Z","EventCode":855}`,
	`{"_time":"2024-05-01T10:51:07Z","a":"x\"y","b":"c:\\\\d","EventCode":855}`,
	`{"_time":"2024-05-01T10:51:07Z","dvc":"h\u00e9","EventCode":"855"}`,
	` { "_time" : "2024-05-01T10:51:07Z" , "EventCode" : 855 } `,
	`{"_time":"2024-05-01T10:51:07Z","EventCode":855,"a":[1],"b":{}}`,
	`{"_time":"2024-05-01T10:51:07Z","":"e","EventCode":855}`,
	`{}`, `{"_time":"x"}`, `{"_time":"2024-05-01T10:51:07Z",}`, `{"_time":"2024-05-01T10:51:07Z"}x`,
}

// testDecoders returns two decoders of f with opts, made once per test
// binary (decoders reset themselves for every record).
func testDecoders(t *testing.T, f Format, opts DecoderOptions) (Decoder, Decoder) {
	key := string(f) + "|" + strings.Join(opts.Fields, ",")
	if opts.Fields == nil {
		key += "|all"
	}
	if d, ok := decoderCache[key]; ok {
		return d[0], d[1]
	}
	df, err := NewDecoder(f, opts)
	if err != nil {
		t.Fatal(err)
	}
	ds, _ := NewDecoder(f, opts)
	decoderCache[key] = [2]Decoder{df, ds}
	return df, ds
}

var decoderCache = map[string][2]Decoder{}

// FuzzJSONFastPath is the differential test of the fast path: whatever it
// accepts, the fastjson path accepts too, with the same time and the same
// fields in the same order; for normalized and auto-detected JSON, keeping
// every field or the rules' fields.
func FuzzJSONFastPath(f *testing.F) {
	for _, rec := range realJSONRecords(f) {
		f.Add(rec)
	}
	for _, s := range jsonFastSeeds {
		f.Add([]byte(s))
	}
	optss := []DecoderOptions{{}, {Fields: []string{"EventCode", "dvc", "user_id", "PackageMoniker", "HasFullTrust", "Channel"}}}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkJSONFastPath(t, data, optss)
	})
}

// checkJSONFastPath fails t when the fast path takes data and the
// reference rejects it or reads it differently.
func checkJSONFastPath(t *testing.T, data []byte, optss []DecoderOptions) {
	t.Helper()
	for _, format := range []Format{FormatJSON, FormatAuto} {
		for _, opts := range optss {
			ok, fast, err, slow := jsonBothWays(t, format, opts, data)
			if !ok {
				continue
			}
			if err != nil {
				t.Fatalf("%s: fast path accepted what fastjson's path rejects (%v): %q", format, err, data)
			}
			if !fast.Time.Equal(slow.Time) || !reflect.DeepEqual(fast.Fields, slow.Fields) {
				t.Fatalf("%s: fast path and fastjson's path differ on %q:\nfast %v %v\nslow %v %v", format, data, fast.Time, fast.Fields, slow.Time, slow.Fields)
			}
		}
	}
}

// TestJSONFastPathEdits: every one-byte insertion and replacement of a
// byte that matters to JSON's grammar, at every position of the seeds and
// of some real records, keeps the fast path honest. Random fuzzing is slow
// to find such single-byte differences (a form feed taken for space, say).
func TestJSONFastPathEdits(t *testing.T) {
	bases := append([]string(nil), jsonFastSeeds...)
	for _, r := range realJSONRecords(t)[:8] {
		bases = append(bases, string(r))
	}
	var special []byte
	for c := 0; c <= 0x20; c++ {
		special = append(special, byte(c))
	}
	special = append(special, '\\', '"', ',', ':', '{', '}', '[', ']', '-', '+', '.', 'e', '0', 'u', 't', 'n', 0x7f, 0xc3, 0xff)
	optss := []DecoderOptions{{}, {Fields: []string{"EventCode", "dvc", "user_id", "PackageMoniker"}}}
	buf := make([]byte, 0, 1024)
	for _, base := range bases {
		for i := 0; i <= len(base); i++ {
			for _, c := range special {
				buf = append(append(append(buf[:0], base[:i]...), c), base[i:]...)
				checkJSONFastPath(t, buf, optss)
				if i < len(base) {
					buf = append(append(append(buf[:0], base[:i]...), c), base[i+1:]...)
					checkJSONFastPath(t, buf, optss)
				}
			}
			if i < len(base) {
				buf = append(append(buf[:0], base[:i]...), base[i+1:]...)
				checkJSONFastPath(t, buf, optss)
			}
		}
	}
}

// realJSONRecords are the normalized JSON records of the conformance
// vectors.
func realJSONRecords(testing.TB) [][]byte { return conformanceLines("events.ndjson") }

// TestJSONFastPathTakesRealRecords: the conformance records that decode
// and are flat take the fast path, with the reference's result.
func TestJSONFastPathTakesRealRecords(t *testing.T) {
	recs := realJSONRecords(t)
	if len(recs) < 100 {
		t.Fatalf("only %d records", len(recs))
	}
	taken := 0
	for i, rec := range recs {
		ok, fast, err, slow := jsonBothWays(t, FormatAuto, DecoderOptions{}, rec)
		if err != nil {
			if ok {
				t.Errorf("record %d: the fast path accepted a record the reference rejects (%v)", i, err)
			}
			continue // a record meant to fail: the reference's business
		}
		if !ok {
			if bytes.ContainsAny(rec[1:], "[{") {
				continue // a multivalue field or a nested object: declined by design
			}
			t.Errorf("record %d: the fast path declined a flat decodable record: %.160q", i, rec)
			continue
		}
		taken++
		if !fast.Time.Equal(slow.Time) || !reflect.DeepEqual(fast.Fields, slow.Fields) {
			t.Errorf("record %d differs:\nfast %v %v\nslow %v %v", i, fast.Time, fast.Fields, slow.Time, slow.Fields)
		}
	}
	t.Logf("%d of %d records took the fast path", taken, len(recs))
}

// TestJSONFastPathDeclines: what the fast path leaves to fastjson.
func TestJSONFastPathDeclines(t *testing.T) {
	const tm = `"_time":"2024-05-01T10:51:07Z"`
	for name, rec := range map[string]string{
		"nested object":       `{` + tm + `,"a":{"b":1}}`,
		"array":               `{` + tm + `,"PackageMoniker":["a","b"]}`,
		"escaped key":         `{` + tm + `,"a\"b":1}`,
		"escaped kept string": `{` + tm + `,"dvc":"a\\nb"}`,
		"maybe ECS":           `{"@timestamp":"2024-05-01T10:51:07Z","EventCode":855}`,
		"loose number":        `{` + tm + `,"a":01}`,
		"plus number":         `{` + tm + `,"a":+1}`,
		"trailing comma":      `{` + tm + `,}`,
		"trailing bytes":      `{` + tm + `}x`,
		"bad time":            `{"_time":"yesterday"}`,
		"no time":             `{"EventCode":855}`,
		"invalid UTF-8 kept":  `{` + tm + `,"dvc":"` + "\xff" + `"}`,
		"not an object":       `[1]`,
		"unterminated":        `{` + tm + `,"a":"b}`,
	} {
		ok, _, _, _ := jsonBothWays(t, FormatAuto, DecoderOptions{}, []byte(rec))
		if ok {
			t.Errorf("%s: the fast path took %q", name, rec)
		}
	}
	// A string with escapes in a field nobody keeps is fine.
	rec := `{` + tm + `,"EventCode":855,"Image":"C:\\Windows\\x.exe"}`
	if ok, fast, _, slow := jsonBothWays(t, FormatJSON, DecoderOptions{Fields: []string{"EventCode"}}, []byte(rec)); !ok || !reflect.DeepEqual(fast.Fields, slow.Fields) {
		t.Errorf("escape in a skipped field: fast path took it %v, fields %v vs %v", ok, fast.Fields, slow.Fields)
	}
}
