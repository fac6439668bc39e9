package main

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// The generated input: what a SIEM pipeline writes to a wineventlog topic.
// One record in a hundred (by default) is a developer-signed MSIX install
// (Event 855 without a Microsoft publisher); the rest are Store installs
// that the rule excludes, other AppXDeploymentServer events and Security
// events, in the three text formats msixguard reads, at sizes close to what
// Splunk's normalized export, Winlogbeat and XmlWinEventLog produce.

type format int

const (
	fmtJSON format = iota
	fmtECS
	fmtXML
)

var formatNames = [...]string{"json", "ecs", "xml"}

type genEvent struct {
	t        time.Time
	code     int
	host     string
	user     string // SID; "" = missing (stats drops the row)
	moniker  string // PackageMoniker; "" = none
	recordID int64
}

type generator struct {
	rng      *rand.Rand
	hosts    []string
	users    []string
	devPkgs  []string
	storePkg []string
	mix      [3]float64 // cumulative weights of json, ecs, xml
	match    float64
	recordID int64
	// firstJSON: the first record is JSON, so a file of the records reads in
	// line mode (pipeline.RecordReader picks its mode from the first byte).
	firstJSON bool
	buf       []byte
}

func newGenerator(seed uint64, hosts, users int, match float64, mix [3]float64) *generator {
	g := &generator{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), match: match}
	prefixes := []string{"WS", "LAPTOP", "SRV", "VDI", "KIOSK"}
	for i := range hosts {
		g.hosts = append(g.hosts, fmt.Sprintf("%s-%05d", prefixes[i%len(prefixes)], i))
	}
	for i := range users {
		g.users = append(g.users, fmt.Sprintf("S-1-5-21-2568234075-4274264167-1034506908-%d", 1100+i))
	}
	vendors := []string{"ContosoCorp.LineOfBusiness", "NotionLabs.NotionSetup", "Fabrikam.Agent", "Northwind.Inventory",
		"AdventureWorks.Sync", "Tailspin.Remote", "WideWorld.Importer", "Litware.Helper", "Proseware.Updater", "Woodgrove.Banking",
		"Relecloud.Viewer", "Lamna.HealthKiosk", "Trey.Research", "Coho.Winery", "Fourth.Coffee", "Alpine.SkiHouse"}
	arch := []string{"x64", "x86", "arm64", "neutral"}
	for i, v := range vendors {
		pub := randomID(g.rng, 13)
		for j := 0; j < 3; j++ {
			g.devPkgs = append(g.devPkgs, fmt.Sprintf("%s_%d.%d.%d.0_%s__%s", v, 1+j, i%10, 100+j*7, arch[(i+j)%len(arch)], pub))
		}
	}
	g.storePkg = []string{
		"Microsoft.WindowsCalculator_11.2311.0.0_x64__8wekyb3d8bbwe", "Microsoft.Windows.Photos_2024.11050.3002.0_x64__8wekyb3d8bbwe",
		"Microsoft.VCLibs.140.00_14.0.33519.0_x64__8wekyb3d8bbwe", "Microsoft.WindowsStore_22403.1401.4.0_x64__8wekyb3d8bbwe",
		"Microsoft.DesktopAppInstaller_1.22.10861.0_x64__8wekyb3d8bbwe", "Microsoft.UI.Xaml.2.8_8.2310.30001.0_x64__8wekyb3d8bbwe",
		"MicrosoftWindows.Client.WebExperience_424.1301.270.9_x64__cw5n1h2txyewy", "Microsoft.Windows.ShellExperienceHost_10.0.22621.3296_neutral_neutral_cw5n1h2txyewy",
		"Microsoft.WINDOWSTERMINAL_1.19.10573.0_x64__8WEKYB3D8BBWE", // upper case: the rule matches case-insensitively
	}
	sum := mix[0] + mix[1] + mix[2]
	g.mix = [3]float64{mix[0] / sum, (mix[0] + mix[1]) / sum, 1}
	return g
}

