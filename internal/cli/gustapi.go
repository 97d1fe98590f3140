package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go"

	"gust/internal/asyncq"
)

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 64 << 10

// GustClient calls Gust's own endpoints under /_gust/v1/ (async queue
// stats and dead-letter queues). They are not part of AWS's API, so no SDK
// client knows them; requests are signed with SigV4 for service "lambda"
// exactly as the SDK's Lambda client signs, and errors come back in
// Lambda's shape. Build one with Settings.GustClient.
type GustClient struct {
	s      Settings
	http   *http.Client
	signer *v4.Signer
	now    func() time.Time
}

// GustClient returns a client for Gust's own endpoints at s.Endpoint.
func (s Settings) GustClient() *GustClient {
	return &GustClient{s: s, http: http.DefaultClient, signer: v4.NewSigner(), now: time.Now}
}

// GustAPIError is an error answer of a /_gust/ endpoint: the exception
// name from X-Amzn-ErrorType and the message of the JSON body. It
// implements smithy.APIError, so it prints like the SDK's errors.
type GustAPIError struct {
	StatusCode int
	Code       string // e.g. ResourceNotFoundException
	Message    string
}

var _ smithy.APIError = (*GustAPIError)(nil)

func (e *GustAPIError) Error() string {
	return fmt.Sprintf("%s: %s (status %d)", e.Code, e.Message, e.StatusCode)
}

// ErrorCode is the exception name.
func (e *GustAPIError) ErrorCode() string { return e.Code }

// ErrorMessage is the server's message.
func (e *GustAPIError) ErrorMessage() string { return e.Message }

// ErrorFault is server for 5xx answers, client otherwise.
func (e *GustAPIError) ErrorFault() smithy.ErrorFault {
	if e.StatusCode >= 500 {
		return smithy.FaultServer
	}
	return smithy.FaultClient
}

// AsyncStats returns the async queue state of a function (name, ARN or
// name:qualifier).
func (c *GustClient) AsyncStats(ctx context.Context, function string) (asyncq.Stats, error) {
	var out asyncq.Stats
	err := c.do(ctx, http.MethodGet, "/_gust/v1/async/"+url.PathEscape(function), nil, &out)
	return out, err
}

// DeadLetterQueues lists the dead-letter queues that hold messages.
func (c *GustClient) DeadLetterQueues(ctx context.Context) ([]asyncq.QueueInfo, error) {
	var out struct{ Queues []asyncq.QueueInfo }
	err := c.do(ctx, http.MethodGet, "/_gust/v1/dlq", nil, &out)
	return out.Queues, err
}

// DeadLetters returns up to limit messages of a queue, oldest first; a
// limit of 0 leaves the server's default (100).
func (c *GustClient) DeadLetters(ctx context.Context, queue string, limit int) ([]asyncq.DeadLetter, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("MaxItems", strconv.Itoa(limit))
	}
	var out struct{ Messages []asyncq.DeadLetter }
	err := c.do(ctx, http.MethodGet, "/_gust/v1/dlq/"+url.PathEscape(queue), q, &out)
	return out.Messages, err
}

// Redrive sends every message of a queue back to its function's async
// queue, or to function to when it is not empty, and returns how many
// were sent. On error some messages may have been redriven already; the
// server's message says how many.
func (c *GustClient) Redrive(ctx context.Context, queue, to string) (int, error) {
	q := url.Values{}
	if to != "" {
		q.Set("To", to)
	}
	var out struct{ Redriven int }
	err := c.do(ctx, http.MethodPost, "/_gust/v1/dlq/"+url.PathEscape(queue)+"/redrive", q, &out)
	return out.Redriven, err
}

// do sends one signed request with an empty body and decodes a 2xx JSON
// answer into out, or an error answer into a *GustAPIError.
func (c *GustClient) do(ctx context.Context, method, path string, query url.Values, out any) error {
	if len(query) > 0 {
		path += "?" + query.Encode()
	}
	return c.send(ctx, method, path, nil, out)
}

// send signs one request, decodes a 2xx JSON answer into out (nothing for
// 204 or a nil out) and an error answer into a *GustAPIError.
func (c *GustClient) send(ctx context.Context, method, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.s.Endpoint+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: c.s.AccessKeyID, SecretAccessKey: c.s.SecretAccessKey, SessionToken: c.s.SessionToken}
	if err := c.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "lambda", c.s.Region, c.now()); err != nil {
		return fmt.Errorf("sign %s %s: %w", method, path, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err // a *url.Error around the *net.OpError describeError explains
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return decodeGustError(resp)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// decodeGustError turns a Lambda-shaped error answer into a
// *GustAPIError. The exception name comes from X-Amzn-ErrorType (without
// any ":…" suffix), else the body's __type (Lambda's body "Type" is only
// User or Service); a body that is not JSON becomes the message.
func decodeGustError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &GustAPIError{StatusCode: resp.StatusCode}
	var body struct {
		AWSType  string `json:"__type"`
		Message  string `json:"Message"`
		Message2 string `json:"message"`
	}
	if json.Unmarshal(b, &body) == nil {
		e.Message = body.Message
		if e.Message == "" {
			e.Message = body.Message2
		}
		e.Code = body.AWSType
	} else {
		e.Message = string(bytes.TrimSpace(b))
	}
	if h := resp.Header.Get("X-Amzn-ErrorType"); h != "" {
		e.Code, _, _ = strings.Cut(h, ":")
	}
	if i := strings.LastIndex(e.Code, "#"); i >= 0 {
		e.Code = e.Code[i+1:]
	}
	if e.Code == "" {
		e.Code = http.StatusText(resp.StatusCode)
	}
	if e.Message == "" {
		e.Message = resp.Status
	}
	return e
}

// getAndPrint GETs path from Gust's API into a new T and prints it: as
// indented JSON with asJSON, else with print. what names the request in
// errors.
func getAndPrint[T any](a *app, ctx context.Context, path, what string, asJSON bool, print func(T) error) error {
	c, err := a.gustClient()
	if err != nil {
		return err
	}
	var out T
	if err := c.send(ctx, http.MethodGet, path, nil, &out); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if asJSON {
		return writeIndentedJSON(a.stdout, out)
	}
	return print(out)
}

// postJSON POSTs in, encoded as JSON, to path of Gust's API and decodes
// the answer into a new T. what names the request in errors.
func postJSON[T any](a *app, ctx context.Context, path, what string, in any) (T, error) {
	var out T
	c, err := a.gustClient()
	if err != nil {
		return out, err
	}
	body, err := json.Marshal(in)
	if err != nil {
		return out, fmt.Errorf("%s: %w", what, err)
	}
	if err := c.send(ctx, http.MethodPost, path, body, &out); err != nil {
		return out, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}
