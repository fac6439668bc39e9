package schemas

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/linkedin/goavro/v2"
)

func TestEventCodec(t *testing.T) {
	c, err := EventCodec()
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"name":"` + EventSchemaName + `","type":"record"`; !strings.HasPrefix(c.CanonicalSchema(), want) {
		t.Errorf("canonical schema %s does not start with %s", c.CanonicalSchema(), want)
	}
	if EventSchema() == "" || !strings.Contains(EventSchema(), `"doc"`) {
		t.Error("EventSchema does not return the documented event.avsc")
	}
	// Every field is optional: the empty record encodes, and decodes to the
	// defaults.
	empty := map[string]any{}
	bin, err := c.BinaryFromNative(nil, empty)
	if err != nil {
		t.Fatalf("record with every field defaulted: %v", err)
	}
	back, _, err := c.NativeFromBinary(bin)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"_time": nil, "EventCode": nil, "dvc": nil, "user_id": nil, "PackageMoniker": nil,
		"fields": map[string]any{},
	}
	if !reflect.DeepEqual(back, want) {
		t.Errorf("defaults = %v, want %v", back, want)
	}
}

func TestConfluentRoundTrip(t *testing.T) {
	c, err := EventCodec()
	if err != nil {
		t.Fatal(err)
	}
	native := map[string]any{
		"_time":          goavro.Union("string", "2024-05-01T10:51:07.1234567Z"),
		"EventCode":      goavro.Union("long", int64(855)),
		"dvc":            goavro.Union("string", "WS-0142"),
		"PackageMoniker": goavro.Union("array", []any{" addPackageList: A_1.0.0.0_x64__abcdefghijk12"}),
		"fields":         map[string]any{"Channel": "Microsoft-Windows-AppXDeploymentServer/Operational"},
	}
	rec, err := EncodeConfluent(c, 0x01020304, native)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rec[:5], []byte{0, 1, 2, 3, 4}) {
		t.Fatalf("header % x", rec[:5])
	}
	id, payload, err := SplitConfluent(rec)
	if err != nil || id != 0x01020304 {
		t.Fatalf("SplitConfluent: %d, %v", id, err)
	}
	back, rest, err := c.NativeFromBinary(payload)
	if err != nil || len(rest) != 0 {
		t.Fatalf("decode: %v, %d bytes left", err, len(rest))
	}
	if got := back.(map[string]any)["dvc"]; !reflect.DeepEqual(got, goavro.Union("string", "WS-0142")) {
		t.Errorf("dvc = %v", got)
	}
	if _, err := EncodeConfluent(c, 1, map[string]any{"EventCode": "not a long"}); err == nil {
		t.Error("encoded a bad native")
	}
}

func TestSplitConfluentErrors(t *testing.T) {
	for _, c := range []struct {
		in   []byte
		want error
	}{
		{nil, ErrShortRecord},
		{[]byte{0, 0, 0, 1}, ErrShortRecord},
		{[]byte{1, 0, 0, 0, 1}, ErrBadMagic},
		{[]byte("{}"), ErrBadMagic},
	} {
		if _, _, err := SplitConfluent(c.in); !errors.Is(err, c.want) {
			t.Errorf("SplitConfluent(% x) = %v, want %v", c.in, err, c.want)
		}
	}
	if _, p, err := SplitConfluent([]byte{0, 0, 0, 0, 1}); err != nil || len(p) != 0 {
		t.Errorf("empty payload: %v %v", p, err)
	}
}
