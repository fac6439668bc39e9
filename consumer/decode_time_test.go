package consumer

import (
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	cases := []struct {
		in, want string // want "" = error
	}{
		{"2024-05-01T10:51:07Z", "2024-05-01T10:51:07Z"},
		{"2024-05-01T10:51:07.1234567Z", "2024-05-01T10:51:07.1234567Z"},
		{"2024-05-01T10:51:07.123456789Z", "2024-05-01T10:51:07.123456789Z"},
		{"2024-05-01T10:51:07.1234567890Z", "2024-05-01T10:51:07.123456789Z"}, // 10th digit zero
		{"2024-05-01T10:51:07.1234567891Z", ""},                               // finer than 1 ns
		{"2024-05-01T10:51:07.5000000Z", "2024-05-01T10:51:07.5Z"},
		{"2024-05-01T07:45:00.5-04:00", "2024-05-01T11:45:00.5Z"},
		{"2024-05-01T13:30:00+02:00", "2024-05-01T11:30:00Z"},
		{"2024-05-01T00:30:00+05:45", "2024-04-30T18:45:00Z"},
		{"2024-05-01t10:51:07z", "2024-05-01T10:51:07Z"},
		{"2024-02-29T00:00:00Z", "2024-02-29T00:00:00Z"},
		{"2023-02-29T00:00:00Z", ""},
		{"2024-04-31T00:00:00Z", ""},
		{"2024-13-01T00:00:00Z", ""},
		{"2024-05-01T24:00:00Z", ""},
		{"2024-05-01T10:60:00Z", ""},
		{"2024-05-01T10:51:60Z", ""},
		{"2024-05-01T10:51:07", ""},                           // no zone
		{"2024-05-01T10:51:07.Z", ""},                         // empty fraction
		{"2024-05-01T10:51:07+0200", ""},                      // not RFC 3339
		{"2024-05-01T10:51:07+24:00", ""},                     // offset hour
		{"2024-05-01 10:51:07Z", ""},                          // space
		{"2024-05-01T10:51:07Zjunk", ""},                      // trailing
		{"0001-01-01T00:00:00Z", ""},                          // Go's zero time
		{"0000-12-31T23:00:00-02:00", "0001-01-01T01:00:00Z"}, // year 0 locally, year 1 in UTC
		{"9999-12-31T23:59:59-01:00", ""},                     // year 10000 in UTC
		{"9999-12-31T23:59:59.999999999Z", "9999-12-31T23:59:59.999999999Z"},
		{"1714561200", "2024-05-01T11:00:00Z"},
		{"1714561200.75", "2024-05-01T11:00:00.75Z"},
		{"1714561200.000000001", "2024-05-01T11:00:00.000000001Z"},
		{"1714561200.1234567890", "2024-05-01T11:00:00.123456789Z"},
		{"1714561200.1234567891", ""},
		{"1.71456120075e9", "2024-05-01T11:00:00.75Z"},
		{"171456120075E-2", "2024-05-01T11:00:00.75Z"},
		{"+1714561200", "2024-05-01T11:00:00Z"},
		{"01714561200", "2024-05-01T11:00:00Z"},
		{"-1.25", "1969-12-31T23:59:58.75Z"},
		{"0", "1970-01-01T00:00:00Z"},
		{"253402300799", "9999-12-31T23:59:59Z"},
		{"253402300800", ""},
		{"1e400", ""},
		{"0e999999", "1970-01-01T00:00:00Z"},
		{"1714561200.", ""},
		{".75", ""},
		{"1714561200.7.5", ""},
		{"0x10", ""},
		{"NaN", ""},
		{"", ""},
		{"-", ""},
		{"1e", ""},
	}
	for _, c := range cases {
		got, err := ParseTime(c.in)
		if c.want == "" {
			if err == nil {
				t.Errorf("ParseTime(%q) = %v, want error", c.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseTime(%q): %v", c.in, err)
			continue
		}
		if got.Location() != time.UTC {
			t.Errorf("ParseTime(%q) zone %v", c.in, got.Location())
		}
		if s := got.Format(time.RFC3339Nano); s != c.want {
			t.Errorf("ParseTime(%q) = %s, want %s", c.in, s, c.want)
		}
	}
}

// Epoch text is read exactly: a float64 would give 1714561200.75 as
// .750000000 only by luck and 1714561200.1 as .099999905.
func TestParseEpochExact(t *testing.T) {
	for frac := 0; frac < 1000; frac++ {
		in := "1714561200." + pad3(frac)
		got, err := ParseEpoch(in)
		if err != nil {
			t.Fatal(err)
		}
		if got.Unix() != 1714561200 || got.Nanosecond() != frac*1e6 {
			t.Fatalf("ParseEpoch(%s) = %d.%09d", in, got.Unix(), got.Nanosecond())
		}
	}
	if _, err := ParseEpoch("2024-05-01T10:51:07Z"); err == nil {
		t.Error("ParseEpoch accepted an RFC 3339 time")
	}
}

func pad3(n int) string {
	return string([]byte{byte('0' + n/100), byte('0' + n/10%10), byte('0' + n%10)})
}

func TestAppendEventCode(t *testing.T) {
	for in, want := range map[string]string{
		"855": "855", "0855": "855", "+855": "855", "855.0": "855", "8.55e2": "855",
		"8550e-1": "855", "-1": "-1", "-0": "0", "0": "0", "855.5": "855.5",
		"85x": "85x", "": "", " 855": " 855", "0x357": "0x357",
		"9223372036854775807":  "9223372036854775807",
		"9223372036854775808":  "9223372036854775808", // too big: kept as given
		"-9223372036854775807": "-9223372036854775807",
	} {
		if got := string(appendEventCode(nil, in)); got != want {
			t.Errorf("appendEventCode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValidJSONNumber(t *testing.T) {
	for in, want := range map[string]bool{
		"0": true, "-0": true, "855": true, "1714561200.75": true, "1e9": true,
		"1.5E-3": true, "-1.5e+3": true,
		"": false, "-": false, "01": false, "1.": false, ".5": false, "1e": false,
		"1.2.3": false, "+1": false, "nan": false, "inf": false, "1e+": false, "--1": false,
	} {
		if got := validJSONNumber([]byte(in)); got != want {
			t.Errorf("validJSONNumber(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{
		"auto": FormatAuto, "json": FormatJSON, "XML": FormatXML, " ecs ": FormatECS, "avro": FormatAvro,
	} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "yaml", "jsonl"} {
		if _, err := ParseFormat(in); err == nil {
			t.Errorf("ParseFormat(%q) accepted", in)
		}
		if _, err := NewDecoder(Format(in), DecoderOptions{}); err == nil {
			t.Errorf("NewDecoder(%q) accepted", in)
		}
	}
}
