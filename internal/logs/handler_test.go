package logs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/google/go-cmp/cmp"
)

// startAPI serves s.Handler() on a random loopback port and returns an SDK
// client for it.
func startAPI(t *testing.T, s *Store) (*cloudwatchlogs.Client, string) {
	t.Helper()
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	client := cloudwatchlogs.New(cloudwatchlogs.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		HTTPClient:   srv.Client(),
	})
	return client, srv.URL
}

func TestSDKDescribeLogGroups(t *testing.T) {
	s := openTestStore(t, t.TempDir(), 0)
	var want []string
	for i := range 73 {
		name := fmt.Sprintf("/aws/lambda/fn%03d", i)
		want = append(want, name)
		s.Append(name, streamA, Event{Timestamp: 1, Message: "x"})
	}
	s.Append("/custom/group", streamA, Event{Timestamp: 1, Message: "x"})
	client, _ := startAPI(t, s)
	ctx := context.Background()

	var got []string
	var pages int
	p := cloudwatchlogs.NewDescribeLogGroupsPaginator(client, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/aws/lambda/")})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, g := range out.LogGroups {
			got = append(got, aws.ToString(g.LogGroupName))
			name := aws.ToString(g.LogGroupName)
			if wantArn := "arn:aws:logs:us-east-1:000000000000:log-group:" + name; aws.ToString(g.LogGroupArn) != wantArn || aws.ToString(g.Arn) != wantArn+":*" {
				t.Errorf("%s: arn %q logGroupArn %q", name, aws.ToString(g.Arn), aws.ToString(g.LogGroupArn))
			}
			if aws.ToInt64(g.CreationTime) == 0 || aws.ToInt64(g.StoredBytes) == 0 || g.MetricFilterCount == nil {
				t.Errorf("%s: missing fields %+v", name, g)
			}
		}
	}
	if pages != 2 {
		t.Errorf("pages = %d, want 2 (limit 50)", pages)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
	out, err := client.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePattern: aws.String("CUSTOM")})
	if err != nil || len(out.LogGroups) != 1 || aws.ToString(out.LogGroups[0].LogGroupName) != "/custom/group" {
		t.Errorf("pattern search: %v %+v", err, out)
	}
}

func TestSDKDescribeLogStreams(t *testing.T) {
	s := openTestStore(t, t.TempDir(), 0)
	var byName []string
	for i := range 7 {
		name := fmt.Sprintf("2024/01/%02d/[$LATEST]%032x", i+1, i)
		byName = append(byName, name)
		// Stream i's last event is at 100 - i: time order is name order reversed.
		s.Append(testGroup, name, Event{Timestamp: int64(50 - i), Message: "first"}, Event{Timestamp: int64(100 - i), Message: "last"})
	}
	flush(t, s)
	client, _ := startAPI(t, s)
	ctx := context.Background()
	list := func(in *cloudwatchlogs.DescribeLogStreamsInput) []types.LogStream {
		var all []types.LogStream
		p := cloudwatchlogs.NewDescribeLogStreamsPaginator(client, in)
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, out.LogStreams...)
		}
		return all
	}
	names := func(ls []types.LogStream) []string {
		var out []string
		for _, l := range ls {
			out = append(out, aws.ToString(l.LogStreamName))
		}
		return out
	}
	reversed := make([]string, len(byName))
	for i, n := range byName {
		reversed[len(byName)-1-i] = n
	}
	tests := []struct {
		name string
		in   cloudwatchlogs.DescribeLogStreamsInput
		want []string
	}{
		{"by name", cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String(testGroup), Limit: aws.Int32(2)}, byName},
		{"by name descending", cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String(testGroup), Limit: aws.Int32(3), Descending: aws.Bool(true)}, reversed},
		{"by time", cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String(testGroup), Limit: aws.Int32(2), OrderBy: types.OrderByLastEventTime}, reversed},
		{"latest first", cloudwatchlogs.DescribeLogStreamsInput{LogGroupIdentifier: aws.String("arn:aws:logs:us-east-1:000000000000:log-group:" + testGroup + ":*"), OrderBy: types.OrderByLastEventTime, Descending: aws.Bool(true), Limit: aws.Int32(4)}, byName},
		{"prefix", cloudwatchlogs.DescribeLogStreamsInput{LogGroupIdentifier: aws.String(testGroup), LogStreamNamePrefix: aws.String("2024/01/03")}, byName[2:3]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, names(list(&tt.in))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	one := list(&cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String(testGroup), LogStreamNamePrefix: aws.String(byName[0])})[0]
	if aws.ToInt64(one.FirstEventTimestamp) != 50 || aws.ToInt64(one.LastEventTimestamp) != 100 || aws.ToInt64(one.StoredBytes) == 0 ||
		aws.ToString(one.Arn) != "arn:aws:logs:us-east-1:000000000000:log-group:"+testGroup+":log-stream:"+byName[0] || one.UploadSequenceToken == nil {
		t.Errorf("stream fields: %+v", one)
	}
	_, err := client.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String(testGroup), OrderBy: types.OrderByLastEventTime, LogStreamNamePrefix: aws.String("x")})
	var ipe *types.InvalidParameterException
	if !errors.As(err, &ipe) {
		t.Errorf("orderBy LastEventTime with prefix: err = %v, want InvalidParameterException", err)
	}
	_, err = client.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String("/aws/lambda/none")})
	var rnf *types.ResourceNotFoundException
	if !errors.As(err, &rnf) || aws.ToString(rnf.Message) != "The specified log group does not exist." {
		t.Errorf("missing group: err = %v, want ResourceNotFoundException", err)
	}
}

