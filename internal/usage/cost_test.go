package usage

import (
	"math"
	"testing"
)

func TestCosts(t *testing.T) {
	tests := []struct {
		name      string
		rows      []Row
		wantEach  []Cost
		wantTotal Cost
	}{
		{
			name:      "within the free tier",
			rows:      []Row{{Requests: 1000, GBSeconds: 100}},
			wantEach:  []Cost{{USD: 1000*0.2e-6 + 100*0.0000166667}},
			wantTotal: Cost{USD: 1000*0.2e-6 + 100*0.0000166667},
		},
		{
			name:      "arm64 is priced lower",
			rows:      []Row{{Requests: 1, GBSeconds: 10, GBSecondsArm64: 10}},
			wantEach:  []Cost{{USD: 0.2e-6 + 10*0.0000133334}},
			wantTotal: Cost{USD: 0.2e-6 + 10*0.0000133334},
		},
		{
			// 3M requests and 800,000 GB-s: two thirds of the requests
			// and half of the GB-seconds are billed, shared in proportion.
			name: "the free tier applies to the totals",
			rows: []Row{
				{Requests: 2_000_000, GBSeconds: 600_000},
				{Requests: 1_000_000, GBSeconds: 200_000},
			},
			wantEach: []Cost{
				{USD: 0.4 + 600_000*0.0000166667, AfterFreeTierUSD: 0.4*2/3 + 600_000*0.0000166667/2},
				{USD: 0.2 + 200_000*0.0000166667, AfterFreeTierUSD: 0.2*2/3 + 200_000*0.0000166667/2},
			},
			wantTotal: Cost{USD: 0.6 + 800_000*0.0000166667, AfterFreeTierUSD: 0.4 + 400_000*0.0000166667},
		},
	}
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*max(1, math.Abs(b)) }
	for _, tt := range tests {
		each, total := Costs(tt.rows, ListPrices, MonthlyFreeTier)
		for i := range tt.rows {
			if !near(each[i].USD, tt.wantEach[i].USD) || !near(each[i].AfterFreeTierUSD, tt.wantEach[i].AfterFreeTierUSD) {
				t.Errorf("%s: row %d costs %+v, want %+v", tt.name, i, each[i], tt.wantEach[i])
			}
		}
		if !near(total.USD, tt.wantTotal.USD) || !near(total.AfterFreeTierUSD, tt.wantTotal.AfterFreeTierUSD) {
			t.Errorf("%s: total %+v, want %+v", tt.name, total, tt.wantTotal)
		}
	}
}