func randomID(r *rand.Rand, n int) string {
	const alpha = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alpha[r.IntN(len(alpha))]
	}
	return string(b)
}

func (g *generator) format() format {
	x := g.rng.Float64()
	if !g.firstJSON {
		g.firstJSON = true
		return fmtJSON
	}
	switch {
	case x < g.mix[0]:
		return fmtJSON
	case x < g.mix[1]:
		return fmtECS
	}
	return fmtXML
}

// nextFormat returns one record in format f at t, its host (the record key) and whether it
// is a match that stats counts (a developer-signed install with host and
// user). Kinds: 1 % match, 20 % Store installs (excluded), 29 % other
// AppX events, 50 % Security events.
func (g *generator) nextFormat(t time.Time, f format) (rec []byte, host string, isMatch bool) {
	x := g.rng.Float64()
	hi := g.rng.IntN(len(g.hosts))
	// A host's primary user most of the time.
	ui := hi % len(g.users)
	if g.rng.IntN(10) == 0 {
		ui = g.rng.IntN(len(g.users))
	}
	g.recordID++
	e := genEvent{t: t, host: g.hosts[hi], user: g.users[ui], recordID: g.recordID}
	switch {
	case x < g.match:
		e.code = 855
		e.moniker = g.devMoniker()
		if g.rng.IntN(50) == 0 {
			e.user = "" // no UserID: stats drops it
		}
		isMatch = e.user != ""
	case x < g.match+0.20:
		e.code = 855
		e.moniker = g.storeMoniker()
	case x < 0.5:
		e.code = []int{854, 400, 401, 404, 603, 10002}[g.rng.IntN(6)]
		e.moniker = g.storePkg[g.rng.IntN(len(g.storePkg))]
		if g.rng.IntN(4) == 0 {
			e.moniker = g.devPkgs[g.rng.IntN(len(g.devPkgs))]
		}
	default:
		e.code = []int{4624, 4688, 4672, 4634}[g.rng.IntN(4)]
	}
	return g.encode(f, e), e.host, isMatch
}

func (g *generator) devMoniker() string {
	p := g.devPkgs[g.rng.IntN(len(g.devPkgs))]
	switch g.rng.IntN(10) {
	case 0: // two developer-signed packages in one event
		return " addPackageList: " + p + " " + g.devPkgs[g.rng.IntN(len(g.devPkgs))]
	case 1:
		return p
	case 2:
		return " addPackageList: " + p + " updateList: " + p + " is updating to " + p
	}
	return " addPackageList: " + p
}

func (g *generator) storeMoniker() string {
	s := g.storePkg[g.rng.IntN(len(g.storePkg))]
	if g.rng.IntN(5) == 0 { // a developer package beside a Store one: excluded too
		return " addPackageList: " + g.devPkgs[g.rng.IntN(len(g.devPkgs))] + " " + s
	}
	return " addPackageList: " + s
}

func provider(code int) (prov, channel string) {
	if code >= 4000 && code < 5000 {
		return "Microsoft-Windows-Security-Auditing", "Security"
	}
	return "Microsoft-Windows-AppXDeployment-Server", "Microsoft-Windows-AppXDeploymentServer/Operational"
}

func jsonStr(s string) string { return strconv.Quote(s) } // ASCII data: Go quoting is valid JSON

