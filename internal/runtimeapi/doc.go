// Package runtimeapi serves the Lambda Runtime API (version 2018-06-01) to
// the runtime process of one execution environment, and exposes it to the
// env pool as a small Go API: WaitReady for the end of init, Invoke for one
// event in and one answer out, Close to tear it down.
//
// The HTTP side follows docs/lambda-compat.md §4: GET
// /2018-06-01/runtime/invocation/next long-polls for an event; POST
// …/invocation/{id}/response and …/invocation/{id}/error answer it; POST
// /2018-06-01/runtime/init/error reports a failed init. The route table is in
// routes.go and each endpoint has its own file. SnapStart (restore/*) and the
// Extensions, Telemetry and Logs APIs are answered with 404, as the Runtime
// Interface Emulator does with SnapStart and extensions disabled.
//
// Goroutines: Serve starts one goroutine running net/http's accept loop;
// net/http starts one per connection. Close stops the accept loop, closes
// every connection, releases blocked /next requests, Invoke and WaitReady
// calls, and waits for the accept loop and for every running handler before
// it returns. No timers are created per invocation.
//
// Invariants:
//   - One state machine (state.go) owns every transition. It denies any
//     (state, event) pair it does not list; a denied runtime request gets
//     403 InvalidStateTransition and changes nothing.
//   - Requests are validated (request id, response mode, body size) before a
//     transition is attempted; the id check comes first (400 beats 403).
//   - At most one /next waits at a time, at most one Invoke runs at a time,
//     and at most one invocation is in flight.
//   - An event handed to a /next whose client has gone, or whose write fails,
//     is put back and delivered to the next /next: it is never lost.
//   - Request bodies are read with a hard cap (Options.MaxResponseBytes);
//     nothing the runtime sends is buffered beyond it.
//   - Failed, InitFailed and Closed are terminal: once there, every runtime
//     request is denied and every Invoke returns an error.
package runtimeapi
