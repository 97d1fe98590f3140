package logs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/google/go-cmp/cmp"
)

// testClock is a settable clock for Options.Now.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func openStoreWith(t *testing.T, opts Options) *Store {
	t.Helper()
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestRetentionHidesAndSweepsOldEvents(t *testing.T) {
	dir := t.TempDir()
	clock := &testClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	s := openStoreWith(t, Options{Dir: dir, MaxBytesPerGroup: 64 << 10, Now: clock.now})
	day := int64(msPerDay)
	nowMs := clock.now().UnixMilli()
	// Old events fill whole segments of their own (segment size 8 KiB).
	for i := range 40 {
		s.Append(testGroup, streamA, Event{Timestamp: nowMs - 10*day + int64(i), Message: fmt.Sprintf("old%02d %s", i, strings.Repeat("x", 400))})
	}
	flush(t, s)
	s.Append(testGroup, streamB, Event{Timestamp: nowMs - day/2, Message: "recent"})
	flush(t, s)
	if err := s.SetRetention(testGroup, 7); err != nil {
		t.Fatal(err)
	}
	got := messages(filterAll(t, s, FilterQuery{Group: testGroup}))
	if diff := cmp.Diff([]string{"recent"}, got); diff != "" {
		t.Errorf("events within 7 days (-want +got):\n%s", diff)
	}
	before := dirSize(t, dir)
	if err := s.sweepExpired(); err != nil {
		t.Fatal(err)
	}
	if after := dirSize(t, dir); after >= before/2 {
		t.Errorf("sweep left %d of %d bytes on disk; the old segments should be gone", after, before)
	}
	// Only the segment shared with the recent event may still hold old ones.
	streams, err := s.Streams(testGroup)
	if err != nil || len(streams) != 2 || streams[0].StoredBytes > 8<<10 {
		t.Errorf("streams after sweep = %+v, %v; want %s down to one segment", streams, err, streamA)
	}
	// Time passes: the recent event expires too.
	clock.advance(8 * 24 * time.Hour)
	if got := filterAll(t, s, FilterQuery{Group: testGroup}); len(got) != 0 {
		t.Errorf("after 8 more days got %q, want nothing", messages(got))
	}
	if err := s.sweepExpired(); err != nil {
		t.Fatal(err)
	}
	s.Append(testGroup, streamA, Event{Message: "new"}) // Timestamp 0: real now
	flush(t, s)
	if got := messages(filterAll(t, s, FilterQuery{Group: testGroup})); !cmp.Equal(got, []string{"new"}) {
		t.Errorf("after sweeping every segment, new events: %q, want [new]", got)
	}
}

func TestRetentionSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	s := openStoreWith(t, Options{Dir: dir})
	s.Append(testGroup, streamA, Event{Message: "x"})
	s.Append("/aws/lambda/other", streamA, Event{Message: "y"})
	if err := s.SetRetention(testGroup, 30); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRetention("/aws/lambda/other", 1); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRetention("/aws/lambda/other", 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openStoreWith(t, Options{Dir: dir})
	got := map[string]int{}
	for _, g := range s2.Groups("") {
		got[g.Name] = g.RetentionInDays
	}
	want := map[string]int{testGroup: 30, "/aws/lambda/other": 0}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("retention after restart (-want +got):\n%s", diff)
	}
}

func TestSetRetentionErrors(t *testing.T) {
	s := openStoreWith(t, Options{Dir: t.TempDir()})
	if err := s.SetRetention("/nope", 7); !errors.Is(err, ErrGroupNotFound) {
		t.Errorf("unknown group: %v, want ErrGroupNotFound", err)
	}
	s.Append(testGroup, streamA, Event{Message: "x"})
	for _, days := range []int{-1, 2, 4, 10000} {
		if err := s.SetRetention(testGroup, days); !errors.Is(err, ErrInvalidParameter) {
			t.Errorf("SetRetention(%d) = %v, want InvalidParameterException", days, err)
		}
	}
}

