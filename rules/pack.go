package rules

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Rule packs are sets of rules shipped inside the binary that do not run
// unless selected (--rules pack:NAME): the default rules stay the built-in
// seed rule. A pack is a folder of packs/ with a pack.yml manifest and rule
// files; the manifest can include built-in rules by id.

// PackPrefix selects a pack where rule paths are accepted.
const PackPrefix = "pack:"

//go:embed packs/appx/*.yml
var packFS embed.FS

const packManifest = "pack.yml"

// PackInfo describes one pack.
type PackInfo struct {
	Name        string
	Description string
	Builtin     []string // ids of the built-in rules it includes
	Files       []string // its own rule files
}

type packFile struct {
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Builtin     []string `yaml:"builtin"`
}

// Packs lists the shipped packs, sorted by name.
func Packs() ([]PackInfo, error) {
	dirs, err := fs.ReadDir(packFS, "packs")
	if err != nil {
		return nil, fmt.Errorf("list rule packs: %w", err)
	}
	var out []PackInfo
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		p, err := packInfo(d.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func packInfo(name string) (PackInfo, error) {
	dir := path.Join("packs", name)
	data, err := packFS.ReadFile(path.Join(dir, packManifest))
	if err != nil {
		return PackInfo{}, fmt.Errorf("rule pack %q: %w", name, err)
	}
	var pf packFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&pf); err != nil {
		return PackInfo{}, yamlError(PackPrefix+name+"/"+packManifest, err)
	}
	if pf.Name != name {
		return PackInfo{}, fmt.Errorf("rule pack %q: manifest names it %q", name, pf.Name)
	}
	files, err := fs.Glob(packFS, path.Join(dir, "*.yml"))
	if err != nil {
		return PackInfo{}, err
	}
	info := PackInfo{Name: name, Description: pf.Description, Builtin: pf.Builtin}
	for _, f := range files {
		if path.Base(f) != packManifest {
			info.Files = append(info.Files, f)
		}
	}
	sort.Strings(info.Files)
	return info, nil
}

// Pack returns the rules of the named pack: its built-in rules first (as
// Builtin returns them, Source "builtin"), then its own files (Source
// "pack:NAME/FILE").
func Pack(name string) ([]*Rule, error) {
	var names []string
	packs, err := Packs()
	if err != nil {
		return nil, err
	}
	var info *PackInfo
	for i := range packs {
		names = append(names, packs[i].Name)
		if packs[i].Name == name {
			info = &packs[i]
		}
	}
	if info == nil {
		return nil, fmt.Errorf("no rule pack %q (packs: %s)", name, strings.Join(names, ", "))
	}
	var out []*Rule
	if len(info.Builtin) > 0 {
		builtin, err := Builtin()
		if err != nil {
			return nil, err
		}
		for _, id := range info.Builtin {
			var found *Rule
			for _, r := range builtin {
				if r.ID == id {
					found = r
				}
			}
			if found == nil {
				return nil, fmt.Errorf("rule pack %q: no built-in rule %q", name, id)
			}
			out = append(out, found)
		}
	}
	for _, f := range info.Files {
		data, err := packFS.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("rule pack %q: %w", name, err)
		}
		src := PackPrefix + name + "/" + path.Base(f)
		r, err := Parse(src, data)
		if err != nil {
			return nil, err
		}
		r.Source = src
		out = append(out, r)
	}
	return out, nil
}