func (g *generator) encode(f format, e genEvent) []byte {
	prov, channel := provider(e.code)
	lower := strings.ToLower(e.host)
	b := g.buf[:0]
	switch f {
	case fmtJSON:
		b = append(b, `{"_time":`...)
		if g.rng.IntN(5) == 0 {
			b = strconv.AppendFloat(b, float64(e.t.UnixMilli())/1000, 'f', 3, 64)
		} else {
			b = append(b, '"')
			b = e.t.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
			b = append(b, '"')
		}
		b = fmt.Appendf(b, `,"EventCode":%d,"dvc":%s,"host":%s,`, e.code, jsonStr(e.host), jsonStr(lower))
		if e.user != "" {
			b = fmt.Appendf(b, `"user_id":%s,`, jsonStr(e.user))
		}
		if e.moniker != "" {
			b = fmt.Appendf(b, `"PackageMoniker":%s,`, jsonStr(e.moniker))
		}
		b = fmt.Appendf(b, `"source":"XmlWinEventLog:%s","sourcetype":"XmlWinEventLog","index":"wineventlog","signature_id":%d,"RecordNumber":%d,"vendor_product":"Microsoft Windows","Channel":%s}`,
			channel, e.code, e.recordID, jsonStr(channel))
	case fmtECS:
		ts := e.t.UTC().Format("2006-01-02T15:04:05.000Z")
		b = fmt.Appendf(b, `{"@timestamp":%q,"@metadata":{"beat":"winlogbeat","type":"_doc","version":"8.15.3"},"agent":{"ephemeral_id":"6a5e2f8c-0b7d-4a8e-9d1e-3f2c4b5a6d7e","id":"%s","name":%s,"type":"winlogbeat","version":"8.15.3"},"ecs":{"version":"8.0.0"},`, ts, hostUUID(e.host), jsonStr(lower))
		b = fmt.Appendf(b, `"event":{"code":"%d","created":%q,"kind":"event","module":"%s","provider":%s,"outcome":"success"},`, e.code, ts, map[bool]string{true: "security", false: "appx"}[channel == "Security"], jsonStr(prov))
		b = fmt.Appendf(b, `"host":{"name":%s,"hostname":%s,"architecture":"x86_64","os":{"family":"windows","kernel":"10.0.22621.3296 (WinBuild.160101.0800)","name":"Windows 11 Enterprise","platform":"windows","type":"windows","version":"10.0","build":"22631.3296"},"id":"%s","mac":["00-15-5D-%02X-%02X-%02X"],"ip":["10.%d.%d.%d"]},`,
			jsonStr(lower), jsonStr(lower), hostUUID(e.host), e.recordID%256, (e.recordID/7)%256, (e.recordID/13)%256, e.recordID%200, (e.recordID/200)%250, e.recordID%250+1)
		b = append(b, `"log":{"level":"information"},`...)
		msg := ecsMessage(e)
		b = fmt.Appendf(b, `"message":%s,"winlog":{"api":"wineventlog","channel":%s,"computer_name":%s,"event_id":"%d","opcode":"Info","process":{"pid":5820,"thread":{"id":5960}},"provider_guid":"{3f471139-acb7-4a01-b7a7-ff5da4ba2d43}","provider_name":%s,"record_id":%d,"task":"None",`,
			jsonStr(msg), jsonStr(channel), jsonStr(e.host), e.code, jsonStr(prov), e.recordID)
		if e.user != "" {
			b = fmt.Appendf(b, `"user":{"identifier":%s,"domain":"CONTOSO","name":"user%s","type":"User"},`, jsonStr(e.user), e.user[len(e.user)-4:])
		}
		if e.moniker != "" {
			b = fmt.Appendf(b, `"event_data":{"PackageMoniker":%s}}}`, jsonStr(e.moniker))
		} else {
			b = fmt.Appendf(b, `"event_data":{"LogonType":"3","TargetUserName":"svc_backup","TargetDomainName":"CONTOSO","IpAddress":"10.1.2.3","IpPort":"49811","LogonProcessName":"NtLmSsp ","AuthenticationPackageName":"NTLM","WorkstationName":%s}}}`, jsonStr(e.host))
		}
	case fmtXML:
		b = fmt.Appendf(b, `<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='%s' Guid='{3f471139-acb7-4a01-b7a7-ff5da4ba2d43}'/><EventID>%d</EventID><Version>0</Version><Level>4</Level><Task>0</Task><Opcode>0</Opcode><Keywords>0x4000000000000001</Keywords><TimeCreated SystemTime='%s'/><EventRecordID>%d</EventRecordID><Correlation ActivityID='{df6fb197-9b7b-0002-d0dd-a29ded06dc01}'/><Execution ProcessID='5820' ThreadID='5960'/><Channel>%s</Channel><Computer>%s</Computer>`,
			prov, e.code, e.t.UTC().Format("2006-01-02T15:04:05.0000000Z"), e.recordID, channel, e.host)
		if e.user != "" {
			b = fmt.Appendf(b, `<Security UserID='%s'/>`, e.user)
		} else {
			b = append(b, `<Security/>`...)
		}
		b = append(b, `</System><EventData>`...)
		if e.moniker != "" {
			b = fmt.Appendf(b, `<Data Name='PackageMoniker'>%s</Data>`, e.moniker)
		} else {
			b = fmt.Appendf(b, `<Data Name='SubjectUserSid'>S-1-5-18</Data><Data Name='SubjectUserName'>%s$</Data><Data Name='SubjectDomainName'>CONTOSO</Data><Data Name='SubjectLogonId'>0x3e7</Data><Data Name='TargetUserName'>svc_backup</Data><Data Name='TargetDomainName'>CONTOSO</Data><Data Name='LogonType'>3</Data><Data Name='LogonProcessName'>NtLmSsp </Data><Data Name='AuthenticationPackageName'>NTLM</Data><Data Name='WorkstationName'>%s</Data><Data Name='IpAddress'>10.1.2.3</Data><Data Name='IpPort'>49811</Data>`, e.host, e.host)
		}
		b = append(b, `</EventData></Event>`...)
	}
	g.buf = b
	return append([]byte(nil), b...)
}

