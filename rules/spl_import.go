package rules

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// scDetection is the part of a Splunk security_content detection YAML the
// importer reads: contentctl v5 (rba block) and the older v4 tags
// (risk_score or confidence × impact, observable roles, message).
type scDetection struct {
	Name                string      `yaml:"name"`
	ID                  string      `yaml:"id"`
	Version             any         `yaml:"version"`
	Type                string      `yaml:"type"`
	Description         string      `yaml:"description"`
	Search              string      `yaml:"search"`
	KnownFalsePositives string      `yaml:"known_false_positives"`
	RBA                 *RBA        `yaml:"rba"`
	Tags                scTags      `yaml:"tags"`
	Deployment          *scDeploy   `yaml:"deployment"`
	Scheduling          *scSchedule `yaml:"scheduling"`
}

type scTags struct {
	MitreAttackID []string `yaml:"mitre_attack_id"`
	RiskScore     *int     `yaml:"risk_score"`
	Confidence    *int     `yaml:"confidence"`
	Impact        *int     `yaml:"impact"`
	Message       string   `yaml:"message"`
	Observable    []struct {
		Name string   `yaml:"name"`
		Type string   `yaml:"type"`
		Role []string `yaml:"role"`
	} `yaml:"observable"`
}

type scDeploy struct {
	Scheduling *scSchedule `yaml:"scheduling"`
}

type scSchedule struct {
	Cron     string `yaml:"cron_schedule"`
	Earliest string `yaml:"earliest_time"`
	Latest   string `yaml:"latest_time"`
}

// RBA is security_content's risk-based-alerting block (contentctl v5).
type RBA struct {
	Message     string `yaml:"message"`
	RiskObjects []struct {
		Field string `yaml:"field"`
		Type  string `yaml:"type"`
		Score int    `yaml:"score"`
	} `yaml:"risk_objects"`
	ThreatObjects []struct {
		Field string `yaml:"field"`
		Type  string `yaml:"type"`
	} `yaml:"threat_objects"`
}

// ParseRBA reads an rba block, alone or as the rba key of a detection.
func ParseRBA(name string, data []byte) (*RBA, error) {
	var wrap struct {
		RBA *RBA `yaml:"rba"`
	}
	if err := yaml.Unmarshal(data, &wrap); err == nil && wrap.RBA != nil {
		return wrap.RBA, nil
	}
	var r RBA
	if err := yaml.Unmarshal(data, &r); err != nil {
		return nil, yamlError(name, err)
	}
	if len(r.RiskObjects) == 0 {
		return nil, &FileError{File: name, Reason: "rba needs risk_objects"}
	}
	return &r, nil
}

// ImportOptions tune ImportDetection.
type ImportOptions struct {
	Macros MacroTable // source macros; nil: DefaultMacros()
	// Schedule fields that are set replace the detection's own (and the
	// ESCU default used when it has none).
	Schedule Schedule
	// RBA is used for a detection without risk annotations (a Hunting
	// search writes no risk events in Splunk).
	RBA *RBA
}

// Imported is one compiled detection.
type Imported struct {
	ID   string
	YAML []byte // the rule file, in the format Parse reads
	Rule *Rule  // YAML parsed back
	// Notes are what the operator should know about the translation; they
	// are also comments at the top of YAML.
	Notes []string
}

// ImportError is a detection that cannot be compiled: the file, the YAML
// key and why (an *SPLError for the search).
type ImportError struct {
	File string
	Key  string
	Err  error
}

func (e *ImportError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("%s: %v", e.File, e.Err)
	}
	return fmt.Sprintf("%s: %s: %v", e.File, e.Key, e.Err)
}

func (e *ImportError) Unwrap() error { return e.Err }

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

// Slug is the msixguard rule id of a detection name, as security_content
// names its filter macro: lower case, runs of other characters as one _.
func Slug(name string) string {
	return strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(name), "_"), "_")
}