func TestSDKGetLogEvents(t *testing.T) {
	s := openTestStore(t, t.TempDir(), 0)
	var want []string
	for i := range 23 {
		m := fmt.Sprintf("line %02d", i)
		want = append(want, m)
		s.Append(testGroup, streamA, Event{Timestamp: int64(1000 + i), Message: m})
		if i == 15 {
			flush(t, s)
		}
	}
	s.Append(testGroup, streamB, Event{Timestamp: 1005, Message: "other stream"})
	client, _ := startAPI(t, s)
	ctx := context.Background()
	msgs := func(evs []types.OutputLogEvent) []string {
		var out []string
		for _, e := range evs {
			out = append(out, aws.ToString(e.Message))
		}
		return out
	}

	// Forward from the head with the SDK paginator: stops on the repeated token.
	var got []string
	p := cloudwatchlogs.NewGetLogEventsPaginator(client, &cloudwatchlogs.GetLogEventsInput{
		LogGroupName: aws.String(testGroup), LogStreamName: aws.String(streamA), StartFromHead: aws.Bool(true), Limit: aws.Int32(5),
	}, func(o *cloudwatchlogs.GetLogEventsPaginatorOptions) { o.StopOnDuplicateToken = true })
	for pages := 0; p.HasMorePages(); pages++ {
		if pages > 20 {
			t.Fatal("GetLogEvents paginator does not terminate")
		}
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, msgs(out.Events)...)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("forward (-want +got):\n%s", diff)
	}

	// Default is the tail; walk backwards from it.
	out, err := client.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(testGroup), LogStreamName: aws.String(streamA), Limit: aws.Int32(4)})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want[19:], msgs(out.Events)); diff != "" {
		t.Errorf("tail (-want +got):\n%s", diff)
	}
	out, err = client.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(testGroup), LogStreamName: aws.String(streamA), Limit: aws.Int32(4), NextToken: out.NextBackwardToken})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want[15:19], msgs(out.Events)); diff != "" {
		t.Errorf("backward page (-want +got):\n%s", diff)
	}

	// Following: at the end the same forward token comes back, and a new
	// event shows up with it at once (no flush).
	out, err = client.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(testGroup), LogStreamName: aws.String(streamA), StartTime: aws.Int64(1022)})
	if err != nil || len(out.Events) != 1 {
		t.Fatalf("from 1022: %v %v", err, out)
	}
	tok := out.NextForwardToken
	again, err := client.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(testGroup), LogStreamName: aws.String(streamA), NextToken: tok, StartFromHead: aws.Bool(true)})
	if err != nil || len(again.Events) != 0 || aws.ToString(again.NextForwardToken) != aws.ToString(tok) {
		t.Errorf("at end: err %v, %d events, token %q want %q", err, len(again.Events), aws.ToString(again.NextForwardToken), aws.ToString(tok))
	}
	s.Append(testGroup, streamA, Event{Timestamp: 2000, Message: "new"})
	again, err = client.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(testGroup), LogStreamName: aws.String(streamA), NextToken: tok, StartFromHead: aws.Bool(true)})
	if err != nil || !cmp.Equal(msgs(again.Events), []string{"new"}) {
		t.Errorf("follow: err %v, events %v", err, msgs(again.Events))
	}

	// endTime is exclusive.
	out, err = client.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(testGroup), LogStreamName: aws.String(streamA), StartTime: aws.Int64(1001), EndTime: aws.Int64(1003), StartFromHead: aws.Bool(true)})
	if err != nil || !cmp.Equal(msgs(out.Events), want[1:3]) {
		t.Errorf("time range: err %v, events %v", err, msgs(out.Events))
	}

	_, err = client.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(testGroup), LogStreamName: aws.String("nope")})
	var rnf *types.ResourceNotFoundException
	if !errors.As(err, &rnf) || aws.ToString(rnf.Message) != "The specified log stream does not exist." {
		t.Errorf("missing stream: %v", err)
	}
}

