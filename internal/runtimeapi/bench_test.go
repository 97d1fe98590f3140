package runtimeapi

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// BenchmarkInvokeRoundTrip measures one warm invoke: Invoke hands the event
// to a runtime client looping GET /next → POST /response over one
// keep-alive loopback connection, and waits for the answer.
func BenchmarkInvokeRoundTrip(b *testing.B) {
	for _, size := range []int{16, 64 << 10} {
		b.Run("payload="+strconv.Itoa(size), func(b *testing.B) {
			s := startServer(b, Options{})
			payload := bytes.Repeat([]byte("x"), size)
			base := "http://" + s.Addr() + "/2018-06-01/runtime/invocation/"
			tr := &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()

			runtimeDone := make(chan error, 1)
			go func() { runtimeDone <- benchRuntime(ctx, client, base) }()
			if err := s.WaitReady(ctx); err != nil {
				b.Fatal(err)
			}
			inv := Invocation{
				RequestID: "8f5a2f5c-7a3e-4b8e-9a51-6c1c1f8e0d11", Payload: payload,
				Deadline: time.Now().Add(time.Hour), InvokedFunctionARN: "arn:aws:lambda:us-east-1:000000000000:function:f",
			}
			b.SetBytes(int64(2 * size))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				res, err := s.Invoke(ctx, inv)
				if err != nil || len(res.Payload) != size {
					b.Fatalf("Invoke = %d bytes, %v", len(res.Payload), err)
				}
			}
			b.StopTimer()
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
			<-runtimeDone
		})
	}
}

// benchRuntime echoes every event back until /next fails.
func benchRuntime(ctx context.Context, c *http.Client, base string) error {
	var buf bytes.Buffer
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"next", nil)
		res, err := c.Do(req)
		if err != nil {
			return err
		}
		buf.Reset()
		_, err = buf.ReadFrom(res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK {
			return err
		}
		id := res.Header.Get(hdrRequestID)
		req, _ = http.NewRequestWithContext(ctx, http.MethodPost, base+id+"/response", bytes.NewReader(buf.Bytes()))
		res, err = c.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
}
