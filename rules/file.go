package rules

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/lestrrat-go/strftime"
	"go.yaml.in/yaml/v3"
)

// FileError is an invalid rule or tuning file: which file, which line, why.
// msixguard refuses to start on one rather than run a detection that is not
// the one the operator wrote.
type FileError struct {
	File   string
	Line   int
	Reason string
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Reason)
}

// ruleFile is the YAML form of a rule (docs/rules.md).
type ruleFile struct {
	ID          string `yaml:"id"`
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Search      struct {
		SPL    string      `yaml:"spl"`
		Filter []yaml.Node `yaml:"filter"`
	} `yaml:"search"`
	Stats struct {
		Count       string `yaml:"count"`
		MinTime     string `yaml:"min_time"`
		MaxTime     string `yaml:"max_time"`
		Values      []ValuesSpec
		ValuesLimit *int     `yaml:"values_limit"`
		By          []string `yaml:"by"`
	} `yaml:"stats"`
	Rename     map[string]string `yaml:"rename"`
	TimeFormat string            `yaml:"time_format"`
	Schedule   struct {
		Window string `yaml:"window"`
		Offset string `yaml:"offset"`
		Lag    string `yaml:"lag"`
	} `yaml:"schedule"`
	Risk struct {
		Object           string   `yaml:"object"`
		ObjectType       string   `yaml:"object_type"`
		Score            int      `yaml:"score"`
		ThreatObjects    []string `yaml:"threat_objects"`
		ThreatObjectType string   `yaml:"threat_object_type"`
		Message          string   `yaml:"message"`
	} `yaml:"risk"`
	MITRE []string `yaml:"mitre_attack"`
}

type conditionFile struct {
	Field     string    `yaml:"field"`
	Equals    yaml.Node `yaml:"equals"`
	NotEquals yaml.Node `yaml:"not_equals"`
	In        []string  `yaml:"in"`
	NotIn     []string  `yaml:"not_in"`
}

var (
	idPattern    = regexp.MustCompile(`^[a-z0-9_]+$`)
	fieldPattern = regexp.MustCompile(`^[A-Za-z_@][A-Za-z0-9_.@-]*$`)
	templateRef  = regexp.MustCompile(`\$([^$]*)\$`)
)

// Parse compiles one rule file. name is used in errors.
func Parse(name string, data []byte) (*Rule, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(name, err)
	}
	if len(root.Content) == 0 {
		return nil, &FileError{File: name, Reason: "empty rule file"}
	}
	var rf ruleFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&rf); err != nil {
		return nil, yamlError(name, err)
	}
	doc := root.Content[0]
	fail := func(reason string, path ...string) error {
		return &FileError{File: name, Line: lineOf(doc, path...), Reason: reason}
	}

	r := &Rule{
		ID: rf.ID, Name: rf.Name, Description: strings.TrimSpace(rf.Description), Source: name,
		By: rf.Stats.By, CountAs: rf.Stats.Count, MinTimeAs: rf.Stats.MinTime, MaxTimeAs: rf.Stats.MaxTime,
		Values: rf.Stats.Values, ValuesCap: DefaultValuesLimit, Rename: rf.Rename, TimeFormat: rf.TimeFormat,
		MITRE: rf.MITRE, Numeric: map[string]bool{},
		Risk: Risk{
			ObjectField: rf.Risk.Object, ObjectType: rf.Risk.ObjectType, Score: rf.Risk.Score,
			ThreatObjects: rf.Risk.ThreatObjects, ThreatObjectType: rf.Risk.ThreatObjectType, Message: rf.Risk.Message,
		},
	}
	if !idPattern.MatchString(r.ID) {
		return nil, fail("id must be lower-case letters, digits and underscores", "id")
	}
	if r.Name == "" {
		return nil, fail("name (the Splunk search_name) is required", "name")
	}
	if len(rf.Search.Filter) == 0 {
		return nil, fail("search.filter needs at least one condition", "search")
	}
	for i := range rf.Search.Filter {
		n := &rf.Search.Filter[i]
		c, err := parseCondition(n, func(f string) { r.Numeric[f] = true })
		if err != nil {
			line := n.Line
			var ne *nodeError
			if errors.As(err, &ne) {
				line = ne.line
			}
			return nil, &FileError{File: name, Line: line, Reason: "search.filter: " + err.Error()}
		}
		r.Filter = append(r.Filter, c)
	}
	if len(r.By) == 0 {
		return nil, fail("stats.by needs at least one field", "stats")
	}
	if err := checkFields(r.By); err != nil {
		return nil, fail("stats.by: "+err.Error(), "stats", "by")
	}
	if r.CountAs == "" {
		r.CountAs = "count"
	}
	if rf.Stats.ValuesLimit != nil {
		if *rf.Stats.ValuesLimit < 1 {
			return nil, fail("stats.values_limit must be at least 1", "stats", "values_limit")
		}
		r.ValuesCap = *rf.Stats.ValuesLimit
	}
	for _, v := range r.Values {
		if err := checkFields([]string{v.Field}); err != nil {
			return nil, fail("stats.values: "+err.Error(), "stats", "values")
		}
	}
	for i := range r.Values {
		if r.Values[i].As == "" {
			r.Values[i].As = r.Values[i].Field
		}
	}
	for from := range r.Rename {
		if !contains(r.By, from) {
			return nil, fail(fmt.Sprintf("rename: %q is not a stats by-field", from), "rename")
		}
	}
	if r.TimeFormat == "" {
		r.TimeFormat = "%Y-%m-%dT%H:%M:%S"
	}
	tf, err := strftime.New(r.TimeFormat)
	if err != nil {
		return nil, fail("time_format: "+err.Error(), "time_format")
	}
	r.timeFmt = tf
	if r.Window, err = parseSchedule(rf.Schedule.Window, rf.Schedule.Offset, rf.Schedule.Lag); err != nil {
		return nil, fail("schedule: "+err.Error(), "schedule")
	}
	outputs := r.outputFields()
	if r.Risk.ObjectField == "" || !outputs[r.Risk.ObjectField] {
		return nil, fail(fmt.Sprintf("risk.object %q must name an output field (%s)", r.Risk.ObjectField, keys(outputs)), "risk", "object")
	}
	if r.Risk.ObjectType == "" {
		return nil, fail("risk.object_type is required (system, user, …)", "risk")
	}
	if r.Risk.Score < 0 || r.Risk.Score > 100 {
		return nil, fail("risk.score must be between 0 and 100", "risk", "score")
	}
	for _, t := range r.Risk.ThreatObjects {
		if !outputs[t] {
			return nil, fail(fmt.Sprintf("risk.threat_objects: %q is not an output field", t), "risk", "threat_objects")
		}
	}
	for _, m := range templateRef.FindAllStringSubmatch(r.Risk.Message, -1) {
		if m[1] != "" && !outputs[m[1]] {
			return nil, fail(fmt.Sprintf("risk.message: $%s$ is not an output field", m[1]), "risk", "message")
		}
	}
	return r, nil
}

