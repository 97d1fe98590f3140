package sandbox

import (
	"debug/elf"
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// The init runs almost all of the gust binary once, at start-up (the
// package initializers of everything it links, then the set-up), and
// afterwards only its small supervision loop. Left mapped, those pages
// count in the environment's RSS for as long as it lives (about 24 MB of
// the binary's 26), and each costs a page-table entry and reverse-map
// work. So once the runtime has started, the init drops its page-table
// entries for the binary's code and read-only data (releaseCode). The
// pages stay in the page cache, shared with the server and every other
// environment; whatever the init touches again comes back with a minor
// fault.

// addrRange is a page-aligned range of this process's addresses.
type addrRange struct{ start, end uintptr }

// atPHDR is the auxiliary vector's entry for the address of the program
// headers (AT_PHDR in <elf.h>).
const atPHDR = 3

// codeRanges returns the ranges of this binary's loadable segments that
// the loader maps without write permission and never writes: its code and
// read-only data. A segment the dynamic linker relocates before
// protecting it (PT_GNU_RELRO) is left out, as dropping its pages would
// lose what was written; so are partial pages at a segment's ends.
func codeRanges() ([]addrRange, error) {
	f, err := elf.Open("/proc/self/exe")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if textrel, _ := f.DynValue(elf.DT_TEXTREL); len(textrel) > 0 {
		return nil, errors.New("the binary's code is relocated in place")
	}
	if flags, _ := f.DynValue(elf.DT_FLAGS); len(flags) > 0 && elf.DynFlag(flags[0])&elf.DF_TEXTREL != 0 {
		return nil, errors.New("the binary's code is relocated in place")
	}
	var bias uintptr // the load address of a position-independent binary
	if f.Type == elf.ET_DYN {
		if bias, err = loadBias(f.Progs); err != nil {
			return nil, err
		}
	}
	return readOnlySegments(f.Progs, bias, uintptr(os.Getpagesize())), nil
}

// loadBias is where a position-independent binary was loaded: the
// program headers' address in memory less their address in the file's
// layout.
func loadBias(progs []*elf.Prog) (uintptr, error) {
	auxv, err := unix.Auxv()
	if err != nil {
		return 0, err
	}
	for _, p := range progs {
		if p.Type != elf.PT_PHDR {
			continue
		}
		for _, kv := range auxv {
			if kv[0] == atPHDR {
				return kv[1] - uintptr(p.Vaddr), nil
			}
		}
	}
	return 0, errors.New("no program header address to place the binary by")
}

// readOnlySegments returns, page-aligned inward, the PT_LOAD segments of
// progs without write permission, less every PT_GNU_RELRO segment, each
// moved by bias.
func readOnlySegments(progs []*elf.Prog, bias, page uintptr) []addrRange {
	down := func(a uintptr) uintptr { return a &^ (page - 1) }
	up := func(a uintptr) uintptr { return down(a + page - 1) }
	var written []addrRange
	for _, p := range progs {
		if p.Type == elf.PT_GNU_RELRO || p.Type == elf.PT_LOAD && p.Flags&elf.PF_W != 0 {
			start := bias + uintptr(p.Vaddr)
			written = append(written, addrRange{down(start), up(start + uintptr(p.Memsz))})
		}
	}
	var out []addrRange
	for _, p := range progs {
		if p.Type != elf.PT_LOAD || p.Flags&elf.PF_W != 0 {
			continue
		}
		start := bias + uintptr(p.Vaddr)
		parts := []addrRange{{up(start), down(start + uintptr(p.Memsz))}}
		for _, w := range written {
			parts = subtract(parts, w)
		}
		out = append(out, parts...)
	}
	return out
}

// subtract returns the parts of rs outside w, dropping empty ones.
func subtract(rs []addrRange, w addrRange) []addrRange {
	var out []addrRange
	for _, r := range rs {
		if r.end <= w.start || w.end <= r.start {
			if r.start < r.end {
				out = append(out, r)
			}
			continue
		}
		if r.start < w.start {
			out = append(out, addrRange{r.start, w.start})
		}
		if w.end < r.end {
			out = append(out, addrRange{w.end, r.end})
		}
	}
	return out
}

// releaseCode drops this process's page-table entries for ranges (from
// codeRanges). It is best effort: a range that fails stays mapped.
func releaseCode(ranges []addrRange) {
	for _, r := range ranges {
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, r.start, r.end-r.start, unix.MADV_DONTNEED)
	}
}
