package rules

import (
	"bytes"
	"fmt"
	"os"
	"sort"

	"go.yaml.in/yaml/v3"
)

// Macro maps a Splunk source macro (the leading `wineventlog_…` of a
// detection) to msixguard conditions. In Splunk the macro names an index,
// source or sourcetype; msixguard reads whatever topic it is given, so a
// macro usually adds no condition, or a condition on a field the events
// carry (Channel, Provider).
type Macro struct {
	Name string
	// Search is SPL search terms of the supported subset that the macro
	// stands for in msixguard ("" adds no condition).
	Search string
	// Note goes into the imported rule as a comment.
	Note  string
	conds []SPLCondition
}

// MacroTable maps macro names (as written between the backticks) to macros.
type MacroTable map[string]Macro

// The built-in macro table.
var builtinMacros = []Macro{{
	Name: "wineventlog_appxdeploymentserver",
	Note: `in Splunk: source="XmlWinEventLog:Microsoft-Windows-AppXDeploymentServer/Operational". ` +
		`msixguard adds no condition: it reads the topic it is given, and normalized JSON events carry no Channel field.`,
}}

// DefaultMacros returns a fresh copy of the built-in macro table.
func DefaultMacros() MacroTable {
	t := MacroTable{}
	for _, m := range builtinMacros {
		t[m.Name] = m
	}
	return t
}

// Names returns the macro names, sorted.
func (t MacroTable) Names() []string {
	out := make([]string, 0, len(t))
	for n := range t {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

type macroFile struct {
	Macros []struct {
		Name   string `yaml:"name"`
		Search string `yaml:"search"`
		Note   string `yaml:"note"`
	} `yaml:"macros"`
}

// ParseMacros reads a macro table file and adds its macros to t (a macro of
// the file replaces one of the same name). name is used in errors.
//
//	macros:
//	  - name: wineventlog_security
//	    search: Channel="Security"     # SPL terms; omit for no condition
//	    note: Security log
func (t MacroTable) ParseMacros(name string, data []byte) error {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return yamlError(name, err)
	}
	var mf macroFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&mf); err != nil {
		return yamlError(name, err)
	}
	var items []*yaml.Node
	if len(root.Content) > 0 {
		if n := valueNode(root.Content[0], "macros"); n != nil {
			items = n.Content
		}
	}
	for i, m := range mf.Macros {
		line := 0
		if i < len(items) {
			line = items[i].Line
		}
		if m.Name == "" {
			return &FileError{File: name, Line: line, Reason: "a macro needs a name"}
		}
		mac := Macro{Name: m.Name, Search: m.Search, Note: m.Note}
		if m.Search != "" {
			toks, err := splLex(m.Search)
			if err == nil {
				segs, pipes := splSegments(toks)
				if len(pipes) > 0 {
					err = &SPLError{pipes[0], m.Search[pipes[0]:], "a macro stands for search terms only"}
				} else {
					mac.conds, err = compileTerms(m.Search, segs[0])
				}
			}
			if err != nil {
				return &FileError{File: name, Line: line, Reason: fmt.Sprintf("macro %s: search: %v", m.Name, err)}
			}
		}
		t[m.Name] = mac
	}
	return nil
}

// LoadMacros reads a macro table file into t.
func (t MacroTable) LoadMacros(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read macros: %w", err)
	}
	return t.ParseMacros(path, data)
}
