package api

import (
	"net/http"

	"gust/internal/lambda"
)

// gustMetrics serves GET /_gust/v1/metrics (operation GustMetrics, IAM
// action gust:Metrics): the Prometheus exposition of Options.Metrics,
// signed and authorized like every /_gust/v1 endpoint. `gust stats` reads
// it. Prometheus itself cannot sign requests; `gust server
// --metrics-listen` serves the same handler unauthenticated on a separate
// listener for it.
func (a *API) gustMetrics(w http.ResponseWriter, r *http.Request, _ []byte) error {
	if a.opts.Metrics == nil {
		return lambda.KindResourceNotFound.Errorf("Metrics are not enabled on this server.")
	}
	a.opts.Metrics.ServeHTTP(w, r)
	return nil
}
