package urlevent

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Target describes the function URL a request arrived on.
type Target struct {
	URLID string // the 32-character URL id: requestContext.apiId and domainPrefix
	// Region is where the URL lives. AWS puts it in the event only through
	// the domain name, so it is informational here.
	Region string
	// AccountID is the URL owner's account. Function URLs do not send it to
	// the function (requestContext.accountId is the caller's account); it is
	// kept so a Target describes the URL completely.
	AccountID string
	Host      string // the Host the client used: headers.host and requestContext.domainName
	// Path is the request path as the function must see it (rawPath and
	// requestContext.http.path), used verbatim. For the path form
	// /_gust/url/<id>/rest the caller passes "/rest". Empty means "/".
	Path string
}

// IAMCaller is the verified signer of a request to an AWS_IAM function URL.
type IAMCaller struct {
	AccessKey string
	AccountID string
	CallerID  string
	UserARN   string
	UserID    string
	// PrincipalOrgID is the caller's organization id; empty sends null.
	PrincipalOrgID string
}

// anonymousAccount is requestContext.accountId for AuthType NONE URLs.
const anonymousAccount = "anonymous"

// clfTime is the layout of requestContext.time, e.g. 27/Nov/2026:12:00:00 +0000.
const clfTime = "02/Jan/2006:15:04:05 -0700"

// The JSON shapes below list fields in the order function URLs send them.

type event struct {
	Version               string            `json:"version"`
	RouteKey              string            `json:"routeKey"`
	RawPath               string            `json:"rawPath"`
	RawQueryString        string            `json:"rawQueryString"`
	Cookies               []string          `json:"cookies,omitempty"`
	Headers               map[string]string `json:"headers"`
	QueryStringParameters map[string]string `json:"queryStringParameters,omitempty"`
	RequestContext        requestContext    `json:"requestContext"`
	Body                  string            `json:"body,omitempty"`
	IsBase64Encoded       bool              `json:"isBase64Encoded"`
}

type requestContext struct {
	AccountID    string      `json:"accountId"`
	APIID        string      `json:"apiId"`
	Authorizer   *authorizer `json:"authorizer,omitempty"`
	DomainName   string      `json:"domainName"`
	DomainPrefix string      `json:"domainPrefix"`
	HTTP         httpContext `json:"http"`
	RequestID    string      `json:"requestId"`
	RouteKey     string      `json:"routeKey"`
	Stage        string      `json:"stage"`
	Time         string      `json:"time"`
	TimeEpoch    int64       `json:"timeEpoch"`
}

type authorizer struct {
	IAM iamIdentity `json:"iam"`
}

type iamIdentity struct {
	AccessKey string `json:"accessKey"`
	AccountID string `json:"accountId"`
	CallerID  string `json:"callerId"`
	// CognitoIdentity is always null: function URLs do not use it.
	CognitoIdentity *struct{} `json:"cognitoIdentity"`
	PrincipalOrgID  *string   `json:"principalOrgId"`
	UserARN         string    `json:"userArn"`
	UserID          string    `json:"userId"`
}

type httpContext struct {
	Method    string `json:"method"`
	Path      string `json:"path"`
	Protocol  string `json:"protocol"`
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent"`
}

// NewEvent builds the payload 2.0 event JSON for r, whose body has already
// been read into body. requestID is the invocation's request id and now the
// arrival time. caller is the verified signer for AWS_IAM URLs and nil for
// AuthType NONE. r.Body is not read.
func NewEvent(r *http.Request, body []byte, t Target, requestID string, now time.Time, caller *IAMCaller) ([]byte, error) {
	path := t.Path
	if path == "" {
		path = "/"
	}
	sourceIP := peerIP(r.RemoteAddr)
	headers, cookies := eventHeaders(r, t.Host, sourceIP)
	ev := event{
		Version:               "2.0",
		RouteKey:              "$default",
		RawPath:               path,
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: queryParameters(r.URL.RawQuery),
		RequestContext: requestContext{
			AccountID:    anonymousAccount,
			APIID:        t.URLID,
			DomainName:   headers["host"],
			DomainPrefix: t.URLID,
			HTTP: httpContext{
				Method:    r.Method,
				Path:      path,
				Protocol:  protocol(r),
				SourceIP:  sourceIP,
				UserAgent: headers["user-agent"],
			},
			RequestID: requestID,
			RouteKey:  "$default",
			Stage:     "$default",
			Time:      now.UTC().Format(clfTime),
			TimeEpoch: now.UnixMilli(),
		},
	}
	if caller != nil {
		ev.RequestContext.AccountID = caller.AccountID
		ev.RequestContext.Authorizer = &authorizer{IAM: iamIdentity{
			AccessKey:      caller.AccessKey,
			AccountID:      caller.AccountID,
			CallerID:       caller.CallerID,
			PrincipalOrgID: nullIfEmpty(caller.PrincipalOrgID),
			UserARN:        caller.UserARN,
			UserID:         caller.UserID,
		}}
	}
	if len(body) > 0 {
		if isTextContentType(r.Header.Get("Content-Type")) {
			ev.Body = string(body)
		} else {
			ev.Body = base64.StdEncoding.EncodeToString(body)
			ev.IsBase64Encoded = true
		}
	}

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// The function must see <, > and & as sent, not as \u003c escapes.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ev); err != nil {
		return nil, fmt.Errorf("encode function URL event: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// peerIP is the address of the immediate TCP peer, without the port.
func peerIP(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return host
}

func protocol(r *http.Request) string {
	if r.Proto == "" {
		return "HTTP/1.1"
	}
	return r.Proto
}

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
