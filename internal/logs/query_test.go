package logs

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFilterPagination(t *testing.T) {
	for _, flushed := range []bool{false, true} {
		t.Run(fmt.Sprintf("flushed=%v", flushed), func(t *testing.T) {
			s := openTestStore(t, t.TempDir(), 0)
			appendInterleaved(s, 13) // 26 events
			if flushed {
				flush(t, s)
			}
			var sizes []int
			var got []FilteredEvent
			q := FilterQuery{Group: testGroup, Limit: 7}
			for {
				evs, next, err := s.Filter(q)
				if err != nil {
					t.Fatal(err)
				}
				sizes = append(sizes, len(evs))
				got = append(got, evs...)
				// Events arriving between pages must not disturb the cursor.
				s.Append(testGroup, streamA, Event{Timestamp: 1, Message: "late"})
				if next == "" {
					break
				}
				q.Token = next
			}
			if diff := cmp.Diff([]int{7, 7, 7, 5}, sizes); diff != "" {
				t.Errorf("page sizes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(interleavedWant(13), messages(got)); diff != "" {
				t.Errorf("messages (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFilterBadToken(t *testing.T) {
	s := openTestStore(t, t.TempDir(), 0)
	appendInterleaved(s, 1)
	_, _, err := s.Filter(FilterQuery{Group: testGroup, Token: "not-a-token!"})
	if !errors.Is(err, ErrInvalidParameter) {
		t.Errorf("err = %v, want InvalidParameterException", err)
	}
	_, _, err = s.Filter(FilterQuery{Group: "/aws/lambda/none"})
	if !errors.Is(err, ErrGroupNotFound) || !errors.Is(err, ErrNotFound) {
		t.Errorf("err = %v, want ErrGroupNotFound", err)
	}
}

func TestFilterTimeRangeAndStreams(t *testing.T) {
	s := openTestStore(t, t.TempDir(), 0)
	appendInterleaved(s, 5) // a: 1000,1002,…,1008  b: 1001,…,1009
	flush(t, s)
	s.Append(testGroup, streamA, Event{Timestamp: 2000, Message: "a-late"})
	tests := []struct {
		name string
		q    FilterQuery
		want []string
	}{
		{"all", FilterQuery{}, append(interleavedWant(5), "a-late")},
		{"start inclusive", FilterQuery{Start: 1007}, []string{"b003", "a004", "b004", "a-late"}},
		{"end inclusive", FilterQuery{End: 1002}, []string{"a000", "b000", "a001"}},
		{"window", FilterQuery{Start: 1003, End: 1004}, []string{"b001", "a002"}},
		{"window in memory", FilterQuery{Start: 1500, End: 2500}, []string{"a-late"}},
		{"empty window", FilterQuery{Start: 1010, End: 1999}, nil},
		{"streams", FilterQuery{Streams: []string{streamB}, End: 1004}, []string{"b000", "b001"}},
		{"prefix", FilterQuery{StreamPrefix: "2024/01/15/[$LATEST]0", Start: 1005}, []string{"a003", "a004", "a-late"}},
		{"no such stream", FilterQuery{Streams: []string{"nope"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.q.Group = testGroup
			if diff := cmp.Diff(tt.want, messages(filterAll(t, s, tt.q)), cmpNilEmpty); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	_, _, err := s.Filter(FilterQuery{Group: testGroup, Streams: []string{streamA}, StreamPrefix: "x"})
	if !errors.Is(err, ErrInvalidParameter) {
		t.Errorf("streams and prefix: err = %v, want InvalidParameterException", err)
	}
}

var cmpNilEmpty = cmp.Transformer("nilEmpty", func(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
})

func TestFilterPattern(t *testing.T) {
	s := openTestStore(t, t.TempDir(), 0)
	for i, m := range []string{
		"START RequestId: 1",
		"ERROR task timed out after 3.00 seconds",
		"error: lower case",
		"ERROR timed and out",
		`quote "inside" here`,
		"END RequestId: 1",
	} {
		s.Append(testGroup, streamA, Event{Timestamp: int64(1000 + i), Message: m})
	}
	tests := []struct {
		pattern string
		want    []string
		wantErr bool
	}{
		{pattern: "", want: []string{"START RequestId: 1", "ERROR task timed out after 3.00 seconds", "error: lower case", "ERROR timed and out", `quote "inside" here`, "END RequestId: 1"}},
		{pattern: "ERROR", want: []string{"ERROR task timed out after 3.00 seconds", "ERROR timed and out"}},
		{pattern: "error", want: []string{"error: lower case"}},
		{pattern: "ERROR out", want: []string{"ERROR task timed out after 3.00 seconds", "ERROR timed and out"}},
		{pattern: `"timed out"`, want: []string{"ERROR task timed out after 3.00 seconds"}},
		{pattern: `ERROR "timed and"`, want: []string{"ERROR timed and out"}},
		{pattern: `RequestId "END"`, want: []string{"END RequestId: 1"}},
		{pattern: `"\"inside\""`, want: []string{`quote "inside" here`}},
		{pattern: "  RequestId:   1  ", want: []string{"START RequestId: 1", "END RequestId: 1"}},
		{pattern: "nothing", want: nil},
		{pattern: `"unterminated`, wantErr: true},
		{pattern: `{ $.level = "ERROR" }`, wantErr: true},
		{pattern: `[ip, user]`, wantErr: true},
		{pattern: `?ERROR ?WARN`, wantErr: true},
		{pattern: `ERROR -timed`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			evs, _, err := s.Filter(FilterQuery{Group: testGroup, Pattern: tt.pattern})
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidParameter) {
					t.Fatalf("err = %v, want InvalidParameterException", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, messages(evs), cmpNilEmpty); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
