package invoke

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"gust/internal/lambda"
	"gust/internal/store"
)

// functions is a map-backed Functions for the validation paths, which
// return before any environment is needed.
type functions map[string]*lambda.Function

func (f functions) GetFunction(_ context.Context, name, version string) (*lambda.Function, error) {
	if fn, ok := f[name+":"+version]; ok {
		return fn, nil
	}
	return nil, store.ErrNotFound
}

func (f functions) GetAlias(context.Context, string, string) (*lambda.Alias, error) {
	return nil, store.ErrNotFound
}

func newTestService() *Service {
	fns := functions{"f:$LATEST": {Name: "f", Version: lambda.LatestVersion}}
	return New(lambda.Identity{Region: "us-east-1", Account: "000000000000"}, fns, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func TestInvokeRejects(t *testing.T) {
	s := newTestService()
	tests := []struct {
		name string
		req  Request
		kind lambda.Kind
		msg  string
	}{
		{"payload over 6 MiB", Request{FunctionName: "f", Payload: []byte(`"` + strings.Repeat("x", lambda.MaxSyncPayloadBytes) + `"`)},
			lambda.KindRequestEntityTooLarge, "Request must be smaller than 6291456 bytes for the InvokeFunction operation"},
		{"not JSON", Request{FunctionName: "f", Payload: []byte("{nope")}, lambda.KindInvalidRequestContent, "Could not parse request body into json"},
		{"bad type", Request{FunctionName: "f", Type: "Later"}, lambda.KindInvalidParameterValue, "invocationType"},
		{"bad log type", Request{FunctionName: "f", LogType: "All"}, lambda.KindInvalidParameterValue, "logType"},
		{"client context not base64", Request{FunctionName: "f", ClientContext: "!!"}, lambda.KindInvalidRequestContent, "Client context"},
		{"client context not JSON", Request{FunctionName: "f", ClientContext: base64.StdEncoding.EncodeToString([]byte("x"))}, lambda.KindInvalidRequestContent, "Client context"},
		{"unknown function", Request{FunctionName: "nope"}, lambda.KindResourceNotFound, "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope"},
		{"unknown version", Request{FunctionName: "f", Qualifier: "3"}, lambda.KindResourceNotFound, "function:f:3"},
		{"qualifier mismatch", Request{FunctionName: "f:1", Qualifier: "2"}, lambda.KindInvalidParameterValue, "does not match"},
		{"other account", Request{FunctionName: "arn:aws:lambda:us-east-1:111111111111:function:f"}, lambda.KindResourceNotFound, "Function not found"},
		{"bad name", Request{FunctionName: "no such name"}, lambda.KindInvalidParameterValue, "functionName"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Invoke(context.Background(), tt.req)
			var e *lambda.Error
			if !errors.As(err, &e) || e.Kind != tt.kind || !strings.Contains(e.Message, tt.msg) {
				t.Fatalf("err = %v, want %s containing %q", err, tt.kind.Code, tt.msg)
			}
		})
	}
}

func TestDryRunRunsNothing(t *testing.T) {
	s := newTestService() // a nil pool: DryRun must not touch it
	resp, err := s.Invoke(context.Background(), Request{FunctionName: "f", Type: TypeDryRun})
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("DryRun = %+v, %v; want 204", resp, err)
	}
}

func TestForgetDropsCachedConfig(t *testing.T) {
	fns := functions{"f:$LATEST": {Name: "f", Version: lambda.LatestVersion, Timeout: 3}}
	s := New(lambda.Identity{Region: "us-east-1", Account: "000000000000"}, fns, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if fn, _, _ := s.Resolve(context.Background(), "f", ""); fn.Timeout != 3 {
		t.Fatalf("timeout %d", fn.Timeout)
	}
	fns["f:$LATEST"] = &lambda.Function{Name: "f", Version: lambda.LatestVersion, Timeout: 9}
	if fn, _, _ := s.Resolve(context.Background(), "f", ""); fn.Timeout != 3 {
		t.Fatalf("cache was not used: timeout %d", fn.Timeout)
	}
	s.Forget("f")
	if fn, _, _ := s.Resolve(context.Background(), "f", ""); fn.Timeout != 9 {
		t.Fatalf("Forget kept the old config: timeout %d", fn.Timeout)
	}
}

// slowFunctions answers GetFunction only when released, so a test can
// change the function while a read is in flight.
type slowFunctions struct {
	functions
	reading chan struct{}
	release chan struct{}
}

func (f slowFunctions) GetFunction(ctx context.Context, name, version string) (*lambda.Function, error) {
	fn, err := f.functions.GetFunction(ctx, name, version)
	f.reading <- struct{}{}
	<-f.release
	return fn, err
}

func TestChangeDuringReadIsNotCachedStale(t *testing.T) {
	old := &lambda.Function{Name: "f", Version: lambda.LatestVersion, Timeout: 3}
	fns := slowFunctions{functions{"f:$LATEST": old}, make(chan struct{}), make(chan struct{})}
	s := New(lambda.Identity{Region: "us-east-1", Account: "000000000000"}, fns, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _, _ = s.Resolve(context.Background(), "f", "")
	}()
	<-fns.reading // the read has the old config in hand
	fns.functions["f:$LATEST"] = &lambda.Function{Name: "f", Version: lambda.LatestVersion, Timeout: 9}
	s.Forget("f") // the update lands mid-read
	close(fns.release)
	<-done
	go func() { <-fns.reading }()
	if fn, _, _ := s.Resolve(context.Background(), "f", ""); fn.Timeout != 9 {
		t.Fatalf("after a change during a read, Resolve returns timeout %d, want 9", fn.Timeout)
	}
}
