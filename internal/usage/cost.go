package usage

// Prices are what Lambda charges per unit, in USD.
type Prices struct {
	PerMillionRequests float64
	PerGBSecond        float64 // x86_64
	PerGBSecondArm64   float64
}

// ListPrices are AWS Lambda's published on-demand list prices (us-east-1,
// the first duration tier): $0.20 per million requests, $0.0000166667 per
// GB-second on x86_64 and $0.0000133334 on arm64.
var ListPrices = Prices{PerMillionRequests: 0.20, PerGBSecond: 0.0000166667, PerGBSecondArm64: 0.0000133334}

// FreeTier is an allowance that costs nothing.
type FreeTier struct {
	Requests  int64
	GBSeconds float64
}

// MonthlyFreeTier is Lambda's monthly free tier: one million requests and
// 400,000 GB-seconds, on either architecture.
var MonthlyFreeTier = FreeTier{Requests: 1_000_000, GBSeconds: 400_000}

// Cost is what some usage costs, before and after the free tier.
type Cost struct {
	USD              float64
	AfterFreeTierUSD float64
}

// Costs prices each row, and all of them together. The free tier is
// applied once, to the totals of all rows; each row takes a share of it
// in proportion to its requests and its GB-seconds, so the rows' costs
// after the free tier add up to the total's.
func Costs(rows []Row, p Prices, free FreeTier) (each []Cost, total Cost) {
	var requests int64
	var gbs float64
	for _, r := range rows {
		requests += r.Requests
		gbs += r.GBSeconds
	}
	// The billable fraction of the requests and of the GB-seconds.
	requestsBilled, gbsBilled := 0.0, 0.0
	if requests > free.Requests {
		requestsBilled = float64(requests-free.Requests) / float64(requests)
	}
	if gbs > free.GBSeconds {
		gbsBilled = (gbs - free.GBSeconds) / gbs
	}
	each = make([]Cost, len(rows))
	for i, r := range rows {
		requestCost := float64(r.Requests) * p.PerMillionRequests / 1e6
		computeCost := (r.GBSeconds-r.GBSecondsArm64)*p.PerGBSecond + r.GBSecondsArm64*p.PerGBSecondArm64
		each[i] = Cost{
			USD:              requestCost + computeCost,
			AfterFreeTierUSD: requestCost*requestsBilled + computeCost*gbsBilled,
		}
		total.USD += each[i].USD
		total.AfterFreeTierUSD += each[i].AfterFreeTierUSD
	}
	return each, total
}
