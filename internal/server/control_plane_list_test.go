package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"gust/internal/gusttest"
)

func TestListFunctions(t *testing.T) {
	s := gusttest.StartServer(t)
	c := s.Lambda()
	ctx := context.Background()

	const n = 120
	zip := cpNodeZip(t, "A")
	var want []string
	// Created out of order, so that sorting is the server's doing.
	for i := range n {
		name := fmt.Sprintf("fn-%03d", (i*7)%n)
		cpCreate(t, c, name, zip, nil)
		want = append(want, name)
	}
	slices.Sort(want)

	t.Run("MaxItems 7", func(t *testing.T) {
		var got []string
		var marker *string
		pages := 0
		for {
			out, err := c.ListFunctions(ctx, &lambda.ListFunctionsInput{MaxItems: aws.Int32(7), Marker: marker})
			if err != nil {
				t.Fatalf("page %d: %v", pages, err)
			}
			pages++
			if len(out.Functions) > 7 {
				t.Fatalf("page %d has %d functions, want ≤ 7", pages, len(out.Functions))
			}
			for _, f := range out.Functions {
				got = append(got, aws.ToString(f.FunctionName))
			}
			if out.NextMarker == nil {
				break
			}
			if *out.NextMarker == "" {
				t.Fatalf("page %d: NextMarker is empty rather than absent", pages)
			}
			if pages > n {
				t.Fatal("pagination does not end")
			}
			marker = out.NextMarker
		}
		if !slices.Equal(got, want) {
			t.Errorf("listed %d functions %v, want %d sorted, each once", len(got), got, len(want))
		}
		if pages != (n+6)/7 {
			t.Errorf("pages = %d, want %d", pages, (n+6)/7)
		}
	})

	t.Run("paginator", func(t *testing.T) {
		p := lambda.NewListFunctionsPaginator(c, &lambda.ListFunctionsInput{})
		var got []string
		var sizes []int
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, len(out.Functions))
			for _, f := range out.Functions {
				got = append(got, aws.ToString(f.FunctionName))
			}
			if len(sizes) > n {
				t.Fatal("paginator does not end")
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("paginator listed %v, want %d sorted, each once", got, len(want))
		}
		if !slices.Equal(sizes, []int{50, 50, 20}) {
			t.Errorf("page sizes = %v, want [50 50 20] (pages capped at 50)", sizes)
		}
	})

	t.Run("MaxItems above the cap", func(t *testing.T) {
		out, err := c.ListFunctions(ctx, &lambda.ListFunctionsInput{MaxItems: aws.Int32(1000)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Functions) != 50 || out.NextMarker == nil {
			t.Errorf("MaxItems 1000: %d functions, NextMarker %v; want 50 and a marker", len(out.Functions), out.NextMarker)
		}
	})

	t.Run("invalid MaxItems", func(t *testing.T) {
		_, err := c.ListFunctions(ctx, &lambda.ListFunctionsInput{MaxItems: aws.Int32(0)})
		cpWantErr(t, err, "InvalidParameterValueException", 400, "maxItems")
	})

	t.Run("raw entries omit state", func(t *testing.T) {
		r := cpRaw(t, s, "GET", "/2015-03-31/functions?MaxItems=3", nil)
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		var out struct {
			Functions  []map[string]json.RawMessage
			NextMarker *string
		}
		if err := json.Unmarshal(r.body, &out); err != nil {
			t.Fatal(err)
		}
		if len(out.Functions) != 3 || out.NextMarker == nil {
			t.Fatalf("raw list: %s", r.body)
		}
		for _, f := range out.Functions {
			for _, k := range []string{"State", "StateReason", "StateReasonCode", "LastUpdateStatus"} {
				if _, ok := f[k]; ok {
					t.Errorf("ListFunctions entry carries %s: %s", k, r.body)
				}
			}
			for _, k := range []string{"FunctionName", "FunctionArn", "CodeSha256", "RevisionId", "Version", "LastModified"} {
				if _, ok := f[k]; !ok {
					t.Errorf("ListFunctions entry lacks %s", k)
				}
			}
		}
		// Follow the markers: every page but the last has a non-empty
		// NextMarker, and the last has no NextMarker key at all.
		marker := *out.NextMarker
		for pages := 0; ; pages++ {
			r := cpRaw(t, s, "GET", "/2015-03-31/functions?MaxItems=50&Marker="+url.QueryEscape(marker), nil)
			var page map[string]json.RawMessage
			if err := json.Unmarshal(r.body, &page); err != nil {
				t.Fatalf("page %s: %v", r.body, err)
			}
			next, ok := page["NextMarker"]
			if !ok {
				break
			}
			if err := json.Unmarshal(next, &marker); err != nil || marker == "" || pages > n {
				t.Fatalf("NextMarker = %s", next)
			}
		}
	})
}
