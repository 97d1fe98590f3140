package invoke

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"gust/internal/envpool"
	"gust/internal/lambda"
	"gust/internal/tracing"
)

// tracingActive is TracingConfig.Mode Active: Lambda samples invocations
// that arrive without a sampling decision.
const tracingActive = "Active"

// startTrace starts the invocation's OpenTelemetry trace; nil when export
// is off.
func (s *Service) startTrace(ctx context.Context, fn *lambda.Function, req Request, invoked, requestID string, header tracing.Header, caller string) *tracing.Invocation {
	if s.tracer == nil {
		return nil
	}
	trigger := "http"
	if !req.Enqueued.IsZero() {
		trigger = "pubsub"
	}
	return s.tracer.StartInvocation(ctx, tracing.InvocationInfo{
		Function: fn.Name, Version: fn.Version, RequestID: requestID, InvokedARN: invoked,
		Trigger: trigger, Header: header, Caller: caller, Enqueued: req.Enqueued,
	})
}

// undeliveredOr is the outcome's error type for the trace, naming an event
// the runtime never took.
func undeliveredOr(o envpool.Outcome) string {
	if o.Undelivered {
		return "Undelivered"
	}
	return o.ErrorType
}

// errorCode is the exception name of a platform error, for the trace.
func errorCode(err error) string {
	var lerr *lambda.Error
	if errors.As(err, &lerr) {
		return lerr.Code
	}
	return "ServiceException"
}

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
