package sandbox

import (
	"debug/elf"
	"errors"
	"os"
	"slices"
	"sync"

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

// addrRange is a page-aligned range of addresses.
type addrRange struct{ Start, End uintptr }

// codeLayout is where the binary's code and read-only data lie, from its
// ELF headers. The server reads them once (binaryCode) and sends them to
// every init in initShell: the init is the same binary, so the layout is
// its own, and it only has to place it at its load address (place).
type codeLayout struct {
	Ranges []addrRange // in the file's address layout
	PIE    bool        // position-independent: loaded at an address of its own
	PHDR   uintptr     // the program headers' address in the file's layout
}

// binaryCode is this binary's codeLayout, or nil where it cannot be read
// (then inits keep their pages).
var binaryCode = sync.OnceValue(func() *codeLayout {
	l, err := readCodeLayout()
	if err != nil {
		return nil
	}
	return l
})

// readCodeLayout reads the ranges of this binary's loadable segments that
// the loader maps without write permission and never writes: its code and
// read-only data. A segment the dynamic linker relocates before
// protecting it (PT_GNU_RELRO) is left out, as dropping its pages would
// lose what was written; so are partial pages at a segment's ends.
func readCodeLayout() (*codeLayout, error) {
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
	l := &codeLayout{Ranges: readOnlySegments(f.Progs, uintptr(os.Getpagesize())), PIE: f.Type == elf.ET_DYN}
	if l.PIE {
		i := slices.IndexFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_PHDR })
		if i < 0 {
			return nil, errors.New("no program header segment to place the binary by")
		}
		l.PHDR = uintptr(f.Progs[i].Vaddr)
	}
	return l, nil
}

// atPHDR is the auxiliary vector's entry for the address of the program
// headers (AT_PHDR in <elf.h>).
const atPHDR = 3

// place returns l's ranges at this process's load address: a
// position-independent binary's are moved by where its program headers
// are in memory less where they are in the file. Nil for a nil l, or
// when the load address cannot be found.
func (l *codeLayout) place() []addrRange {
	if l == nil {
		return nil
	}
	if !l.PIE {
		return l.Ranges
	}
	auxv, err := unix.Auxv()
	if err != nil {
		return nil
	}
	i := slices.IndexFunc(auxv, func(kv [2]uintptr) bool { return kv[0] == atPHDR })
	if i < 0 {
		return nil
	}
	bias := auxv[i][1] - l.PHDR
	out := make([]addrRange, len(l.Ranges))
	for j, r := range l.Ranges {
		out[j] = addrRange{r.Start + bias, r.End + bias}
	}
	return out
}

// readOnlySegments returns, page-aligned inward, the PT_LOAD segments of
// progs without write permission, less every PT_GNU_RELRO segment.
func readOnlySegments(progs []*elf.Prog, page uintptr) []addrRange {
	down := func(a uintptr) uintptr { return a &^ (page - 1) }
	up := func(a uintptr) uintptr { return down(a + page - 1) }
	var written []addrRange
	for _, p := range progs {
		if p.Type == elf.PT_GNU_RELRO || p.Type == elf.PT_LOAD && p.Flags&elf.PF_W != 0 {
			start := uintptr(p.Vaddr)
			written = append(written, addrRange{down(start), up(start + uintptr(p.Memsz))})
		}
	}
	var out []addrRange
	for _, p := range progs {
		if p.Type != elf.PT_LOAD || p.Flags&elf.PF_W != 0 {
			continue
		}
		start := uintptr(p.Vaddr)
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
		if r.End <= w.Start || w.End <= r.Start {
			if r.Start < r.End {
				out = append(out, r)
			}
			continue
		}
		if r.Start < w.Start {
			out = append(out, addrRange{r.Start, w.Start})
		}
		if w.End < r.End {
			out = append(out, addrRange{w.End, r.End})
		}
	}
	return out
}

// releaseCode drops this process's page-table entries for ranges (from
// codeLayout.place). It is best effort: a range that fails stays mapped.
func releaseCode(ranges []addrRange) {
	for _, r := range ranges {
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, r.Start, r.End-r.Start, unix.MADV_DONTNEED)
	}
}
