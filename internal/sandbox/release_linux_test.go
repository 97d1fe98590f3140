package sandbox

import (
	"debug/elf"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
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
	const bias = 0x55550000_0000
	got := readOnlySegments(progs, bias, 0x1000)
	want := []addrRange{
		{bias, bias + 0x17d1000},
		{bias + 0x17d2000, bias + 0x27d1000},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("readOnlySegments = %#x\nwant %#x", got, want)
	}
}

// TestCodeRangesOfThisBinary checks the ranges against this test
// binary's own memory map: each lies inside a mapping of the binary that
// is not writable.
func TestCodeRangesOfThisBinary(t *testing.T) {
	ranges, err := codeRanges()
	if err != nil {
		t.Fatal(err)
	}
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
		if uintptr(s) != covered.end {
			covered.start = uintptr(s)
		}
		covered.end = uintptr(e)
		if covered.start <= r.start && r.end <= covered.end {
			return true
		}
	}
	return false
}