// ImportDetection compiles a security_content detection into a rule file.
// name is used in errors and notes.
func ImportDetection(name string, data []byte, o ImportOptions) (*Imported, error) {
	fail := func(key string, err error) error { return &ImportError{File: name, Key: key, Err: err} }
	var d scDetection
	if err := yaml.Unmarshal(data, &d); err != nil {
		return nil, fail("", yamlError(name, err))
	}
	if d.Name == "" {
		return nil, fail("name", errors.New("missing: not a security_content detection"))
	}
	if strings.TrimSpace(d.Search) == "" {
		return nil, fail("search", errors.New("missing"))
	}
	switch strings.ToLower(d.Type) {
	case "", "ttp", "anomaly", "hunting":
	default:
		return nil, fail("type", fmt.Errorf("%s searches are not supported (TTP, Anomaly and Hunting are)", d.Type))
	}
	cs, err := CompileSPL(d.Search, o.Macros)
	if err != nil {
		return nil, fail("search", err)
	}
	id := Slug(d.Name)
	if !idPattern.MatchString(id) {
		return nil, fail("name", fmt.Errorf("gives no usable rule id (%q)", id))
	}

	// Schedule: the detection's, else ESCU's default, then overrides.
	sched, schedFrom := DefaultSchedule, "ESCU default deployment"
	if s := d.Scheduling; s == nil && d.Deployment != nil {
		d.Scheduling = d.Deployment.Scheduling
	}
	if s := d.Scheduling; s != nil {
		schedFrom = "the detection"
		sched = Schedule{Cron: s.Cron, Earliest: s.Earliest, Latest: s.Latest}
	}
	for _, ov := range [...]struct {
		src string
		dst *string
	}{{o.Schedule.Cron, &sched.Cron}, {o.Schedule.Earliest, &sched.Earliest}, {o.Schedule.Latest, &sched.Latest}} {
		if ov.src != "" {
			*ov.dst, schedFrom = ov.src, "import options"
		}
	}
	win, err := MapSchedule(sched)
	if err != nil {
		return nil, fail("schedule", err)
	}

	risk, riskFrom, err := importRisk(&d, o.RBA)
	if err != nil {
		return nil, fail("rba", err)
	}

	notes := []string{fmt.Sprintf("Imported by `msixguard rules import` from security_content %q (id %s, version %v).", d.Name, d.ID, d.Version)}
	if cs.SourceMacro != "" {
		note := fmt.Sprintf("Source macro `%s`", cs.SourceMacro)
		if cs.SourceNote != "" {
			note += ": " + cs.SourceNote
		}
		notes = append(notes, note)
	}
	if cs.FilterMacro != "" {
		notes = append(notes, fmt.Sprintf("`%s`: the tuning file (--tuning) replaces this macro.", cs.FilterMacro))
	}
	notes = append(notes, fmt.Sprintf("Schedule (%s): cron %q over %s..%s -> window %s, offset %s, lag %s.", schedFrom, sched.Cron, sched.Earliest, sched.Latest, fmtDur(win.Size), fmtDur(win.Offset), fmtDur(win.Lag)))
	if riskFrom != "" {
		notes = append(notes, riskFrom)
	}

	desc := strings.TrimSpace(d.Description)
	if fp := strings.TrimSpace(d.KnownFalsePositives); fp != "" {
		desc += "\n\nKnown false positives: " + fp
	}
	doc := emitRule(id, d.Name, desc, cs, win, risk, d.Tags.MitreAttackID, notes)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fail("", fmt.Errorf("write rule: %w", err))
	}
	enc.Close()
	r, err := Parse(id+".yml", buf.Bytes())
	if err != nil {
		// The SPL compiled but the rule does not hold together (a risk
		// message naming a field the stats do not output, …).
		var fe *FileError
		if errors.As(err, &fe) {
			err = errors.New(fe.Reason)
		}
		return nil, fail("", fmt.Errorf("the compiled rule is invalid: %w", err))
	}
	return &Imported{ID: id, YAML: buf.Bytes(), Rule: r, Notes: notes}, nil
}

