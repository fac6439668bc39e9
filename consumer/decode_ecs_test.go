package consumer

import "testing"

// ecsDoc is a Winlogbeat 8 document as in conformance/01_basic.
const ecsDoc = `{"@timestamp": "2024-05-01T10:51:07.123Z", "event": {"code": "855", "provider": "Microsoft-Windows-AppXDeployment-Server", "kind": "event"}, "host": {"name": "ws-0142"}, "winlog": {"channel": "Microsoft-Windows-AppXDeploymentServer/Operational", "event_id": "855", "provider_name": "Microsoft-Windows-AppXDeployment-Server", "computer_name": "WS-0142", "record_id": 16000, "api": "wineventlog", "user": {"identifier": "` + sid + `"}, "event_data": {"PackageMoniker": "` + moniker + `", "HasFullTrust": "true"}}}`

var ecsCases = []decodeCase{
	{
		name: "winlogbeat document",
		in:   ecsDoc,
		time: "2024-05-01T10:51:07.123Z",
		want: map[string][]string{
			"EventCode": {"855"}, "dvc": {"WS-0142"}, "user_id": {sid}, "PackageMoniker": {moniker},
			"Channel":  {"Microsoft-Windows-AppXDeploymentServer/Operational"},
			"Provider": {"Microsoft-Windows-AppXDeployment-Server"}, "HasFullTrust": {"true"},
		},
	},
	{
		name:   "field filter",
		in:     ecsDoc,
		fields: []string{"EventCode", "PackageMoniker", "Channel"},
		time:   "2024-05-01T10:51:07.123Z",
		want: map[string][]string{
			"EventCode": {"855"}, "PackageMoniker": {moniker},
			"Channel": {"Microsoft-Windows-AppXDeploymentServer/Operational"},
		},
	},
	{
		name: "event_id as number",
		in:   `{"@timestamp":"2024-05-01T10:51:07Z","winlog":{"event_id":855}}`,
		time: "2024-05-01T10:51:07Z", want: map[string][]string{"EventCode": {"855"}},
	},
	{
		name: "event.code and host.name when winlog lacks them",
		in:   `{"@timestamp":"2024-05-01T10:51:07Z","event":{"code":"0855"},"host":{"name":"ws-1"},"winlog":{"event_id":null}}`,
		time: "2024-05-01T10:51:07Z", want: map[string][]string{"EventCode": {"855"}, "dvc": {"ws-1"}},
	},
	{
		name: "winlog wins over event.code and host.name",
		in:   `{"@timestamp":"2024-05-01T10:51:07Z","event":{"code":"400"},"host":{"name":"ws-1"},"winlog":{"event_id":"855","computer_name":"WS-1"}}`,
		time: "2024-05-01T10:51:07Z", want: map[string][]string{"EventCode": {"855"}, "dvc": {"WS-1"}},
	},
	{
		name: "no winlog",
		in:   `{"@timestamp":"2024-05-01T10:51:07.5+02:00","event":{"code":855}}`,
		time: "2024-05-01T08:51:07.5Z", want: map[string][]string{"EventCode": {"855"}},
	},
	{
		name: "epoch @timestamp",
		in:   `{"@timestamp":1714561200.75,"winlog":{}}`,
		time: "2024-05-01T11:00:00.75Z", want: map[string][]string{},
	},
	{
		name: "event_data: scalars, arrays, reserved names and null",
		in:   `{"@timestamp":"2024-05-01T10:51:07Z","winlog":{"event_data":{"PackageMoniker":["a","b"],"dvc":"not me","Flags":0,"Gone":null,"Obj":{"x":1}},"user_data":{"Detail":"d"}}}`,
		time: "2024-05-01T10:51:07Z",
		want: map[string][]string{"PackageMoniker": {"a", "b"}, "Flags": {"0"}, "Detail": {"d"}},
	},
	{name: "no @timestamp", in: `{"winlog":{"event_id":855}}`, reason: ReasonMissingTime},
	{name: "bad @timestamp", in: `{"@timestamp":"2024-05-01","winlog":{}}`, reason: ReasonBadTime},
	{name: "winlog not an object", in: `{"@timestamp":"2024-05-01T10:51:07Z","winlog":"x"}`, reason: ReasonBadFieldType},
	{name: "user not an object", in: `{"@timestamp":"2024-05-01T10:51:07Z","winlog":{"user":[1]}}`, reason: ReasonBadFieldType},
	{name: "event_data not an object", in: `{"@timestamp":"2024-05-01T10:51:07Z","winlog":{"event_data":"x"}}`, reason: ReasonBadFieldType},
	{name: "event_id object", in: `{"@timestamp":"2024-05-01T10:51:07Z","winlog":{"event_id":{}}}`, reason: ReasonBadFieldType},
	{name: "computer_name array", in: `{"@timestamp":"2024-05-01T10:51:07Z","winlog":{"computer_name":["a"]}}`, reason: ReasonBadFieldType},
	{name: "invalid UTF-8 in event_data", in: "{\"@timestamp\":\"2024-05-01T10:51:07Z\",\"winlog\":{\"event_data\":{\"PackageMoniker\":\"\xc3\"}}}", reason: ReasonInvalidUTF8},
	{name: "not an object", in: `[]`, reason: ReasonNotAnEvent},
	{name: "invalid", in: `{"@timestamp":`, reason: ReasonInvalidJSON},
	{name: "empty", in: "\n", reason: ReasonEmptyRecord},
}

func TestDecodeECS(t *testing.T) { runDecodeCases(t, FormatECS, ecsCases) }
