package consumer

import (
	"strings"
	"testing"
)

const (
	sid     = "S-1-5-21-2568234075-4274264167-1034506908-1104"
	moniker = " addPackageList: ContosoCorp.LineOfBusiness_1.0.12.0_x64__z0p5db6dqbn1q"
)

var jsonCases = []decodeCase{
	{
		name: "all canonical fields",
		in:   `{"_time":"2024-05-01T10:51:07.1234567Z","EventCode":855,"dvc":"WS-0142","user_id":"` + sid + `","PackageMoniker":"` + moniker + `"}`,
		time: "2024-05-01T10:51:07.1234567Z",
		want: map[string][]string{"EventCode": {"855"}, "dvc": {"WS-0142"}, "user_id": {sid}, "PackageMoniker": {moniker}},
	},
	{
		name: "offset time",
		in:   `{"_time":"2024-05-01T07:45:00.5-04:00"}`,
		time: "2024-05-01T11:45:00.5Z", want: map[string][]string{},
	},
	{
		name: "epoch integer",
		in:   `{"_time":1714560900}`,
		time: "2024-05-01T10:55:00Z", want: map[string][]string{},
	},
	{
		name: "epoch fraction exact",
		in:   `{"_time":1714561200.75}`,
		time: "2024-05-01T11:00:00.75Z", want: map[string][]string{},
	},
	{
		name: "epoch nanoseconds exact",
		in:   `{"_time":1714561200.123456789}`,
		time: "2024-05-01T11:00:00.123456789Z", want: map[string][]string{},
	},
	{
		name: "epoch exponent",
		in:   `{"_time":1.71456120075e9}`,
		time: "2024-05-01T11:00:00.75Z", want: map[string][]string{},
	},
	{
		name: "epoch numeric string",
		in:   `{"_time":"1714561200.75"}`,
		time: "2024-05-01T11:00:00.75Z", want: map[string][]string{},
	},
	{
		name: "TimeCreated alias",
		in:   `{"TimeCreated":"2024-05-01T10:00:00Z"}`,
		time: "2024-05-01T10:00:00Z", want: map[string][]string{},
	},
	{
		name: "_time wins over TimeCreated wherever it is",
		in:   `{"TimeCreated":"2024-05-01T10:00:00Z","_time":"2024-05-01T11:00:00Z"}`,
		time: "2024-05-01T11:00:00Z", want: map[string][]string{},
	},
	{
		name: "null _time falls back to TimeCreated",
		in:   `{"_time":null,"TimeCreated":1714561200}`,
		time: "2024-05-01T11:00:00Z", want: map[string][]string{},
	},
	{
		name: "EventCode string",
		in:   `{"_time":0.5,"EventCode":"855"}`,
		time: "1970-01-01T00:00:00.5Z", want: map[string][]string{"EventCode": {"855"}},
	},
	{
		name: "EventCode leading zero string",
		in:   `{"_time":1,"EventCode":"0855"}`,
		time: "1970-01-01T00:00:01Z", want: map[string][]string{"EventCode": {"855"}},
	},
	{
		name: "EventCode integral number forms",
		in:   `{"_time":1,"EventCode":8.55e2}`,
		time: "1970-01-01T00:00:01Z", want: map[string][]string{"EventCode": {"855"}},
	},
	{
		name: "EventCode non-integer kept as given",
		in:   `{"_time":1,"EventCode":"855a"}`,
		time: "1970-01-01T00:00:01Z", want: map[string][]string{"EventCode": {"855a"}},
	},
	{
		name: "EventCode fraction kept as given",
		in:   `{"_time":1,"EventCode":855.5}`,
		time: "1970-01-01T00:00:01Z", want: map[string][]string{"EventCode": {"855.5"}},
	},
	{
		name: "aliases",
		in:   `{"_time":1,"EventID":855,"Computer":"WS-1","UserID":"S-1-5-18"}`,
		time: "1970-01-01T00:00:01Z",
		want: map[string][]string{"EventCode": {"855"}, "dvc": {"WS-1"}, "user_id": {"S-1-5-18"}},
	},
	{
		name: "canonical names win over aliases",
		in:   `{"EventID":400,"Computer":"alias","UserID":"alias","_time":1,"EventCode":855,"dvc":"WS-1","user_id":"S-1-5-18"}`,
		time: "1970-01-01T00:00:01Z",
		want: map[string][]string{"EventCode": {"855"}, "dvc": {"WS-1"}, "user_id": {"S-1-5-18"}},
	},
	{
		name: "null canonical falls back to alias",
		in:   `{"_time":1,"dvc":null,"Computer":"WS-1"}`,
		time: "1970-01-01T00:00:01Z", want: map[string][]string{"dvc": {"WS-1"}},
	},
	{
		name: "duplicate key: first wins",
		in:   `{"_time":1,"dvc":"first","dvc":"second"}`,
		time: "1970-01-01T00:00:01Z", want: map[string][]string{"dvc": {"first"}},
	},
	{
		name: "PackageMoniker array is multivalue",
		in:   `{"_time":1,"PackageMoniker":["A_1.0.0.0_x64__abcdefghijk12","B",null,7]}`,
		time: "1970-01-01T00:00:01Z",
		want: map[string][]string{"PackageMoniker": {"A_1.0.0.0_x64__abcdefghijk12", "B", "7"}},
	},
	{
		name: "PackageMoniker empty array is missing",
		in:   `{"_time":1,"PackageMoniker":[]}`,
		time: "1970-01-01T00:00:01Z", want: map[string][]string{},
	},
	{
		name: "missing vs null vs empty",
		in:   `{"_time":1,"dvc":"","user_id":null}`,
		time: "1970-01-01T00:00:01Z", want: map[string][]string{"dvc": {""}},
	},
	{
		name: "numbers and booleans where strings belong",
		in:   `{"_time":1,"dvc":12,"user_id":1e3,"HasFullTrust":true,"IsOptional":false}`,
		time: "1970-01-01T00:00:01Z",
		want: map[string][]string{"dvc": {"12"}, "user_id": {"1e3"}, "HasFullTrust": {"true"}, "IsOptional": {"false"}},
	},
	{
		name: "string escapes and leading space kept",
		in:   `{"_time":1,"dvc":"caf\u00e9\t\"x\"","PackageMoniker":"  two spaces"}`,
		time: "1970-01-01T00:00:01Z",
		want: map[string][]string{"dvc": {"café\t\"x\""}, "PackageMoniker": {"  two spaces"}},
	},
	{
		name: "other scalars kept, objects skipped when keeping all",
		in:   `{"_time":1,"Channel":"Ops","nested":{"a":1},"list":["a","b"],"mixed":["a",{}],"":"no name"}`,
		time: "1970-01-01T00:00:01Z",
		want: map[string][]string{"Channel": {"Ops"}, "list": {"a", "b"}},
	},
	{
		name:   "field filter",
		in:     `{"_time":1,"EventCode":855,"dvc":"WS-1","user_id":"u","PackageMoniker":"p","HasFullTrust":"true","Other":"x"}`,
		fields: []string{"EventCode", "PackageMoniker", "HasFullTrust"},
		time:   "1970-01-01T00:00:01Z",
		want:   map[string][]string{"EventCode": {"855"}, "PackageMoniker": {"p"}, "HasFullTrust": {"true"}},
	},
	{
		name:   "empty filter keeps only the time",
		in:     `{"_time":1,"EventCode":855,"dvc":"WS-1"}`,
		fields: []string{},
		time:   "1970-01-01T00:00:01Z", want: map[string][]string{},
	},
	{
		name: "BOM and trailing newline",
		in:   "\xEF\xBB\xBF{\"_time\":1,\"dvc\":\"a\"}\r\n",
		time: "1970-01-01T00:00:01Z", want: map[string][]string{"dvc": {"a"}},
	},
	// Errors.
	{name: "empty", in: "", reason: ReasonEmptyRecord},
	{name: "whitespace only", in: " \n\t", reason: ReasonEmptyRecord},
	{name: "truncated", in: `{"_time":1,"dvc":"W`, reason: ReasonInvalidJSON},
	{name: "trailing garbage", in: `{"_time":1} x`, reason: ReasonInvalidJSON},
	{name: "two objects", in: `{"_time":1}{"_time":2}`, reason: ReasonInvalidJSON},
	{name: "trailing comma", in: `{"_time":1,}`, reason: ReasonInvalidJSON},
	{name: "malformed number read", in: `{"_time":01714561200}`, reason: ReasonInvalidJSON},
	{name: "nan number read", in: `{"_time":1,"EventCode":nan}`, reason: ReasonInvalidJSON},
	{name: "deep nesting", in: `{"_time":1,"x":` + strings.Repeat("[", 400) + strings.Repeat("]", 400) + `}`, reason: ReasonInvalidJSON},
	{name: "deep nesting, unbalanced", in: `{"_time":1,"x":` + strings.Repeat("[", maxJSONDepth) + `0A`, reason: ReasonInvalidJSON},
	{
		name:   "brackets inside strings do not count",
		in:     `{"_time":1,"dvc":"` + strings.Repeat("[{", 100) + `\"[","PackageMoniker":[["a"]]}`,
		reason: ReasonBadFieldType, // the nested array, reached only if the strings were skipped
	},
	{
		name: "nesting at the limit is fine",
		in:   `{"_time":1,"x":` + strings.Repeat("[", maxJSONDepth-1) + strings.Repeat("]", maxJSONDepth-1) + `}`,
		time: "1970-01-01T00:00:01Z", want: map[string][]string{},
	},
	{name: "array", in: `[{"_time":1}]`, reason: ReasonNotAnEvent},
	{name: "string", in: `"2024-05-01T10:51:07Z"`, reason: ReasonNotAnEvent},
	{name: "no time", in: `{"EventCode":855,"dvc":"WS-1"}`, reason: ReasonMissingTime},
	{name: "null time", in: `{"_time":null}`, reason: ReasonMissingTime},
	{name: "bad time", in: `{"_time":"yesterday"}`, reason: ReasonBadTime},
	{name: "empty time", in: `{"_time":""}`, reason: ReasonBadTime},
	{name: "zero time", in: `{"_time":"0001-01-01T00:00:00Z"}`, reason: ReasonBadTime},
	{name: "sub-nanosecond time", in: `{"_time":1714561200.0000000001}`, reason: ReasonBadTime},
	{name: "bad alias time", in: `{"TimeCreated":"2024-02-30T00:00:00Z"}`, reason: ReasonBadTime},
	{name: "object time", in: `{"_time":{"SystemTime":"2024-05-01T10:51:07Z"}}`, reason: ReasonBadFieldType},
	{name: "boolean time", in: `{"_time":true}`, reason: ReasonBadFieldType},
	{name: "object dvc", in: `{"_time":1,"dvc":{"name":"WS-1"}}`, reason: ReasonBadFieldType},
	{name: "array dvc", in: `{"_time":1,"dvc":["a","b"]}`, reason: ReasonBadFieldType},
	{name: "array EventCode", in: `{"_time":1,"EventCode":[855]}`, reason: ReasonBadFieldType},
	{name: "object alias", in: `{"_time":1,"Computer":{}}`, reason: ReasonBadFieldType},
	{name: "object in PackageMoniker array", in: `{"_time":1,"PackageMoniker":["a",{}]}`, reason: ReasonBadFieldType},
	{name: "nested array in PackageMoniker", in: `{"_time":1,"PackageMoniker":[["a"]]}`, reason: ReasonBadFieldType},
	{
		name: "object in a field asked for", in: `{"_time":1,"HasFullTrust":{"v":true}}`,
		fields: []string{"HasFullTrust"}, reason: ReasonBadFieldType,
	},
	{name: "invalid UTF-8 value", in: "{\"_time\":1,\"dvc\":\"WS\xff\"}", reason: ReasonInvalidUTF8},
	{name: "invalid UTF-8 in time", in: "{\"_time\":\"2024\xff\"}", reason: ReasonBadTime},
	{name: "invalid UTF-8 key kept", in: "{\"_time\":1,\"k\xfe\":\"v\"}", reason: ReasonInvalidUTF8},
	{
		name:   "too many values",
		in:     `{"_time":1,"PackageMoniker":[` + strings.Repeat(`"a",`, maxFieldValues) + `"a"]}`,
		reason: ReasonTooManyFields,
	},
}

func TestDecodeJSON(t *testing.T) { runDecodeCases(t, FormatJSON, jsonCases) }

func TestDecodeJSONIgnoresUnwantedBadFields(t *testing.T) {
	// Fields not asked for are not looked at: their types and bytes do not
	// turn a good record into a dead letter.
	runDecodeCases(t, FormatJSON, []decodeCase{{
		name:   "unwanted invalid UTF-8 and object",
		in:     "{\"_time\":1,\"EventCode\":855,\"junk\":\"\xff\",\"obj\":{\"a\":[1,2]}}",
		fields: []string{"EventCode"},
		time:   "1970-01-01T00:00:01Z",
		want:   map[string][]string{"EventCode": {"855"}},
	}})
}