func TestSDKFilterLogEvents(t *testing.T) {
	s := openTestStore(t, t.TempDir(), 0)
	appendInterleaved(s, 30)
	flush(t, s)
	s.Append(testGroup, streamB, Event{Timestamp: 5000, Message: "b-unflushed"})
	client, _ := startAPI(t, s)
	ctx := context.Background()
	collect := func(in *cloudwatchlogs.FilterLogEventsInput) []types.FilteredLogEvent {
		var all []types.FilteredLogEvent
		p := cloudwatchlogs.NewFilterLogEventsPaginator(client, in)
		for pages := 0; p.HasMorePages(); pages++ {
			if pages > 100 {
				t.Fatal("FilterLogEvents paginator does not terminate")
			}
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, out.Events...)
		}
		return all
	}
	msgs := func(evs []types.FilteredLogEvent) []string {
		var out []string
		for _, e := range evs {
			out = append(out, aws.ToString(e.Message))
		}
		return out
	}
	all := collect(&cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(testGroup), Limit: aws.Int32(7)})
	if diff := cmp.Diff(append(interleavedWant(30), "b-unflushed"), msgs(all)); diff != "" {
		t.Errorf("all (-want +got):\n%s", diff)
	}
	for _, e := range all {
		if e.EventId == nil || e.LogStreamName == nil || e.IngestionTime == nil || e.Timestamp == nil {
			t.Fatalf("missing fields: %+v", e)
		}
	}
	got := collect(&cloudwatchlogs.FilterLogEventsInput{
		LogGroupIdentifier: aws.String("arn:aws:logs:us-east-1:000000000000:log-group:" + testGroup),
		LogStreamNames:     []string{streamB},
		StartTime:          aws.Int64(1040),
		FilterPattern:      aws.String("b"),
	})
	if diff := cmp.Diff([]string{"b020", "b021", "b022", "b023", "b024", "b025", "b026", "b027", "b028", "b029", "b-unflushed"}, msgs(got)); diff != "" {
		t.Errorf("filtered (-want +got):\n%s", diff)
	}

	_, err := client.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("/aws/lambda/none")})
	var rnf *types.ResourceNotFoundException
	if !errors.As(err, &rnf) {
		t.Errorf("missing group: %v", err)
	}
	_, err = client.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(testGroup), FilterPattern: aws.String("{ $.x = 1 }")})
	var ipe *types.InvalidParameterException
	if !errors.As(err, &ipe) {
		t.Errorf("JSON pattern: %v, want InvalidParameterException", err)
	}
	_, err = client.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(testGroup), LogGroupIdentifier: aws.String(testGroup)})
	if !errors.As(err, &ipe) {
		t.Errorf("name and identifier: %v, want InvalidParameterException", err)
	}
}

func TestHandlerRawErrors(t *testing.T) {
	s := openTestStore(t, t.TempDir(), 0)
	_, url := startAPI(t, s)
	tests := []struct {
		name, method, target, body string
		wantType                   string
	}{
		{"unknown operation", http.MethodPost, "Logs_20140328.PutLogEvents", `{}`, "UnknownOperationException"},
		{"wrong prefix", http.MethodPost, "Lambda.FilterLogEvents", `{}`, "UnknownOperationException"},
		{"GET", http.MethodGet, "Logs_20140328.DescribeLogGroups", ``, "UnknownOperationException"},
		{"bad JSON", http.MethodPost, "Logs_20140328.DescribeLogGroups", `{"limit":`, "SerializationException"},
		{"wrong type", http.MethodPost, "Logs_20140328.DescribeLogGroups", `{"limit":"ten"}`, "SerializationException"},
		{"bad limit", http.MethodPost, "Logs_20140328.DescribeLogGroups", `{"limit":51}`, "InvalidParameterException"},
		{"bad token", http.MethodPost, "Logs_20140328.DescribeLogGroups", `{"nextToken":"zz"}`, "InvalidParameterException"},
		{"missing group", http.MethodPost, "Logs_20140328.FilterLogEvents", `{"logGroupName":"/aws/lambda/x"}`, "ResourceNotFoundException"},
		{"no group", http.MethodPost, "Logs_20140328.FilterLogEvents", `{}`, "InvalidParameterException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, url+"/", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", contentType)
			req.Header.Set("X-Amz-Target", tt.target)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Type    string `json:"__type"`
				Message string `json:"message"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusBadRequest || body.Type != tt.wantType || resp.Header.Get("X-Amzn-ErrorType") != tt.wantType || body.Message == "" {
				t.Errorf("got %d %q %+v, want 400 %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), body, tt.wantType)
			}
		})
	}
}
