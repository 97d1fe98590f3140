// Package urlevent translates between HTTP and the Lambda function URL
// payload format 2.0, the way a function URL does on AWS.
//
// NewEvent turns an incoming request into the JSON event the function
// receives; WriteResponse turns the function's JSON output back into the HTTP
// response the client sees. Serving, authentication and invoking are the
// caller's business (internal/funcurl); this package only maps shapes.
//
// # Request mapping
//
// The event follows docs/lambda-compat.md §6.1 and what function URLs send
// on the wire, which differs from the service docs in two places:
//
//   - requestContext.accountId is the caller's account: "anonymous" for an
//     AuthType NONE URL, the signer's account for AWS_IAM. The owner's
//     account does not appear in the event.
//   - authorizer.iam also carries "cognitoIdentity": null and
//     "principalOrgId" (null when the caller has no organization).
//
// Headers are lower-cased and repeated headers joined with ",". Cookie
// headers become the cookies array and leave headers; hop-by-hop headers
// (Connection, Keep-Alive, TE, …) are dropped, as a proxy would. host is the
// Host the client used; x-forwarded-for gains the peer address,
// x-forwarded-proto and x-forwarded-port are added when the client did not
// send them (so a proxy in front of Gust can still set them).
//
// The body is passed as text when the Content-Type is text/*,
// application/json, application/xml or application/javascript (parameters
// such as charset ignored); anything else, including no Content-Type and
// application/x-www-form-urlencoded, is base64-encoded with
// isBase64Encoded true. Text bodies that are not valid UTF-8 reach the
// function with U+FFFD in place of the bad bytes, as JSON requires.
//
// # Response mapping
//
// A JSON object with a "statusCode" key is a structured response
// (statusCode, headers, cookies, body, isBase64Encoded; payload 2.0 has no
// multiValueHeaders, so that key is ignored). Every other valid JSON value
// is sent as is with status 200 and Content-Type application/json. A
// response without a Content-Type gets application/json.
//
// WriteResponse checks the whole payload before it writes anything. When
// the payload is unusable it returns an error wrapping ErrInvalidResponse
// and leaves w untouched; the caller answers 502, as a function URL does.
//
// The package keeps no state and starts no goroutines.
package urlevent
