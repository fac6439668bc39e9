package consumer

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/msixguard/msixguard/event"
)

const xmlNS = `xmlns='http://schemas.microsoft.com/win/2004/08/events/event'`

// xmlEvent builds an Event element with a System section around sys.
func xmlEvent(sys, rest string) string {
	return `<Event ` + xmlNS + `><System>` + sys + `</System>` + rest + `</Event>`
}

const xmlSystem = `<Provider Name='Microsoft-Windows-AppXDeployment-Server' Guid='{3f471139-acb7-4a01-b7a7-ff5da4ba2d43}'/>` +
	`<EventID>855</EventID><Version>0</Version><Level>4</Level><Task>4</Task><Opcode>0</Opcode>` +
	`<Keywords>0x4000000000000001</Keywords><TimeCreated SystemTime='2024-05-01T10:51:07.1234567Z'/>` +
	`<EventRecordID>16000</EventRecordID><Correlation ActivityID='{df6fb197-9b7b-0002-d0dd-a29ded06dc01}'/>` +
	`<Execution ProcessID='5820' ThreadID='5960'/><Channel>Microsoft-Windows-AppXDeploymentServer/Operational</Channel>` +
	`<Computer>WS-0142</Computer><Security UserID='` + sid + `'/>`

const xmlTime = `<TimeCreated SystemTime='2024-05-01T10:51:07Z'/>`

var xmlSystemFields = map[string][]string{
	"EventCode": {"855"}, "dvc": {"WS-0142"}, "user_id": {sid},
	"Channel":  {"Microsoft-Windows-AppXDeploymentServer/Operational"},
	"Provider": {"Microsoft-Windows-AppXDeployment-Server"},
}

func with(m map[string][]string, kv ...string) map[string][]string {
	out := map[string][]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = append(out[kv[i]], kv[i+1])
	}
	return out
}

