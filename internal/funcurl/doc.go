// Package funcurl serves Lambda function URLs: plain HTTP requests that
// invoke a function, with the request mapped to a payload 2.0 event and the
// function's output mapped back to an HTTP response (internal/urlevent).
//
// A request names its URL by id, in the Host's first label
// (<url-id>.lambda-url.<region>.localhost[:port]) or in the path
// (/_gust/url/<url-id>/rest, where the function sees "/rest"). The id is
// resolved through the store on every request, so a deleted config stops
// resolving at once on every node.
//
// Order of work, which is also the order of refusals:
//
//  1. unknown id: 404 {"Message":null};
//  2. a CORS preflight (OPTIONS with Origin and Access-Control-Request-Method
//     on a URL with a Cors config) is answered from the config, without
//     authentication or invocation, as browsers send preflights unsigned;
//  3. the body: a declared length over 6 MB is 413 before anything is read;
//     otherwise it is read within Options.BodyTimeout, and more than 6 MB
//     is 413. No execution environment is acquired until the whole body is
//     in memory, so a slow client holds only its connection;
//  4. authorization, 403 {"Message":"Forbidden"} when refused. AWS_IAM: the
//     request must be SigV4-signed for service lambda in this region, and
//     the signer needs lambda:InvokeFunctionUrl on the function's ARN
//     (alias-qualified for an alias's URL) from its identity policy or the
//     resource policy (root always may). NONE: the resource policy must let
//     principal "*" lambda:InvokeFunctionUrl, with condition key
//     lambda:FunctionUrlAuthType = NONE available, as `aws lambda
//     add-permission --principal '*' --action lambda:InvokeFunctionUrl
//     --function-url-auth-type NONE` grants;
//  5. a RequestResponse invocation. A function error, or output that is not
//     a valid response, is 502 {"Message":"Internal Server Error"}; a
//     throttle is 429 {"Message":"Rate Exceeded."}; other platform faults
//     are 5xx.
//
// CORS headers from the config (Access-Control-Allow-Origin,
// -Expose-Headers, -Allow-Credentials) are added to responses to an allowed
// Origin and replace any the function set. InvokeMode RESPONSE_STREAM is
// served like BUFFERED: the response is sent once the function has
// finished.
//
// Header size is bounded by the http.Server in front (internal/server:
// MaxHeaderBytes 1 MB, ReadHeaderTimeout 10 s). The package starts no
// goroutines and keeps no state between requests.
package funcurl
