package usage

import (
	"time"

	"gust/internal/envpool"
)

// Record is one metered invocation as stored in GUST_USAGE. Keys are
// short: a record is written for every invocation and kept for months.
type Record struct {
	Time         time.Time `json:"t"` // when the runtime took the event (or the failed init began)
	Function     string    `json:"fn"`
	Version      string    `json:"v"`
	RequestID    string    `json:"id"`
	BilledMs     int64     `json:"ms"` // REPORT's Billed Duration: init + invoke on a cold start
	MemoryMB     int       `json:"mb"`
	GBSeconds    float64   `json:"gbs"` // BilledMs/1000 × MemoryMB/1024
	Architecture string    `json:"arch"`
	Error        string    `json:"err,omitempty"` // the error type, "" on success
}

// recordOf is the Record of one REPORT line.
func recordOf(inv envpool.Invocation) Record {
	return Record{
		Time:         inv.Start.UTC(),
		Function:     inv.Function,
		Version:      inv.Version,
		RequestID:    inv.RequestID,
		BilledMs:     inv.BilledMs,
		MemoryMB:     inv.MemoryMB,
		GBSeconds:    gbSeconds(inv.BilledMs * int64(inv.MemoryMB)),
		Architecture: inv.Architecture,
		Error:        inv.ErrorType,
	}
}

// mbMsPerGBSecond converts MB-milliseconds, which sum exactly, into
// GB-seconds: 1024 MB × 1000 ms.
const mbMsPerGBSecond = 1024 * 1000

func gbSeconds(mbMs int64) float64 { return float64(mbMs) / mbMsPerGBSecond }

// subject is where a function's records are published.
func subject(function string) string { return "gust.usage." + function }
