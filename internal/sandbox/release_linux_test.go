package sandbox

import (
	"debug/elf"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestReadOnlySegments(t *testing.T) {
	load := func(vaddr, memsz uint64, flags elf.ProgFlag) *elf.Prog {
		return &elf.Prog{ProgHeader: elf.ProgHeader{Type: elf.PT_LOAD, Vaddr: vaddr, Memsz: memsz, Flags: flags}}
	}
	progs := []*elf.Prog{
		{ProgHeader: elf.ProgHeader{Type: elf.PT_PHDR, Vaddr: 0x40, Memsz: 0x1f8, Flags: elf.PF_R}},
		load(0x0, 0x17d1a40, elf.PF_R|elf.PF_X), // code: its last, partial page stays
		load(0x17d2000, 0x1000000, elf.PF_R),    // read-only data, its tail relocated
		{ProgHeader: elf.ProgHeader{Type: elf.PT_GNU_RELRO, Vaddr: 0x27d1800, Memsz: 0x900, Flags: elf.PF_R}},
		load(0x27d2200, 0x5000, elf.PF_R|elf.PF_W), // data: shares its first page with the RELRO
	}
	got := readOnlySegments(progs, 0x1000)
	want := []addrRange{
		{0, 0x17d1000},
		{0x17d2000, 0x27d1000},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("readOnlySegments = %#x\nwant %#x", got, want)
	}
}

// TestPlacePositionIndependentCode: a position-independent binary's
// ranges move by its load address, read from the auxiliary vector.
func TestPlacePositionIndependentCode(t *testing.T) {
	auxv, err := unix.Auxv()
	if err != nil {
		t.Fatal(err)
	}
	var phdr uintptr
	for _, kv := range auxv {
		if kv[0] == atPHDR {
			phdr = kv[1]
		}
	}
	if phdr == 0 {
		t.Fatal("no AT_PHDR in the auxiliary vector")
	}
	const bias = 0x5000
	l := &codeLayout{Ranges: []addrRange{{0x1000, 0x3000}}, PIE: true, PHDR: phdr - bias}
	if got, want := l.place(), []addrRange{{0x1000 + bias, 0x3000 + bias}}; !reflect.DeepEqual(got, want) {
		t.Errorf("place() = %#x, want %#x", got, want)
	}
	if (*codeLayout)(nil).place() != nil {
		t.Error("a nil layout placed ranges")
	}
}

// TestCodeLayoutOfThisBinary checks the placed ranges against this test
// binary's own memory map: each lies inside a mapping of the binary that
// is not writable.
func TestCodeLayoutOfThisBinary(t *testing.T) {
	l, err := readCodeLayout()
	if err != nil {
		t.Fatal(err)
	}
	ranges := l.place()
	if len(ranges) == 0 {
		t.Fatal("no ranges")
	}
	maps := readMaps(t)
	for _, r := range ranges {
		if !insideReadOnlyMapping(maps, r) {
			t.Errorf("range %#x is not inside a read-only mapping of the binary:\n%s", r, maps)
		}
	}
}

// readMaps returns /proc/self/maps.
func readMaps(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// insideReadOnlyMapping reports whether r lies within mappings of this
// binary without write permission, contiguous ones taken together.
func insideReadOnlyMapping(maps string, r addrRange) bool {
	exe, err := os.Executable()
	if err != nil {
		return false
	}
	var covered addrRange // the contiguous read-only run being read
	for _, line := range strings.Split(maps, "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || f[5] != exe || f[1][1] == 'w' {
			continue
		}
		lo, hi, _ := strings.Cut(f[0], "-")
		s, err1 := strconv.ParseUint(lo, 16, 64)
		e, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		if uintptr(s) != covered.End {
			covered.Start = uintptr(s)
		}
		covered.End = uintptr(e)
		if covered.Start <= r.Start && r.End <= covered.End {
			return true
		}
	}
	return false
}
