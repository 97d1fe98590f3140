package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"gust/internal/gusttest"
)

const usageApp = `def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"ok": True}
`

var usageReportRE = regexp.MustCompile(`(?m)^REPORT RequestId: \S+\tDuration: [\d.]+ ms\tBilled Duration: (\d+) ms\tMemory Size: (\d+) MB`)

// billedOf invokes name with LogType Tail and returns the REPORT line's
// billed milliseconds and memory size.
func billedOf(t *testing.T, c *lambda.Client, name, payload string) (billed, memoryMB int64) {
	t.Helper()
	out, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(payload), LogType: types.LogTypeTail})
	if err != nil {
		t.Fatalf("invoke %s: %v", name, err)
	}
	tail, _ := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
	m := usageReportRE.FindStringSubmatch(string(tail))
	if m == nil {
		t.Fatalf("invoke %s: no REPORT line in\n%s", name, tail)
	}
	billed, _ = strconv.ParseInt(m[1], 10, 64)
	memoryMB, _ = strconv.ParseInt(m[2], 10, 64)
	return billed, memoryMB
}

// usageJSON runs `gust usage --json` with args and decodes its lines.
func usageJSON(t *testing.T, args ...string) []usageRow {
	t.Helper()
	out, _ := mustRun(t, append([]string{"usage", "--json"}, args...)...)
	var rows []usageRow
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r usageRow
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("usage --json line %q: %v", line, err)
		}
		rows = append(rows, r)
	}
	return rows
}

func TestUsageCommand(t *testing.T) {
	srv := gusttest.StartServer(t)
	connectTo(t, srv)
	if err := os.WriteFile("app.py", []byte(usageApp), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "deploy", ".", "--name", "big", "--runtime", "python3.12", "--handler", "app.handler", "--memory", "512")
	mustRun(t, "deploy", ".", "--name", "small", "--runtime", "python3.12", "--handler", "app.handler")
	c := srv.Lambda()
	type total struct{ requests, billed, mbMs int64 }
	want := map[string]*total{"big": {}, "small": {}}
	for _, call := range []struct{ fn, payload string }{
		{"big", `{}`}, {"big", `{}`}, {"small", `{"fail":true}`}, {"big", `{}`},
	} {
		billed, mb := billedOf(t, c, call.fn, call.payload)
		w := want[call.fn]
		w.requests++
		w.billed += billed
		w.mbMs += billed * mb
	}

	rows := usageJSON(t)
	if len(rows) != 2 || rows[0].Function != "big" || rows[1].Function != "small" {
		t.Fatalf("usage --json rows = %+v, want big and small", rows)
	}
	for _, r := range rows {
		w := want[r.Function]
		gbs := float64(w.mbMs) / 1024000
		if r.Requests != w.requests || r.BilledMs != w.billed || r.GBSeconds != gbs {
			t.Errorf("%s: %d requests, %d ms, %v GB-s; REPORT lines say %d, %d ms, %v GB-s", r.Function, r.Requests, r.BilledMs, r.GBSeconds, w.requests, w.billed, gbs)
		}
		if cost := float64(w.requests)*0.20/1e6 + gbs*0.0000166667; math.Abs(r.CostUSD-cost) > 1e-12 || r.CostUSDAfterFreeTier != 0 {
			t.Errorf("%s: cost %v (after the free tier %v), want %v (0)", r.Function, r.CostUSD, r.CostUSDAfterFreeTier, cost)
		}
	}
	if rows[1].Errors != 1 || rows[0].Errors != 0 {
		t.Errorf("errors: big %d, small %d; want 0 and 1", rows[0].Errors, rows[1].Errors)
	}

	// Other prices: a dollar per request and free compute.
	for _, r := range usageJSON(t, "--price-requests", "1000000", "--price-gbs", "0") {
		if r.CostUSD != float64(r.Requests) {
			t.Errorf("%s at $1 a request: cost %v for %d requests", r.Function, r.CostUSD, r.Requests)
		}
	}
	day := usageJSON(t, "--by", "day", "--since", "2d")
	if len(day) != 1 || day[0].Day != time.Now().UTC().Format(time.DateOnly) || day[0].Requests != 4 {
		t.Errorf("usage --by day = %+v, want today with 4 requests", day)
	}
	if out, _ := mustRun(t, "usage", "--since", time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "--json"); out != "" {
		t.Errorf("usage since an hour ahead printed %q, want nothing", out)
	}

	table, _ := mustRun(t, "usage")
	for _, want := range []string{"FUNCTION", "REQUESTS", "BILLED MS", "GB-S", "COST USD", "AFTER FREE TIER", "big", "small", "total"} {
		if !strings.Contains(table, want) {
			t.Errorf("usage table lacks %q:\n%s", want, table)
		}
	}
	for _, bad := range [][]string{{"--by", "week"}, {"--since", "yesterday"}, {"--price-gbs", "-1"}} {
		if code, _, errOut := runCLI(t, "", append([]string{"usage"}, bad...)...); code != 2 {
			t.Errorf("gust usage %s: exit %d, want 2 (usage error)\n%s", strings.Join(bad, " "), code, errOut)
		}
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2025, 8, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"24h", now.Add(-24 * time.Hour)},
		{"90m", now.Add(-90 * time.Minute)},
		{"7d", now.AddDate(0, 0, -7)},
		{"2025-08-01", time.Date(2025, 8, 1, 0, 0, 0, 0, time.UTC)},
		{"2025-08-01T12:30:00Z", time.Date(2025, 8, 1, 12, 30, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		got, err := parseSince(tt.in, now)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "yesterday", "-5h", "d"} {
		if got, err := parseSince(bad, now); err == nil {
			t.Errorf("parseSince(%q) = %v, want an error", bad, got)
		}
	}
}