// importRisk picks the risk annotations: v5 rba, else v4 tags, else the
// option. msixguard writes one risk object per message, with one score.
func importRisk(d *scDetection, fallback *RBA) (Risk, string, error) {
	var r Risk
	switch {
	case d.RBA != nil:
		return riskFromRBA(d.RBA, "")
	case d.Tags.Message != "" || len(d.Tags.Observable) > 0:
		var victims, attackers []string
		var vTypes, aTypes []string
		for _, ob := range d.Tags.Observable {
			for _, role := range ob.Role {
				switch strings.ToLower(role) {
				case "victim":
					victims, vTypes = append(victims, ob.Name), append(vTypes, ob.Type)
				case "attacker":
					attackers, aTypes = append(attackers, ob.Name), append(aTypes, ob.Type)
				}
			}
		}
		if len(victims) != 1 {
			return r, "", fmt.Errorf("tags.observable has %d Victim observables (%s): msixguard writes exactly one risk object per message", len(victims), strings.Join(victims, ", "))
		}
		r.ObjectField, r.ObjectType = victims[0], riskObjectType(vTypes[0])
		switch {
		case d.Tags.RiskScore != nil:
			r.Score = *d.Tags.RiskScore
		case d.Tags.Confidence != nil && d.Tags.Impact != nil:
			r.Score = *d.Tags.Confidence * *d.Tags.Impact / 100
		default:
			return r, "", errors.New("tags has no risk_score (or confidence and impact)")
		}
		r.ThreatObjects = attackers
		for _, t := range aTypes {
			tt := threatObjectType(t)
			if r.ThreatObjectType != "" && tt != r.ThreatObjectType {
				return r, "", fmt.Errorf("threat objects of different types (%s, %s): msixguard writes one threat_object_type per message", r.ThreatObjectType, tt)
			}
			r.ThreatObjectType = tt
		}
		r.Message = d.Tags.Message
		return r, "Risk from the v4 tags (observable roles: Victim -> risk object, Attacker -> threat objects).", nil
	case fallback != nil:
		return riskFromRBA(fallback, fmt.Sprintf("The detection has no risk annotations (a %s search writes no risk events in Splunk); risk from the rba given to the importer.", orDefault(d.Type, "typeless")))
	}
	return r, "", fmt.Errorf("the detection has no risk annotations (rba, or tags risk_score/observable/message)%s: give an rba block to the importer (--rba FILE)", hunting(d.Type))
}

func hunting(t string) string {
	if strings.EqualFold(t, "hunting") {
		return "; a Hunting search writes no risk events in Splunk"
	}
	return ""
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func riskFromRBA(b *RBA, note string) (Risk, string, error) {
	var r Risk
	if len(b.RiskObjects) != 1 {
		var fs []string
		for _, o := range b.RiskObjects {
			fs = append(fs, o.Field)
		}
		return r, "", fmt.Errorf("risk_objects has %d entries (%s): msixguard writes exactly one risk object per message", len(b.RiskObjects), strings.Join(fs, ", "))
	}
	ro := b.RiskObjects[0]
	r.ObjectField, r.ObjectType, r.Score, r.Message = ro.Field, ro.Type, ro.Score, strings.TrimSpace(b.Message)
	for _, t := range b.ThreatObjects {
		if r.ThreatObjectType != "" && t.Type != r.ThreatObjectType {
			return r, "", fmt.Errorf("threat_objects of different types (%s, %s): msixguard writes one threat_object_type per message", r.ThreatObjectType, t.Type)
		}
		r.ThreatObjects = append(r.ThreatObjects, t.Field)
		r.ThreatObjectType = t.Type
	}
	return r, note, nil
}

// riskObjectType maps a v4 observable type as contentctl did: users, hosts
// and addresses; anything else is "other".
func riskObjectType(t string) string {
	switch strings.ToLower(t) {
	case "user", "username", "user name", "email address", "email":
		return "user"
	case "hostname", "host", "endpoint", "system", "ip address", "ip":
		return "system"
	}
	return "other"
}

func threatObjectType(t string) string {
	return strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(t), "_"), "_")
}

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d%time.Hour == 0 && d > time.Hour:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return d.String()
}

// ---- writing the rule file ----

func ystr(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

func yquoted(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s, Style: yaml.DoubleQuotedStyle}
}

func yint(n int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(n)}
}