var xmlCases = []decodeCase{
	{
		name: "system and event data",
		in:   xmlEvent(xmlSystem, `<EventData><Data Name='PackageMoniker'>`+moniker+`</Data><Data Name='HasFullTrust'>true</Data></EventData>`),
		time: "2024-05-01T10:51:07.1234567Z",
		want: with(xmlSystemFields, "PackageMoniker", moniker, "HasFullTrust", "true"),
	},
	{
		name:   "field filter",
		in:     xmlEvent(xmlSystem, `<EventData><Data Name='PackageMoniker'>p</Data><Data Name='HasFullTrust'>true</Data><Data Name='Path'>x</Data></EventData>`),
		fields: []string{"EventCode", "PackageMoniker", "HasFullTrust"},
		time:   "2024-05-01T10:51:07.1234567Z",
		want:   map[string][]string{"EventCode": {"855"}, "PackageMoniker": {"p"}, "HasFullTrust": {"true"}},
	},
	{
		name: "double quotes, Qualifiers, whitespace around EventID",
		in:   `<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><EventID Qualifiers="0"> 0855 </EventID><TimeCreated SystemTime="2024-05-01T07:45:00.5-04:00"/></System></Event>`,
		time: "2024-05-01T11:45:00.5Z",
		want: map[string][]string{"EventCode": {"855"}},
	},
	{
		name: "text exactly as written, entities decoded",
		in:   xmlEvent(xmlTime, `<EventData><Data Name='PackageMoniker'>  a &amp; b &lt;c&gt; &#x41;&#66; </Data><Data Name='Empty'></Data><Data Name='Blank'> </Data><Data Name='Cdata'><![CDATA[<raw>&amp;]]></Data></EventData>`),
		time: "2024-05-01T10:51:07Z",
		want: map[string][]string{"PackageMoniker": {"  a & b <c> AB "}, "Empty": {""}, "Blank": {" "}, "Cdata": {"<raw>&amp;"}},
	},
	{
		name: "missing and empty Computer leave dvc missing; no UserID",
		in:   xmlEvent(xmlTime+`<Computer></Computer><Security/>`, ``),
		time: "2024-05-01T10:51:07Z", want: map[string][]string{},
	},
	{
		name: "repeated Data name is multivalue; unnamed and reserved Data skipped",
		in:   xmlEvent(xmlTime, `<EventData><Data Name='P'>1</Data><Data Name='P'>2</Data><Data>anon</Data><Data Name='dvc'>no</Data><Data Name=''>x</Data><Binary>00</Binary></EventData>`),
		time: "2024-05-01T10:51:07Z", want: map[string][]string{"P": {"1", "2"}},
	},
	{
		name: "first EventID and Computer win",
		in:   xmlEvent(xmlTime+`<EventID>855</EventID><EventID>400</EventID><Computer>A</Computer><Computer>B</Computer>`, ``),
		time: "2024-05-01T10:51:07Z", want: map[string][]string{"EventCode": {"855"}, "dvc": {"A"}},
	},
	{
		name: "Data with a child element is not a simple value",
		in:   xmlEvent(xmlTime, `<EventData><Data Name='X'>a<b>c</b>d</Data><Data Name='Y'>y</Data></EventData>`),
		time: "2024-05-01T10:51:07Z", want: map[string][]string{"Y": {"y"}},
	},
	{
		name: "UserData leaves",
		in:   xmlEvent(xmlTime, `<UserData><AppxInfo xmlns='urn:x'><PackageMoniker>m</PackageMoniker><Path>C:\x</Path><Deep><X>1</X></Deep></AppxInfo></UserData>`),
		time: "2024-05-01T10:51:07Z", want: map[string][]string{"PackageMoniker": {"m"}, "Path": {`C:\x`}},
	},
	{
		name: "RenderingInfo ignored",
		in:   xmlEvent(xmlTime, `<RenderingInfo Culture='en-US'><Message>hi</Message><Level>Information</Level></RenderingInfo>`),
		time: "2024-05-01T10:51:07Z", want: map[string][]string{},
	},
	{
		name: "prefixed names, declaration, comments, BOM, trailing newline",
		in:   "\xEF\xBB\xBF<?xml version='1.0' encoding='UTF-8'?>\n<!-- c --><e:Event xmlns:e='urn:e'><e:System><e:TimeCreated SystemTime='2024-05-01T10:51:07Z'/><e:Computer>H</e:Computer></e:System></e:Event><!-- after -->\n",
		time: "2024-05-01T10:51:07Z", want: map[string][]string{"dvc": {"H"}},
	},
	{
		name: "line ends normalized by XML",
		in:   xmlEvent(xmlTime, "<EventData><Data Name='M'>a\r\nb</Data></EventData>"),
		time: "2024-05-01T10:51:07Z", want: map[string][]string{"M": {"a\nb"}},
	},
	// Errors.
	{name: "empty", in: "  ", reason: ReasonEmptyRecord},
	{name: "not XML", in: "hello", reason: ReasonInvalidXML},
	{name: "truncated", in: xmlEvent(xmlSystem, "")[:200], reason: ReasonInvalidXML},
	{name: "unclosed root", in: `<Event><System>` + xmlTime + `</System>`, reason: ReasonInvalidXML},
	{name: "mismatched end", in: `<Event><System>` + xmlTime + `</Computer></Event>`, reason: ReasonInvalidXML},
	{name: "trailing element", in: xmlEvent(xmlTime, "") + "<Event/>", reason: ReasonInvalidXML},
	{name: "trailing text", in: xmlEvent(xmlTime, "") + "junk", reason: ReasonInvalidXML},
	{name: "text before root", in: "junk" + xmlEvent(xmlTime, ""), reason: ReasonInvalidXML},
	{name: "unquoted attribute", in: `<Event><System><TimeCreated SystemTime=2024/></System></Event>`, reason: ReasonInvalidXML},
	{name: "undefined entity", in: xmlEvent(xmlTime, `<EventData><Data Name='X'>&xxe;</Data></EventData>`), reason: ReasonInvalidXML},
	{
		name:   "billion laughs",
		in:     `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><Event><System>` + xmlTime + `<Computer>&lol2;</Computer></System></Event>`,
		reason: ReasonInvalidXML,
	},
	{
		name:   "external entity",
		in:     `<!DOCTYPE Event [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Event><System>` + xmlTime + `<Computer>&xxe;</Computer></System></Event>`,
		reason: ReasonInvalidXML,
	},
	{name: "non-UTF-8 encoding", in: `<?xml version="1.0" encoding="ISO-8859-1"?>` + xmlEvent(xmlTime, ""), reason: ReasonInvalidXML},
	{name: "invalid UTF-8", in: xmlEvent(xmlTime+"<Computer>\xff</Computer>", ""), reason: ReasonInvalidUTF8},
	{name: "too deep", in: `<Event>` + strings.Repeat("<a>", maxXMLDepth) + strings.Repeat("</a>", maxXMLDepth) + `</Event>`, reason: ReasonXMLTooDeep},
	{name: "too many tokens", in: xmlEvent(xmlTime, strings.Repeat("<x/>", maxXMLTokens)), reason: ReasonXMLTooLarge},
	{name: "other root", in: `<Events><Event/></Events>`, reason: ReasonNotAnEvent},
	{name: "only a comment", in: `<!-- nothing -->`, reason: ReasonNotAnEvent},
	{name: "no time", in: xmlEvent(`<EventID>855</EventID>`, ""), reason: ReasonMissingTime},
	{name: "TimeCreated without SystemTime", in: xmlEvent(`<TimeCreated/>`, ""), reason: ReasonMissingTime},
	{name: "bad time", in: xmlEvent(`<TimeCreated SystemTime='2024-05-01T10:51:07'/>`, ""), reason: ReasonBadTime},
	{
		name:   "too many values",
		in:     xmlEvent(xmlTime, "<EventData>"+strings.Repeat("<Data Name='P'/>", maxFieldValues+1)+"</EventData>"),
		reason: ReasonTooManyFields,
	},
}