// outputFields are the names a risk message can reference.
func (r *Rule) outputFields() map[string]bool {
	out := map[string]bool{r.CountAs: true}
	for _, b := range r.By {
		out[r.OutputName(b)] = true
	}
	if r.MinTimeAs != "" {
		out[r.MinTimeAs] = true
	}
	if r.MaxTimeAs != "" {
		out[r.MaxTimeAs] = true
	}
	for _, v := range r.Values {
		out[v.As] = true
	}
	return out
}

// nodeError is an error in a nested condition, with its own line.
type nodeError struct {
	line int
	err  error
}

func (e *nodeError) Error() string { return e.err.Error() }
func (e *nodeError) Unwrap() error { return e.err }

// parseCondition reads one filter condition: {field: F, equals|not_equals|
// in|not_in: …}, or a group {any: [conditions]} (SPL's OR) or {all:
// [conditions]}. numeric is told of every field compared with a YAML
// number (equals/not_equals), whose by-field the risk message writes as a
// JSON number.
func parseCondition(n *yaml.Node, numeric func(field string)) (Condition, error) {
	if n.Kind != yaml.MappingNode {
		return Condition{}, errors.New("a condition is a mapping: {field: F, equals|not_equals|in|not_in: …} or {any|all: [conditions]}")
	}
	if len(n.Content) >= 2 && (n.Content[0].Value == "any" || n.Content[0].Value == "all") {
		op := Op(n.Content[0].Value)
		if len(n.Content) != 2 {
			return Condition{}, fmt.Errorf("a group is a mapping with one key, %s", op)
		}
		list := n.Content[1]
		if list.Kind != yaml.SequenceNode || len(list.Content) == 0 {
			return Condition{}, fmt.Errorf("%s takes a list of at least one condition", op)
		}
		g := Condition{Op: op}
		for _, sub := range list.Content {
			c, err := parseCondition(sub, numeric)
			if err != nil {
				var ne *nodeError
				if errors.As(err, &ne) {
					return Condition{}, err
				}
				return Condition{}, &nodeError{line: sub.Line, err: fmt.Errorf("%s: %w", op, err)}
			}
			g.Sub = append(g.Sub, c)
		}
		return g, nil
	}
	for i := 0; i < len(n.Content); i += 2 {
		switch k := n.Content[i].Value; k {
		case "field", "equals", "not_equals", "in", "not_in":
		default:
			return Condition{}, fmt.Errorf("field %s not found in condition (keys: field, equals, not_equals, in, not_in; or one of any, all)", k)
		}
	}
	var cf conditionFile
	if err := n.Decode(&cf); err != nil {
		return Condition{}, err
	}
	if err := checkFields([]string{cf.Field}); err != nil {
		return Condition{}, err
	}
	var ops []Condition
	if cf.Equals.Kind != 0 {
		if cf.Equals.Kind != yaml.ScalarNode {
			return Condition{}, errors.New("equals takes one value")
		}
		ops = append(ops, newCondition(cf.Field, OpEquals, []string{cf.Equals.Value}))
	}
	if cf.NotEquals.Kind != 0 {
		if cf.NotEquals.Kind != yaml.ScalarNode {
			return Condition{}, errors.New("not_equals takes one value")
		}
		ops = append(ops, newCondition(cf.Field, OpNotEquals, []string{cf.NotEquals.Value}))
	}
	if cf.In != nil {
		ops = append(ops, newCondition(cf.Field, OpIn, cf.In))
	}
	if cf.NotIn != nil {
		ops = append(ops, newCondition(cf.Field, OpNotIn, cf.NotIn))
	}
	if len(ops) != 1 {
		return Condition{}, fmt.Errorf("condition on %q needs exactly one of equals, not_equals, in, not_in", cf.Field)
	}
	if (ops[0].Op == OpIn || ops[0].Op == OpNotIn) && len(ops[0].Values) == 0 {
		return Condition{}, fmt.Errorf("%s on %q needs at least one value", ops[0].Op, cf.Field)
	}
	if c := ops[0]; c.Op == OpEquals || c.Op == OpNotEquals {
		if v := filterScalar(n, c.Op); v != nil && (v.Tag == "!!int" || v.Tag == "!!float") {
			numeric(c.Field)
		}
	}
	return ops[0], nil
}