func TestTotalBoundEvictsTheLargestGroup(t *testing.T) {
	dir := t.TempDir()
	// Each group may hold 256 KiB, but all together only 128 KiB.
	s := openStoreWith(t, Options{Dir: dir, MaxBytesPerGroup: 256 << 10, MaxBytesTotal: 128 << 10})
	const quiet, loud = "/aws/lambda/quiet", "/aws/lambda/loud"
	big := strings.Repeat("z", 1000)
	var want []string
	for i := range 40 { // two segments: the older one is the oldest of all
		m := fmt.Sprintf("quiet %02d %s", i, big)
		want = append(want, m)
		s.Append(quiet, streamA, Event{Message: m})
	}
	flush(t, s)
	if n := len(s.groups[quiet].segs); n < 2 {
		t.Fatalf("quiet group has %d segments, want 2 or more", n)
	}
	for i := range 1000 { // about 1 MiB, in many flushes
		s.Append(loud, streamA, Event{Message: fmt.Sprintf("%04d %s", i, big)})
		if i%20 == 19 {
			flush(t, s)
			if err := s.enforceTotal(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := messages(filterAll(t, s, FilterQuery{Group: quiet})); !cmp.Equal(got, want) {
		t.Errorf("quiet group after the flood: %d events, want all %d", len(got), len(want))
	}
	loudEvents := filterAll(t, s, FilterQuery{Group: loud})
	if len(loudEvents) == 0 || len(loudEvents) >= 1000 {
		t.Fatalf("loud group kept %d of 1000 events; want its oldest evicted", len(loudEvents))
	}
	if last := loudEvents[len(loudEvents)-1].Message; !strings.HasPrefix(last, "0999 ") {
		t.Errorf("loud group's newest event %.10q, want 0999", last)
	}
	// Disk stays near the bound: within one segment of it per group.
	if size := dirSize(t, dir); size > 128<<10+2*(256<<10)/8+4096 {
		t.Errorf("logs use %d bytes on disk, bound 128 KiB", size)
	}
}

func TestOpenRejectsTinyTotal(t *testing.T) {
	if _, err := Open(Options{Dir: t.TempDir(), MaxBytesTotal: 100}); err == nil {
		t.Fatal("Open accepted MaxBytesTotal 100")
	}
}

func TestSDKRetentionAndDeleteLogGroup(t *testing.T) {
	s := openStoreWith(t, Options{Dir: t.TempDir()})
	s.Append(testGroup, streamA, Event{Message: "x"})
	client, _ := startAPI(t, s)
	ctx := context.Background()

	_, err := client.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: aws.String(testGroup), RetentionInDays: aws.Int32(2)})
	var ipe *types.InvalidParameterException
	if !errors.As(err, &ipe) || !strings.Contains(ipe.ErrorMessage(), "Value '2' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: [1, 3, 5, 7, 14,") {
		t.Errorf("retention 2: %v, want InvalidParameterException naming the allowed values", err)
	}
	if _, err := client.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: aws.String(testGroup), RetentionInDays: aws.Int32(14)}); err != nil {
		t.Fatal(err)
	}
	retention := func() *int32 {
		out, err := client.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(testGroup)})
		if err != nil || len(out.LogGroups) != 1 {
			t.Fatalf("DescribeLogGroups: %v %+v", err, out)
		}
		return out.LogGroups[0].RetentionInDays
	}
	if got := retention(); aws.ToInt32(got) != 14 {
		t.Errorf("retentionInDays = %v, want 14", got)
	}
	if _, err := client.DeleteRetentionPolicy(ctx, &cloudwatchlogs.DeleteRetentionPolicyInput{LogGroupName: aws.String(testGroup)}); err != nil {
		t.Fatal(err)
	}
	if got := retention(); got != nil {
		t.Errorf("retentionInDays after DeleteRetentionPolicy = %d, want absent", *got)
	}
	var rnf *types.ResourceNotFoundException
	if _, err := client.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: aws.String("/nope"), RetentionInDays: aws.Int32(1)}); !errors.As(err, &rnf) {
		t.Errorf("unknown group: %v, want ResourceNotFoundException", err)
	}
	if _, err := client.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: aws.String(testGroup)}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: aws.String(testGroup)}); !errors.As(err, &rnf) {
		t.Errorf("second DeleteLogGroup: %v, want ResourceNotFoundException", err)
	}
	if _, err := os.Stat(s.opts.Dir); err != nil {
		t.Fatal(err)
	}
	if gs := s.Groups(""); len(gs) != 0 {
		t.Errorf("groups after delete: %+v", gs)
	}
}
