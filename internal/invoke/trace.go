package invoke

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"
)

// Lambda's recursive-loop detection rides on the X-Ray trace header: each
// async hop carries Lineage=<version>:<hash>:<count>, which SDKs inside a
// function forward (from _X_AMZN_TRACE_ID) on the calls they make.
const lineageVersion = "1"

// LineageHops is the loop count in a trace header's Lineage field, 0 if
// there is none or it does not parse.
func LineageHops(trace string) int {
	for field := range strings.SplitSeq(trace, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(field), "=")
		if !ok || k != "Lineage" {
			continue
		}
		i := strings.LastIndexByte(v, ':')
		n, err := strconv.Atoi(v[i+1:])
		if err != nil || n < 0 {
			return 0
		}
		return n
	}
	return 0
}

// WithLineage returns trace with its Lineage count set to hops, starting a
// new trace (Root, Parent, Sampled=0) when trace is empty.
func WithLineage(trace string, hops int) string {
	if strings.TrimSpace(trace) == "" {
		trace = NewTraceID()
	}
	var kept []string
	for field := range strings.SplitSeq(trace, ";") {
		if k, _, _ := strings.Cut(strings.TrimSpace(field), "="); k != "Lineage" && field != "" {
			kept = append(kept, strings.TrimSpace(field))
		}
	}
	return strings.Join(kept, ";") + fmt.Sprintf(";Lineage=%s:%s:%d", lineageVersion, rootHash(trace), hops)
}

// NewTraceID is a fresh, unsampled X-Ray trace header.
func NewTraceID() string {
	var b [20]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0", time.Now().Unix(), hex.EncodeToString(b[:12]), hex.EncodeToString(b[12:]))
}

// rootHash is a short stable tag of the trace's Root, so one loop keeps
// one Lineage hash.
func rootHash(trace string) string {
	root := trace
	for field := range strings.SplitSeq(trace, ";") {
		if k, v, _ := strings.Cut(strings.TrimSpace(field), "="); k == "Root" {
			root = v
		}
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(root))
	return fmt.Sprintf("%08x", h.Sum32())
}
