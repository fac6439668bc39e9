package event

import (
	"strings"
	"testing"
	"unsafe"
)

func TestParsePackages(t *testing.T) {
	cases := []struct {
		moniker string
		want    []string // full names
	}{
		{" addPackageList: Microsoft.DesktopAppInstaller_1.26.430.0_neutral_split.scale-100_8wekyb3d8bbwe Microsoft.DesktopAppInstaller_2025.717.1857.0_neutral_~_8wekyb3d8bbwe updateList: Microsoft.DesktopAppInstaller_1.26.429.0_x64__8wekyb3d8bbwe is updating to Microsoft.DesktopAppInstaller_1.26.430.0_x64__8wekyb3d8bbwe",
			[]string{"Microsoft.DesktopAppInstaller_1.26.430.0_neutral_split.scale-100_8wekyb3d8bbwe", "Microsoft.DesktopAppInstaller_2025.717.1857.0_neutral_~_8wekyb3d8bbwe", "Microsoft.DesktopAppInstaller_1.26.429.0_x64__8wekyb3d8bbwe", "Microsoft.DesktopAppInstaller_1.26.430.0_x64__8wekyb3d8bbwe"}},
		{"A_1.0.0.0_x64__z0p5db6dqbn1q\tA_1.0.0.0_x64__z0p5db6dqbn1q", []string{"A_1.0.0.0_x64__z0p5db6dqbn1q"}},
		{"A_1.0.0_x64__z0p5db6dqbn1q", nil},    // three-part version
		{"A_1.0.0.0._x64__z0p5db6dqbn1q", nil}, // trailing dot
		{"A_1..0.0_x64__z0p5db6dqbn1q", nil},   // empty part
		{"A_1.0.0.0_x64__z0p5db6dqbn1", nil},   // 12-character publisher
		{"A_1.0.0.0_x64___z0p5db6dqbn1q", nil}, // five underscores
		{"_1.0.0.0_x64__z0p5db6dqbn1q", nil},   // no name
		{"", nil},
		{"   ", nil},
	}
	for _, c := range cases {
		var got []string
		for _, p := range ParsePackages(c.moniker) {
			got = append(got, p.FullName)
		}
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%q: got %v, want %v", c.moniker, got, c.want)
		}
	}
	p := ParsePackages("Contoso.App_1.2.3.4_arm64_~_2c51gcrce8043")[0]
	if p.Name != "Contoso.App" || p.Version != "1.2.3.4" || p.Architecture != "arm64" || p.ResourceID != "~" || p.PublisherID != "2c51gcrce8043" {
		t.Fatalf("%+v", p)
	}
	if n := len(ParsePackages(strings.Repeat("A_1.0.0.0_x64__z0p5db6dqbn1q B_1.0.0.0_x64__z0p5db6dqbn1q ", 1) + strings.Repeat("x ", 10))); n != 2 {
		t.Fatalf("%d packages", n)
	}
}

func FuzzParsePackages(f *testing.F) {
	f.Add(" addPackageList: Contoso.App_1.0.0.0_x64__z0p5db6dqbn1q updateList: A is updating to B")
	f.Fuzz(func(t *testing.T, s string) {
		ps := ParsePackages(s)
		if len(ps) > MaxPackagesPerMoniker {
			t.Fatalf("%d packages", len(ps))
		}
		for _, p := range ps {
			if !strings.Contains(s, p.FullName) || p.Name+"_"+p.Version+"_"+p.Architecture+"_"+p.ResourceID+"_"+p.PublisherID != p.FullName {
				t.Fatalf("%+v from %q", p, s)
			}
		}
	})
}

func TestPackageCompact(t *testing.T) {
	// From a parse: every field lies in one copy of the full name.
	src := []byte("x Contoso.App_1.2.3.4_arm64_~_2c51gcrce8043 y")
	p := ParsePackages(string(src))[0]
	c := p.Compact()
	if c != p {
		t.Fatalf("compact changed the package: %+v -> %+v", p, c)
	}
	full := c.FullName
	for _, f := range []string{c.Name, c.Version, c.Architecture, c.ResourceID, c.PublisherID} {
		if !strings.Contains(full, f) || (len(f) > 0 && !sameMemory(full, f)) {
			t.Fatalf("field %q is not a slice of %q", f, full)
		}
	}
	// Fields that do not match the full name are kept as they are.
	odd := Package{FullName: "A_1.0.0.0_x64__z0p5db6dqbn1q", Name: "B", Version: "1", Architecture: "x", PublisherID: "p"}
	if got := odd.Compact(); got != odd {
		t.Fatalf("odd package changed: %+v", got)
	}
	// With Compact, MergePackages keeps compact copies, also of a package
	// whose fields were decoded into separate strings.
	sep := Package{FullName: strings.Clone(p.FullName), Name: strings.Clone(p.Name), Version: strings.Clone(p.Version),
		Architecture: strings.Clone(p.Architecture), ResourceID: strings.Clone(p.ResourceID), PublisherID: strings.Clone(p.PublisherID)}
	set, _ := MergePackages(nil, []Package{sep}, 0, Package.Compact)
	if !sameMemory(set[0].FullName, set[0].Name) {
		t.Fatal("merged package is not compact")
	}
}

// sameMemory tells whether part lies inside whole's bytes.
func sameMemory(whole, part string) bool {
	w, p := unsafe.StringData(whole), unsafe.StringData(part)
	return uintptr(unsafe.Pointer(p)) >= uintptr(unsafe.Pointer(w)) &&
		uintptr(unsafe.Pointer(p))+uintptr(len(part)) <= uintptr(unsafe.Pointer(w))+uintptr(len(whole))
}

func TestPackageIn(t *testing.T) {
	p := ParsePackages("Contoso.App_1.2.3.4_arm64_~_2c51gcrce8043")[0]
	blob := "key" + p.FullName + "rest"
	full := blob[3 : 3+len(p.FullName)]
	got := p.In(full)
	if got != p || !sameMemory(full, got.FullName) || !sameMemory(full, got.Name) || !sameMemory(full, got.PublisherID) {
		t.Fatalf("In: %+v", got)
	}
	odd := Package{FullName: p.FullName, Name: "other"}
	if got := odd.In(full); got != odd || sameMemory(full, got.FullName) {
		t.Fatalf("In of an inconsistent package: %+v", got)
	}
}
