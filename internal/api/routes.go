package api

import (
	"net/http"

	"gust/internal/lambda"
)

// Body limits per operation family.
const (
	maxControlBody = 1 << 20 // configuration requests
	maxInvokeBody  = lambda.MaxSyncPayloadBytes
	maxAsyncBody   = lambda.MaxAsyncPayloadBytes
	maxCodeBody    = lambda.MaxCreateRequestBytes
	maxEventsBody  = 1 << 20 // PutEvents: 256 KB of entries, with room for JSON
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
	a.handle("POST /2014-11-13/functions/{name}/invoke-async", a.operation("lambda", "InvokeAsync", maxAsyncBody, tooLarge("InvokeAsync", maxAsyncBody), a.invokeAsync))
	eic := "/2019-09-25/functions/{name}/event-invoke-config"
	a.handle("PUT "+eic, a.operation("lambda", "PutFunctionEventInvokeConfig", maxControlBody, tooLarge("PutFunctionEventInvokeConfig", maxControlBody), a.putFunctionEventInvokeConfig))
	a.handle("POST "+eic, a.operation("lambda", "UpdateFunctionEventInvokeConfig", maxControlBody, tooLarge("UpdateFunctionEventInvokeConfig", maxControlBody), a.updateFunctionEventInvokeConfig))
	a.handle("GET "+eic, a.operation("lambda", "GetFunctionEventInvokeConfig", maxControlBody, tooLarge("GetFunctionEventInvokeConfig", maxControlBody), a.getFunctionEventInvokeConfig))
	a.handle("DELETE "+eic, a.operation("lambda", "DeleteFunctionEventInvokeConfig", maxControlBody, tooLarge("DeleteFunctionEventInvokeConfig", maxControlBody), a.deleteFunctionEventInvokeConfig))
	a.handle("GET "+eic+"/list", a.operation("lambda", "ListFunctionEventInvokeConfigs", maxControlBody, tooLarge("ListFunctionEventInvokeConfigs", maxControlBody), a.listFunctionEventInvokeConfigs))
	a.handle("PUT /2017-10-31/functions/{name}/concurrency", a.operation("lambda", "PutFunctionConcurrency", maxControlBody, tooLarge("PutFunctionConcurrency", maxControlBody), a.putFunctionConcurrency))
	a.handle("GET /2019-09-30/functions/{name}/concurrency", a.operation("lambda", "GetFunctionConcurrency", maxControlBody, tooLarge("GetFunctionConcurrency", maxControlBody), a.getFunctionConcurrency))
	a.handle("DELETE /2017-10-31/functions/{name}/concurrency", a.operation("lambda", "DeleteFunctionConcurrency", maxControlBody, tooLarge("DeleteFunctionConcurrency", maxControlBody), a.deleteFunctionConcurrency))
	a.versionRoutes()
	a.aliasRoutes()
	a.provisionedRoutes()
	a.policyRoutes()
	a.tagRoutes()
	a.functionURLRoutes()
	a.esmRoutes()
	a.handle("GET /2016-08-19/account-settings", a.operation("lambda", "GetAccountSettings", maxControlBody, tooLarge("GetAccountSettings", maxControlBody), a.getAccountSettings))

	// CloudWatch Logs and EventBridge (JSON 1.1): POST / with X-Amz-Target.
	a.mux.Handle("POST /{$}", a.jsonRPC())
	// Gust's own endpoints.
	a.mux.HandleFunc("GET /healthz", a.healthz)
	a.mux.HandleFunc("GET /_gust/code/{token}", a.downloadCode)
	a.iamRoutes()
	a.sourceRoutes()
	a.s3Routes()
	a.topicRoutes()
	a.handle("GET /_gust/v1/metrics", a.operation("lambda", "GustMetrics", maxControlBody, tooLarge("GustMetrics", maxControlBody), a.gustMetrics))
	a.handle("GET /_gust/v1/async/{name}", a.operation("lambda", "GustAsyncStats", maxControlBody, tooLarge("GustAsyncStats", maxControlBody), a.asyncStats))
	a.handle("GET /_gust/v1/dlq", a.operation("lambda", "GustListDeadLetterQueues", maxControlBody, tooLarge("GustListDeadLetterQueues", maxControlBody), a.listDeadLetterQueues))
	a.handle("GET /_gust/v1/dlq/{queue}", a.operation("lambda", "GustGetDeadLetters", maxControlBody, tooLarge("GustGetDeadLetters", maxControlBody), a.getDeadLetters))
	a.handle("POST /_gust/v1/dlq/{queue}/redrive", a.operation("lambda", "GustRedriveDeadLetters", maxControlBody, tooLarge("GustRedriveDeadLetters", maxControlBody), a.redriveDeadLetters))
	a.handle("GET /_gust/v1/usage", a.operation("lambda", "GustUsage", maxControlBody, tooLarge("GustUsage", maxControlBody), a.getUsage))
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
