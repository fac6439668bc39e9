package consumer

import (
	"testing"
)

func TestDecodeAuto(t *testing.T) {
	cases := []decodeCase{
		{
			name: "normalized JSON",
			in:   `  {"_time":1714561200.75,"EventCode":"855","dvc":"WS-1"}`,
			time: "2024-05-01T11:00:00.75Z", want: map[string][]string{"EventCode": {"855"}, "dvc": {"WS-1"}},
		},
		{
			name: "ECS by @timestamp",
			in:   `{"@timestamp":"2024-05-01T10:51:07.123Z","winlog":{"event_id":"855","computer_name":"WS-1"}}`,
			time: "2024-05-01T10:51:07.123Z", want: map[string][]string{"EventCode": {"855"}, "dvc": {"WS-1"}},
		},
		{
			name: "normalized with a Logstash @timestamp stays normalized",
			in:   `{"@timestamp":"2024-05-01T10:51:08Z","_time":"2024-05-01T10:51:07Z","EventCode":855}`,
			time: "2024-05-01T10:51:07Z", want: map[string][]string{"EventCode": {"855"}, "@timestamp": {"2024-05-01T10:51:08Z"}},
		},
		{
			name: "ECS with winlog even when a _time is added",
			in:   `{"@timestamp":"2024-05-01T10:51:07Z","_time":"x","winlog":{"event_id":"855"}}`,
			time: "2024-05-01T10:51:07Z", want: map[string][]string{"EventCode": {"855"}},
		},
		{
			name:   "ECS by winlog object (and its error names ecs)",
			in:     `{"winlog":{"event_id":"855"}}`,
			reason: ReasonMissingTime, format: FormatECS,
		},
		{
			name: "winlog that is not an object is just a field",
			in:   `{"_time":1,"winlog":"x"}`,
			time: "1970-01-01T00:00:01Z", want: map[string][]string{"winlog": {"x"}},
		},
		{
			name: "XML after BOM and whitespace",
			in:   "\xEF\xBB\xBF\n " + xmlEvent(xmlTime+`<EventID>855</EventID>`, ""),
			time: "2024-05-01T10:51:07Z", want: map[string][]string{"EventCode": {"855"}},
		},
		{
			name: "Avro",
			in:   string(avroBytes(1, "2024-05-01T10:51:07Z", 1, 855, 0, 0, 0, 0)),
			time: "2024-05-01T10:51:07Z", want: map[string][]string{"EventCode": {"855"}},
		},
		{name: "empty", in: "", reason: ReasonEmptyRecord, format: FormatAuto},
		{name: "whitespace and BOM", in: "\xEF\xBB\xBF \r\n", reason: ReasonEmptyRecord, format: FormatAuto},
		{name: "JSON array", in: `[{"_time":1}]`, reason: ReasonUnknownFormat, format: FormatAuto},
		{name: "text", in: `EventCode=855 dvc=WS-1`, reason: ReasonUnknownFormat, format: FormatAuto},
		{name: "short Avro", in: "\x00\x00\x01", reason: ReasonAvroDecode, format: FormatAvro},
		{name: "Avro unknown schema", in: "\x00\x00\x00\x00\x09\x02", reason: ReasonAvroUnknownSchema, format: FormatAvro},
		{name: "bad JSON", in: `{"_time":`, reason: ReasonInvalidJSON, format: FormatJSON},
		{name: "bad normalized", in: `{"dvc":"x"}`, reason: ReasonMissingTime, format: FormatJSON},
		{name: "bad XML", in: `<Event>`, reason: ReasonInvalidXML, format: FormatXML},
	}
	runDecodeCases(t, FormatAuto, cases)
}