func ymap(kv ...any) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for i := 0; i+1 < len(kv); i += 2 {
		m.Content = append(m.Content, ystr(kv[i].(string)), kv[i+1].(*yaml.Node))
	}
	return m
}

func yflow(vals []string, quoted bool) *yaml.Node {
	s := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
	for _, v := range vals {
		if quoted {
			s.Content = append(s.Content, yquoted(v))
		} else {
			s.Content = append(s.Content, ystr(v))
		}
	}
	return s
}

// conditionNode is the rule-file form of c: {field: F, op: value(s)}, or
// {any|all: [conditions]} for a group.
func conditionNode(c SPLCondition) *yaml.Node {
	var v *yaml.Node
	switch c.Op {
	case OpAny, OpAll:
		list := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, s := range c.Sub {
			list.Content = append(list.Content, conditionNode(s))
		}
		return ymap(string(c.Op), list)
	case OpEquals, OpNotEquals:
		v = yquoted(c.Values[0])
		if c.Number {
			v = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: c.Values[0]}
			if strings.Contains(c.Values[0], ".") {
				v.Tag = "!!float"
			}
		}
	default:
		v = yflow(c.Values, true)
	}
	return ymap("field", ystr(c.Field), string(c.Op), v)
}

func emitRule(id, name, desc string, cs *CompiledSearch, w Window, r Risk, mitre []string, notes []string) *yaml.Node {
	spl := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: strings.TrimSpace(cs.SPL) + "\n", Style: yaml.LiteralStyle}
	filter := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for _, c := range cs.Filter {
		filter.Content = append(filter.Content, conditionNode(c))
	}
	stats := ymap("count", ystr(cs.CountAs))
	if cs.MinTimeAs != "" {
		stats.Content = append(stats.Content, ystr("min_time"), ystr(cs.MinTimeAs))
	}
	if cs.MaxTimeAs != "" {
		stats.Content = append(stats.Content, ystr("max_time"), ystr(cs.MaxTimeAs))
	}
	if len(cs.Values) > 0 {
		vs := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, v := range cs.Values {
			vs.Content = append(vs.Content, ymap("field", ystr(v.Field), "as", ystr(v.As)))
		}
		stats.Content = append(stats.Content, ystr("values"), vs, ystr("values_limit"), yint(DefaultValuesLimit))
	}
	stats.Content = append(stats.Content, ystr("by"), yflow(cs.By, false))

	doc := ymap(
		"id", ystr(id),
		"name", ystr(name),
		"description", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: desc + "\n", Style: yaml.LiteralStyle},
		"search", ymap("spl", spl, "filter", filter),
		"stats", stats,
	)
	if desc == "" {
		doc.Content[5] = ystr("")
	}
	doc.Content[0].HeadComment = "# " + strings.Join(notes, "\n# ")
	if len(cs.Rename) > 0 {
		ren := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for _, b := range cs.By {
			if to, ok := cs.Rename[b]; ok {
				ren.Content = append(ren.Content, ystr(b), ystr(to))
			}
		}
		doc.Content = append(doc.Content, ystr("rename"), ren)
	}
	doc.Content = append(doc.Content,
		ystr("time_format"), yquoted("%Y-%m-%dT%H:%M:%S"),
		ystr("schedule"), ymap("window", ystr(fmtDur(w.Size)), "offset", ystr(fmtDur(w.Offset)), "lag", ystr(fmtDur(w.Lag))),
	)
	risk := ymap("object", ystr(r.ObjectField), "object_type", ystr(r.ObjectType), "score", yint(r.Score))
	if len(r.ThreatObjects) > 0 {
		risk.Content = append(risk.Content, ystr("threat_objects"), yflow(r.ThreatObjects, false), ystr("threat_object_type"), ystr(r.ThreatObjectType))
	}
	risk.Content = append(risk.Content, ystr("message"), ystr(r.Message))
	doc.Content = append(doc.Content, ystr("risk"), risk)
	if len(mitre) > 0 {
		doc.Content = append(doc.Content, ystr("mitre_attack"), yflow(mitre, false))
	}
	return &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{doc}}
}
