package api

import (
	"net/http"

	"gust/internal/lambda"
)

// Body limits per operation family.
const (
	maxControlBody = 1 << 20 // configuration requests
	maxInvokeBody  = lambda.MaxSyncPayloadBytes
	maxCodeBody    = lambda.MaxCreateRequestBytes
)

// routes is the route table; it reads like the Lambda API reference.
// Paths are registered with and without a trailing slash, as older CLIs
// send both.
func (a *API) routes() {
	fn := "/2015-03-31/functions"
	a.handle("POST "+fn, a.operation("lambda", "CreateFunction", maxCodeBody, tooLarge("CreateFunction", maxCodeBody), a.createFunction))
	a.handle("GET "+fn, a.operation("lambda", "ListFunctions", maxControlBody, tooLarge("ListFunctions", maxControlBody), a.listFunctions))
	a.handle("GET "+fn+"/{name}", a.operation("lambda", "GetFunction", maxControlBody, tooLarge("GetFunction", maxControlBody), a.getFunction))
	a.handle("DELETE "+fn+"/{name}", a.operation("lambda", "DeleteFunction", maxControlBody, tooLarge("DeleteFunction", maxControlBody), a.deleteFunction))
	a.handle("GET "+fn+"/{name}/configuration", a.operation("lambda", "GetFunctionConfiguration", maxControlBody, tooLarge("GetFunctionConfiguration", maxControlBody), a.getFunctionConfiguration))
	a.handle("PUT "+fn+"/{name}/configuration", a.operation("lambda", "UpdateFunctionConfiguration", maxControlBody, tooLarge("UpdateFunctionConfiguration", maxControlBody), a.updateFunctionConfiguration))
	a.handle("PUT "+fn+"/{name}/code", a.operation("lambda", "UpdateFunctionCode", maxCodeBody, tooLarge("UpdateFunctionCode", maxCodeBody), a.updateFunctionCode))
	a.handle("POST "+fn+"/{name}/invocations", a.operation("lambda", "Invoke", maxInvokeBody, tooLarge("InvokeFunction", maxInvokeBody), a.invoke))
	a.handle("GET /2016-08-19/account-settings", a.operation("lambda", "GetAccountSettings", maxControlBody, tooLarge("GetAccountSettings", maxControlBody), a.getAccountSettings))

	// CloudWatch Logs (JSON 1.1): POST / with X-Amz-Target.
	a.mux.Handle("POST /{$}", a.operation("logs", "CloudWatchLogs", maxControlBody, tooLarge("CloudWatchLogs", maxControlBody), a.logs))
	// Gust's own endpoints.
	a.mux.HandleFunc("GET /healthz", a.healthz)
	a.mux.HandleFunc("GET /_gust/code/{token}", a.downloadCode)
	a.mux.Handle("/", a.operation("lambda", "Unknown", maxControlBody, tooLarge("Unknown", maxControlBody), a.unknownOperation))
}

// handle registers pattern and its trailing-slash twin.
func (a *API) handle(pattern string, h http.Handler) {
	a.mux.Handle(pattern, h)
	a.mux.Handle(pattern+"/{$}", h)
}

func tooLarge(op string, limit int64) func() error {
	return func() error {
		return lambda.KindRequestEntityTooLarge.Errorf("Request must be smaller than %d bytes for the %s operation", limit, op)
	}
}

func (a *API) unknownOperation(w http.ResponseWriter, r *http.Request, _ []byte) error {
	return lambda.KindUnknownOperation.Errorf("No operation matches %s %s", r.Method, r.URL.Path)
}

func (a *API) healthz(w http.ResponseWriter, r *http.Request) {
	if a.opts.Ready != nil && !a.opts.Ready() {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte("ok\n"))
}