func ecsMessage(e genEvent) string {
	if e.moniker != "" {
		return fmt.Sprintf("AppX Deployment operation (%d) for package%s completed.", e.code, e.moniker)
	}
	return "An account was successfully logged on.\n\nSubject:\n\tSecurity ID:\t\tS-1-5-18\n\tAccount Name:\t\t-\n\nLogon Information:\n\tLogon Type:\t\t3\n\tRestricted Admin Mode:\t-\n\tVirtual Account:\t\tNo\n\tElevated Token:\t\tNo\n\nNew Logon:\n\tAccount Name:\t\tsvc_backup\n\tAccount Domain:\t\tCONTOSO"
}

func hostUUID(h string) string {
	var x uint64 = 1469598103934665603
	for i := 0; i < len(h); i++ {
		x = (x ^ uint64(h[i])) * 1099511628211
	}
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", uint32(x), uint16(x>>32), uint16(x>>48), uint16(x>>8), x&0xffffffffffff)
}

// matchRecord is one developer-signed install of a given host and user at
// t, in normalized JSON (the latency phase stamps its own).
func matchRecord(t time.Time, host, user, pkg string) []byte {
	return fmt.Appendf(nil, `{"_time":"%s","EventCode":855,"dvc":%s,"user_id":%s,"PackageMoniker":%s,"source":"XmlWinEventLog:Microsoft-Windows-AppXDeploymentServer/Operational","sourcetype":"XmlWinEventLog","index":"wineventlog"}`,
		t.UTC().Format(time.RFC3339Nano), jsonStr(host), jsonStr(user), jsonStr(" addPackageList: "+pkg))
}

// closingRecord is a non-matching Security event at t: written at the end
// of every input partition, it moves msixguard's watermark past the last
// data window (a live stream would do the same on its own).
func closingRecord(t time.Time, host string) []byte {
	return fmt.Appendf(nil, `{"_time":"%s","EventCode":4634,"dvc":%s,"user_id":"S-1-5-18"}`, t.UTC().Format(time.RFC3339Nano), jsonStr(host))
}
