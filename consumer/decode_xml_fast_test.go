package consumer

import (
	"bufio"
	"bytes"
	"os"
	"reflect"
	"testing"

	"github.com/msixguard/msixguard/event"
)

// xmlBothWays decodes data with the fast path alone and with the
// encoding/xml walk alone.
func xmlBothWays(t *testing.T, opts DecoderOptions, data []byte) (fastOK bool, fast event.Event, slowErr error, slow event.Event) {
	t.Helper()
	v := trimRecord(data)
	if len(v) == 0 {
		return false, fast, nil, slow
	}
	df, err := NewDecoder(FormatXML, opts)
	if err != nil {
		t.Fatal(err)
	}
	ds, _ := NewDecoder(FormatXML, opts)
	f, s := df.(*xmlDecoder), ds.(*xmlDecoder)
	f.b.reset()
	fastOK = f.fast.decode(f, v, &fast)
	s.b.reset()
	slowErr = s.decodeSlow(v, &slow)
	return fastOK, fast, slowErr, slow
}

// FuzzXMLFastPath is the differential test of the fast path: whatever it
// accepts, the encoding/xml walk accepts too, with the same time and the
// same fields in the same order.
func FuzzXMLFastPath(f *testing.F) {
	for _, c := range xmlCases {
		f.Add([]byte(c.in))
	}
	for _, rec := range realXMLRecords(f) {
		f.Add(rec)
	}
	optss := []DecoderOptions{{}, {Fields: []string{"EventCode", "dvc", "PackageMoniker", "HasFullTrust"}}}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, opts := range optss {
			ok, fast, err, slow := xmlBothWays(t, opts, data)
			if !ok {
				continue
			}
			if err != nil {
				t.Fatalf("fast path accepted what encoding/xml rejects (%v): %q", err, data)
			}
			if !fast.Time.Equal(slow.Time) || !reflect.DeepEqual(fast.Fields, slow.Fields) {
				t.Fatalf("fast path and encoding/xml differ on %q:\nfast %v %v\nslow %v %v", data, fast.Time, fast.Fields, slow.Time, slow.Fields)
			}
		}
	})
}

// realXMLRecords are the XmlWinEventLog records of the upstream samples and
// the conformance vectors.
func realXMLRecords(tb testing.TB) [][]byte {
	var out [][]byte
	for _, file := range []string{
		"testdata/upstream/security_content_data_sources_appxdeployment_server_855_example_log.xml",
		"testdata/upstream/security_content_data_sources_appxdeployment_server_400_example_log.xml",
	} {
		b, err := os.ReadFile(file)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return append(out, conformanceLines("events.xml")...)
}

// conformanceLines are the non-blank lines of file in every conformance
// case that has it: one record each.
func conformanceLines(file string) [][]byte {
	var out [][]byte
	cases, _ := os.ReadDir("testdata/conformance")
	for _, c := range cases {
		b, err := os.ReadFile("testdata/conformance/" + c.Name() + "/" + file)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if len(bytes.TrimSpace(sc.Bytes())) > 0 {
				out = append(out, append([]byte(nil), sc.Bytes()...))
			}
		}
	}
	return out
}

// TestXMLFastPathTakesRealRecords: the speed-up applies to the records that
// matter. Every real sample and conformance record goes through the fast
// path, with the walk's result.
func TestXMLFastPathTakesRealRecords(t *testing.T) {
	recs := realXMLRecords(t)
	if len(recs) < 10 {
		t.Fatalf("only %d records", len(recs))
	}
	for i, rec := range recs {
		ok, fast, err, slow := xmlBothWays(t, DecoderOptions{}, rec)
		if err != nil {
			continue // a conformance record meant to fail: the walk's business
		}
		if !ok {
			t.Errorf("record %d: the fast path declined a real record: %.120q", i, rec)
			continue
		}
		if !fast.Time.Equal(slow.Time) || !reflect.DeepEqual(fast.Fields, slow.Fields) {
			t.Errorf("record %d differs:\nfast %v %v\nslow %v %v", i, fast.Time, fast.Fields, slow.Time, slow.Fields)
		}
	}
}

// TestXMLFastPathDeclines: what the fast path leaves to encoding/xml.
func TestXMLFastPathDeclines(t *testing.T) {
	base := func(data string) string {
		return xmlEvent(xmlTime, `<EventData><Data Name='X'>`+data+`</Data></EventData>`)
	}
	cases := map[string]string{
		"declaration":        `<?xml version='1.0'?>` + xmlEvent(xmlTime, ""),
		"comment":            xmlEvent(xmlTime, "<!-- c -->"),
		"CDATA":              base("<![CDATA[x]]>"),
		"CR":                 base("a\r\nb"),
		"prefix":             `<e:Event xmlns:e='urn:e'><e:System>` + xmlTime + `</e:System></e:Event>`,
		"named entity":       base("&nbsp;"),
		"upper-case X":       base("&#X41;"),
		"NUL reference":      base("&#0;"),
		"U+FFFE":             base("\uFFFE"),
		"non-ASCII name":     xmlEvent(xmlTime, "<EventData><Dätä Name='X'>1</Dätä></EventData>"),
		"]]> in text":        base("a]]>b"),
		"unquoted attribute": xmlEvent(`<TimeCreated SystemTime=2024-05-01T10:51:07Z/>`, ""),
		"text outside":       "x" + xmlEvent(xmlTime, ""),
		"mismatched end":     `<Event><System>` + xmlTime + `</Computer></Event>`,
		"bad time":           xmlEvent(`<TimeCreated SystemTime='yesterday'/>`, ""),
	}
	for name, in := range cases {
		if ok, _, _, _ := xmlBothWays(t, DecoderOptions{}, []byte(in)); ok {
			t.Errorf("%s: the fast path took %q", name, in)
		}
	}
}
