package server_test

import (
	"net"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"gust/internal/esm"
	"gust/internal/gusttest"
)

// esmReport and esmRecord are what testdata/esmfn posts for each
// invocation.
type esmReport struct {
	RequestID string      `json:"requestId"`
	Source    string      `json:"source"`
	Records   []esmRecord `json:"records"`
	Failed    bool        `json:"failed"`
}

type esmRecord struct {
	ID           string `json:"id"`
	Key          string `json:"key"`
	Shard        string `json:"shard"`
	Body         string `json:"body"`
	ReceiveCount int    `json:"receiveCount"`
}

// esmCollector receives esmfn's reports, in arrival order.
type esmCollector struct{ *reportCollector[esmReport] }

func newESMCollector(t *testing.T) *esmCollector {
	return &esmCollector{newReportCollector[esmReport](t)}
}

// deliveries maps each record body to every delivery of it, in order.
func (c *esmCollector) deliveries() map[string][]esmRecord {
	out := map[string][]esmRecord{}
	for _, rep := range c.snapshot() {
		for _, r := range rep.Records {
			out[r.Body] = append(out[r.Body], r)
		}
	}
	return out
}

// deployESMFunction creates testdata/esmfn as name, reporting to c.
func deployESMFunction(t *testing.T, srv *gusttest.Server, name string, c *esmCollector, env map[string]string) {
	t.Helper()
	vars := map[string]string{"COLLECT_URL": c.srv.URL}
	for k, v := range env {
		vars[k] = v
	}
	createFunction(t, srv.Lambda(), name, types.RuntimeProvidedal2023, "bootstrap", builtFunction(t, "esmfn"), withTimeout(30),
		func(in *lambda.CreateFunctionInput) { in.Environment = &types.Environment{Variables: vars} })
}

// startESM starts a server with testdata/esmfn deployed as function fn,
// reporting to the collector it returns, and src stored as a source.
func startESM(t *testing.T, fn string, src esm.Source) (*gusttest.Server, *esmCollector, *esm.Source) {
	t.Helper()
	srv := gusttest.StartServer(t)
	col := newESMCollector(t)
	deployESMFunction(t, srv, fn, col, nil)
	stored, err := srv.ESM().PutSource(t.Context(), src)
	if err != nil {
		t.Fatalf("PutSource: %v", err)
	}
	return srv, col, stored
}

// needService skips the test when a service of the machine is not
// listening at addr, or fails it when CI=true: CI must test it.
func needService(t *testing.T, name, addr string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		conn.Close()
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not reachable at %s: %v", name, addr, err)
	}
	t.Skipf("%s is not reachable at %s: %v", name, addr, err)
}

// waitMappingState polls GetEventSourceMapping until State is want.
func waitMappingState(t *testing.T, c *lambda.Client, uuid, want string) *lambda.GetEventSourceMappingOutput {
	t.Helper()
	var last *lambda.GetEventSourceMappingOutput
	gusttest.WaitFor(t, 30*time.Second, "mapping "+uuid+" to be "+want, func() bool {
		out, err := c.GetEventSourceMapping(t.Context(), &lambda.GetEventSourceMappingInput{UUID: aws.String(uuid)})
		if err != nil {
			t.Fatalf("GetEventSourceMapping: %v", err)
		}
		last = out
		return aws.ToString(out.State) == want
	})
	return last
}
