package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"gust/internal/usage"
)

// usageRow is one line of `gust usage --json`.
type usageRow struct {
	Function             string  `json:"function"`
	Day                  string  `json:"day,omitempty"`
	Requests             int64   `json:"requests"`
	Errors               int64   `json:"errors"`
	BilledMs             int64   `json:"billed_ms"`
	GBSeconds            float64 `json:"gb_seconds"`
	GBSecondsArm64       float64 `json:"gb_seconds_arm64"`
	CostUSD              float64 `json:"cost_usd"`
	CostUSDAfterFreeTier float64 `json:"cost_usd_after_free_tier"`
}

func (a *app) usageCommand() *cobra.Command {
	var (
		since, by string
		asJSON    bool
		prices    = usage.ListPrices
	)
	cmd := &cobra.Command{
		Use:   "usage [--since 24h] [--by function|day] [--json]",
		Short: "Show invocations, billed time and what they would cost on AWS Lambda",
		Long: `Show what the server's functions ran: requests, errors, billed
milliseconds and GB-seconds (billed seconds × memory in GB), per function or
per UTC day, and what the same usage would cost on AWS Lambda.

Billed time is what each invocation's REPORT line says: the invocation
rounded up to the millisecond, plus the init phase on a cold start (Lambda
bills it since August 2025). Every invocation is recorded as it ends and
kept 400 days.

Costs use Lambda's on-demand list prices ($0.20 per million requests,
$0.0000166667 per GB-second on x86_64, $0.0000133334 on arm64), before and
after the monthly free tier (1M requests and 400,000 GB-seconds), which is
applied once to the whole period's totals and shared among the rows in
proportion to their use. --price-requests and --price-gbs set other prices;
--price-gbs applies to arm64 too unless --price-gbs-arm64 is given.

--since takes a duration back from now (90m, 24h, 7d) or a time
(2025-08-01, 2025-08-01T12:00:00Z). With --json each row is printed as one
JSON object per line: function, day (with --by day), requests, errors,
billed_ms, gb_seconds, gb_seconds_arm64, cost_usd and
cost_usd_after_free_tier.`,
		Example: `  gust usage
  gust usage --since 30d --by day
  gust usage --since 2025-08-01 --json | jq -s 'map(.cost_usd) | add'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			from, err := parseSince(since, time.Now())
			if err != nil {
				return usageError{cmd: cmd, err: err}
			}
			if !usage.ValidGrouping(by) {
				return usageError{cmd: cmd, err: fmt.Errorf("--by must be %s or %s, not %q", usage.ByFunction, usage.ByDay, by)}
			}
			if prices.PerMillionRequests < 0 || prices.PerGBSecond < 0 || prices.PerGBSecondArm64 < 0 {
				return usageError{cmd: cmd, err: fmt.Errorf("prices cannot be negative")}
			}
			if f := cmd.Flags(); f.Changed("price-gbs") && !f.Changed("price-gbs-arm64") {
				prices.PerGBSecondArm64 = prices.PerGBSecond
			}
			s, err := a.settings()
			if err != nil {
				return err
			}
			rows, err := s.GustClient().Usage(cmd.Context(), from, by)
			if err != nil {
				return fmt.Errorf("usage: %w", err)
			}
			costs, total := usage.Costs(rows, prices, usage.MonthlyFreeTier)
			if asJSON {
				return printUsageJSON(a.stdout, rows, costs)
			}
			return printUsage(a.stdout, rows, costs, total, by, from, prices)
		},
	}
	f := cmd.Flags()
	f.StringVar(&since, "since", "24h", "start of the period: a duration back from now (90m, 24h, 7d) or a time (2025-08-01, RFC 3339)")
	f.StringVar(&by, "by", usage.ByFunction, "one row per function or per UTC day: function|day")
	f.BoolVar(&asJSON, "json", false, "print one JSON object per row")
	f.Float64Var(&prices.PerMillionRequests, "price-requests", usage.ListPrices.PerMillionRequests, "USD per million requests")
	f.Float64Var(&prices.PerGBSecond, "price-gbs", usage.ListPrices.PerGBSecond, "USD per GB-second on x86_64 (and arm64 unless --price-gbs-arm64 is given)")
	f.Float64Var(&prices.PerGBSecondArm64, "price-gbs-arm64", usage.ListPrices.PerGBSecondArm64, "USD per GB-second on arm64")
	return cmd
}

// parseSince reads --since: a Go duration, a number of days ("7d"), a
// date (UTC) or an RFC 3339 time.
func parseSince(v string, now time.Time) (time.Time, error) {
	if days, ok := strings.CutSuffix(v, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return now.AddDate(0, 0, -n), nil
		}
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--since %q is neither a duration (24h, 7d) nor a time (2025-08-01, 2025-08-01T12:00:00Z)", v)
}

// Usage returns the usage totals since a time, by usage.ByFunction or
// usage.ByDay.
func (c *GustClient) Usage(ctx context.Context, since time.Time, by string) ([]usage.Row, error) {
	q := url.Values{"by": {by}}
	if !since.IsZero() {
		q.Set("since", since.UTC().Format(time.RFC3339))
	}
	var out struct{ Rows []usage.Row }
	err := c.do(ctx, http.MethodGet, "/_gust/v1/usage", q, &out)
	return out.Rows, err
}

func printUsageJSON(w io.Writer, rows []usage.Row, costs []usage.Cost) error {
	enc := json.NewEncoder(w)
	for i, r := range rows {
		if err := enc.Encode(usageRow{
			Function: r.Function, Day: r.Day, Requests: r.Requests, Errors: r.Errors,
			BilledMs: r.BilledMs, GBSeconds: r.GBSeconds, GBSecondsArm64: r.GBSecondsArm64,
			CostUSD: costs[i].USD, CostUSDAfterFreeTier: costs[i].AfterFreeTierUSD,
		}); err != nil {
			return fmt.Errorf("encode JSON: %w", err)
		}
	}
	return nil
}

// printUsage writes the rows and their total as a table, then the period
// and the prices used.
func printUsage(w io.Writer, rows []usage.Row, costs []usage.Cost, total usage.Cost, by string, since time.Time, p usage.Prices) error {
	if len(rows) == 0 {
		_, err := fmt.Fprintf(w, "no invocations since %s\n", since.UTC().Format(time.RFC3339))
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\tREQUESTS\tERRORS\tBILLED MS\tGB-S\tCOST USD\tAFTER FREE TIER\n", strings.ToUpper(by))
	var sum usage.Row
	for i, r := range rows {
		key := r.Function
		if by == usage.ByDay {
			key = r.Day
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.3f\t%.7f\t%.7f\n", key, r.Requests, r.Errors, r.BilledMs, r.GBSeconds, costs[i].USD, costs[i].AfterFreeTierUSD)
		sum.Requests += r.Requests
		sum.Errors += r.Errors
		sum.BilledMs += r.BilledMs
		sum.GBSeconds += r.GBSeconds
	}
	if len(rows) > 1 {
		fmt.Fprintf(tw, "total\t%d\t%d\t%d\t%.3f\t%.7f\t%.7f\n", sum.Requests, sum.Errors, sum.BilledMs, sum.GBSeconds, total.USD, total.AfterFreeTierUSD)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	free := usage.MonthlyFreeTier
	usd := func(v float64) string { return "$" + strconv.FormatFloat(v, 'f', -1, 64) }
	_, err := fmt.Fprintf(w, "since %s; %s per 1M requests, %s per GB-s (x86_64), %s (arm64); free tier of %d requests and %.0f GB-s applied once\n",
		since.UTC().Format(time.RFC3339), usd(p.PerMillionRequests), usd(p.PerGBSecond), usd(p.PerGBSecondArm64), free.Requests, free.GBSeconds)
	return err
}