func TestDecodeXML(t *testing.T) { runDecodeCases(t, FormatXML, xmlCases) }

// The real samples from splunk/security_content (testdata/upstream).
func TestDecodeXMLUpstream(t *testing.T) {
	cases := []struct {
		file, time string
		want       map[string][]string
	}{
		{
			file: "security_content_data_sources_appxdeployment_server_855_example_log.xml",
			time: "2025-08-06T16:20:58.5814488Z",
			want: map[string][]string{
				"EventCode": {"855"}, "dvc": {"HaagMSIX"},
				"user_id":  {"S-1-5-21-2568234075-4274264167-1034506908-500"},
				"Channel":  {"Microsoft-Windows-AppXDeploymentServer/Operational"},
				"Provider": {"Microsoft-Windows-AppXDeployment-Server"},
				"PackageMoniker": {" addPackageList: Microsoft.DesktopAppInstaller_1.26.430.0_neutral_split.scale-100_8wekyb3d8bbwe" +
					" Microsoft.DesktopAppInstaller_2025.717.1857.0_neutral_~_8wekyb3d8bbwe updateList:" +
					" Microsoft.DesktopAppInstaller_1.26.429.0_x64__8wekyb3d8bbwe is updating to" +
					" Microsoft.DesktopAppInstaller_1.26.430.0_x64__8wekyb3d8bbwe"},
			},
		},
		{
			file: "security_content_data_sources_appxdeployment_server_400_example_log.xml",
			time: "2025-08-06T16:21:23.2487289Z",
			want: map[string][]string{
				"EventCode": {"400"}, "dvc": {"HaagMSIX"},
				"user_id":             {"S-1-5-21-2568234075-4274264167-1034506908-500"},
				"Channel":             {"Microsoft-Windows-AppXDeploymentServer/Operational"},
				"Provider":            {"Microsoft-Windows-AppXDeployment-Server"},
				"DeploymentOperation": {"6"}, "PackageFullName": {"Microsoft.DesktopAppInstaller_2025.717.1857.0_neutral_~_8wekyb3d8bbwe"},
				"Path": {" (AppxBundleManifest.xml) "}, "MountPoint": {"C:"}, "TargetPlatform": {"0x0"},
				"SystemVolume": {"true"}, "StorageId": {`\\?\Volume{de26f417-916d-40a6-aaa9-9675b36f2d21}`},
				"IsCentennial": {"false"}, "PackageType": {"0x8"}, "IsPackageEncrypted": {"false"},
				"DeploymentOptions": {"0x40040040"}, "IsStreamingPackage": {"false"}, "IsInRelatedSet": {"false"},
				"IsPackageUsingBDC": {"false"}, "MainPackageFamilyName": {"NULL"}, "CallingProcess": {"sihost.exe"},
				"IsOptional": {"false"}, "PackageFlags": {"0x400"}, "PackageFlags2": {"0x800"},
				"HasWin32alacarte": {"false"}, "HasFullTrust": {"false"}, "ExternalLocation": {""},
				"PackageSourceUri":   {"x-windowsupdate://05C4B27B-6E00-4A05-9B94-15C77E54E690/F855810C-9F77-45FF-A0F5-CD0FEAA945C6/508bfda4dcfb262c40e6f5d8e8811b3f47ee98a2"},
				"PackageDisplayName": {" "},
			},
		},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			data, err := os.ReadFile("testdata/upstream/" + c.file)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range []Format{FormatXML, FormatAuto} {
				d, err := NewDecoder(f, DecoderOptions{})
				if err != nil {
					t.Fatal(err)
				}
				var ev event.Event
				if err := d.Decode(data, &ev); err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				if got := ev.Time.Format("2006-01-02T15:04:05.0000000Z07:00"); got != c.time {
					t.Errorf("%s: time %s, want %s", f, got, c.time)
				}
				if got := fieldMap(t, &ev); !reflect.DeepEqual(got, c.want) {
					t.Errorf("%s: fields\n got %q\nwant %q", f, got, c.want)
				}
			}
		})
	}
}