// filterScalar returns the value node of an equals/not_equals condition.
func filterScalar(n *yaml.Node, op Op) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == string(op) {
			return n.Content[i+1]
		}
	}
	return nil
}

func checkFields(fs []string) error {
	for _, f := range fs {
		if !fieldPattern.MatchString(f) {
			return fmt.Errorf("%q is not a field name", f)
		}
	}
	return nil
}

func parseSchedule(window, offset, lag string) (Window, error) {
	w := Window{Size: time.Hour, Offset: 50 * time.Minute, Lag: 10 * time.Minute}
	var err error
	if window != "" {
		if w.Size, err = time.ParseDuration(window); err != nil {
			return w, fmt.Errorf("window: %w", err)
		}
	}
	if offset != "" {
		if w.Offset, err = time.ParseDuration(offset); err != nil {
			return w, fmt.Errorf("offset: %w", err)
		}
	}
	if lag != "" {
		if w.Lag, err = time.ParseDuration(lag); err != nil {
			return w, fmt.Errorf("lag: %w", err)
		}
	}
	switch {
	case w.Size < time.Second:
		return w, errors.New("window must be at least 1s")
	case w.Offset < 0 || w.Offset >= w.Size:
		return w, errors.New("offset must be in [0, window)")
	case w.Lag < 0:
		return w, errors.New("lag must not be negative")
	}
	return w, nil
}

// lineOf finds the line of a key path in a YAML mapping, or of the deepest
// key found, so errors point where the operator should look.
func lineOf(n *yaml.Node, path ...string) int {
	line := n.Line
	for _, key := range path {
		if n.Kind != yaml.MappingNode {
			return line
		}
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				line = n.Content[i].Line
				n = n.Content[i+1]
				found = true
				break
			}
		}
		if !found {
			return line
		}
	}
	return line
}

var yamlLine = regexp.MustCompile(`line (\d+): (.*)`)

// yamlError turns a yaml error into a FileError with its line.
func yamlError(name string, err error) error {
	var te *yaml.TypeError
	msg := err.Error()
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		var line int
		fmt.Sscanf(m[1], "%d", &line)
		return &FileError{File: name, Line: line, Reason: m[2]}
	}
	return &FileError{File: name, Reason: strings.TrimPrefix(msg, "yaml: ")}
}

// LoadFile parses one rule file from disk.
func LoadFile(path string) (*Rule, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read rule: %w", err)
	}
	return Parse(path, data)
}

// LoadDir parses every *.yml and *.yaml file of dir, sorted by name.
func LoadDir(dir string) ([]*Rule, error) {
	var paths []string
	for _, pat := range []string{"*.yml", "*.yaml"} {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			return nil, fmt.Errorf("list rules in %s: %w", dir, err)
		}
		paths = append(paths, m...)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no rule files (*.yml, *.yaml) in %s", dir)
	}
	sort.Strings(paths)
	var out []*Rule
	for _, p := range paths {
		r, err := LoadFile(p)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func keys(m map[string]bool) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}
