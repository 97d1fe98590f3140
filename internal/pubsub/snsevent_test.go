package pubsub

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"gust/internal/lambda"
)

var testID = lambda.Identity{Region: "us-east-1", Account: "000000000000"}

// checkSNSEvent decodes payload strictly into aws-lambda-go's SNSEvent and
// compares its key sets, level by level, with aws-lambda-go's own sample
// event; it returns the decoded event.
func checkSNSEvent(t *testing.T, payload []byte) events.SNSEvent {
	t.Helper()
	var ev events.SNSEvent
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		t.Fatalf("event is not an aws-lambda-go SNSEvent: %v\n%s", err, payload)
	}
	want, got := keySets(sampleSNSEvent(t)), keySets(decodeAny(t, payload))
	const attrValues = ".Records[].Sns.MessageAttributes.*"
	if _, ok := got[attrValues]; !ok {
		delete(want, attrValues) // an event without attributes has no attribute values to compare
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("key sets differ from aws-lambda-go's sns-event.json (-sample +got):\n%s", diff)
	}
	return ev
}

// sampleSNSEvent reads events/testdata/sns-event.json of the aws-lambda-go
// module this build uses.
func sampleSNSEvent(t *testing.T) any {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/aws/aws-lambda-go").Output()
	if err != nil {
		t.Fatalf("locate aws-lambda-go: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "events", "testdata", "sns-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	return decodeAny(t, b)
}

func decodeAny(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// keySets maps each object path ("Records[]", "Records[].Sns", …) to its
// sorted keys. The keys of MessageAttributes are attribute names, so only
// the keys of their values count there.
func keySets(v any) map[string][]string {
	out := map[string][]string{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if strings.HasSuffix(path, ".MessageAttributes") {
				for _, attr := range x {
					walk(path+".*", attr)
				}
				return
			}
			keys := make([]string, 0, len(x))
			for k, child := range x {
				keys = append(keys, k)
				walk(path+"."+k, child)
			}
			slices.Sort(keys)
			out[path] = keys
		case []any:
			for _, e := range x {
				walk(path+"[]", e)
			}
		}
	}
	walk("", v)
	return out
}

func TestBuildEventMatchesAWSShape(t *testing.T) {
	subject := "TestInvoke"
	published := time.Date(2015, 6, 3, 17, 43, 27, 123456789, time.UTC)
	m := &message{id: "95df01b4-ee98-5cb9-9903-4c221d41eb5e", subject: &subject, body: []byte(`Hello <from> & SNS!`),
		attributes: map[string]Attribute{"Test": {Type: AttributeString, Value: "TestString"}, "TestBinary": {Type: AttributeBinary, Value: "VGVzdEJpbmFyeQ=="}},
		published:  published}
	topicARN := "arn:aws:sns:us-east-1:000000000000:orders"
	subARN := topicARN + ":2bcfbf39-05c3-41de-beaa-fcfcc21c8f55"
	payload, err := buildEvent(testID, topicARN, subARN, m)
	if err != nil {
		t.Fatal(err)
	}
	ev := checkSNSEvent(t, payload)
	if len(ev.Records) != 1 {
		t.Fatalf("%d records, want 1", len(ev.Records))
	}
	r := ev.Records[0]
	if r.EventSource != "aws:sns" || r.EventVersion != "1.0" || r.EventSubscriptionArn != subARN {
		t.Errorf("record = %+v", r)
	}
	s := r.SNS
	if s.Type != "Notification" || s.MessageID != m.id || s.TopicArn != topicARN || s.Subject != subject ||
		s.Message != "Hello <from> & SNS!" || s.SignatureVersion != "1" || s.Signature == "" ||
		!strings.HasPrefix(s.SigningCertURL, "https://") || !strings.Contains(s.UnsubscribeURL, "SubscriptionArn=arn%3Aaws%3Asns") {
		t.Errorf("Sns = %+v", s)
	}
	if !s.Timestamp.Equal(published.Truncate(time.Millisecond)) {
		t.Errorf("Timestamp = %v, want %v", s.Timestamp, published.Truncate(time.Millisecond))
	}
	if !bytes.Contains(payload, []byte(`"Timestamp":"2015-06-03T17:43:27.123Z"`)) || !bytes.Contains(payload, []byte(`Hello <from> & SNS!`)) {
		t.Errorf("payload not written as SNS writes it: %s", payload)
	}
	want := map[string]any{"Test": map[string]any{"Type": "String", "Value": "TestString"},
		"TestBinary": map[string]any{"Type": "Binary", "Value": "VGVzdEJpbmFyeQ=="}}
	if diff := cmp.Diff(want, s.MessageAttributes); diff != "" {
		t.Errorf("MessageAttributes (-want +got):\n%s", diff)
	}
}

func TestBuildEventWithoutSubjectOrAttributes(t *testing.T) {
	m := &message{id: "id", body: []byte("x"), published: time.Now()}
	payload, err := buildEvent(testID, "arn:aws:sns:us-east-1:000000000000:t", "arn:aws:sns:us-east-1:000000000000:t:s", m)
	if err != nil {
		t.Fatal(err)
	}
	// Real SNS events carry "Subject": null and "MessageAttributes": {}.
	if !bytes.Contains(payload, []byte(`"Subject":null`)) || !bytes.Contains(payload, []byte(`"MessageAttributes":{}`)) {
		t.Errorf("payload = %s", payload)
	}
	decoded := decodeAny(t, payload).(map[string]any)
	sns := decoded["Records"].([]any)[0].(map[string]any)["Sns"].(map[string]any)
	sample := sampleSNSEvent(t).(map[string]any)["Records"].([]any)[0].(map[string]any)["Sns"].(map[string]any)
	if len(sns) != len(sample) {
		t.Errorf("Sns has %d keys, the sample %d", len(sns), len(sample))
	}
	checkSNSEvent(t, payload)
}

func TestFromHeaders(t *testing.T) {
	h := map[string][]string{
		"Subject":              {"Order placed"},
		"store":                {"example_corp", "ignored second value"},
		"price":                {"210.75"},
		"tags":                 {`["a","b"]`},
		"blob":                 {"aGk="},
		"count":                {"not a number"},
		"Nats-Msg-Id":          {"dedupe-1"},
		"Gust-Attribute-Types": {"price=Number, tags=String.Array,blob=Binary,count=Number"},
	}
	subject, attrs := fromHeaders(h)
	if subject == nil || *subject != "Order placed" {
		t.Errorf("subject = %v", subject)
	}
	want := map[string]Attribute{
		"store": {Type: "String", Value: "example_corp"},
		"price": {Type: "Number", Value: "210.75"},
		"tags":  {Type: "String.Array", Value: `["a","b"]`},
		"blob":  {Type: "Binary", Value: "aGk="},
		"count": {Type: "String", Value: "not a number"}, // not a Number after all
	}
	if diff := cmp.Diff(want, attrs); diff != "" {
		t.Errorf("attributes (-want +got):\n%s", diff)
	}
	if subject, attrs := fromHeaders(nil); subject != nil || len(attrs) != 0 {
		t.Errorf("no headers: %v %v", subject, attrs)
	}
}

func TestMessageIDIsStable(t *testing.T) {
	a := messageID("arn:t", "S", "1")
	if a != messageID("arn:t", "S", "1") {
		t.Error("same message, different ids")
	}
	if a == messageID("arn:t", "S", "2") || a == messageID("arn:u", "S", "1") {
		t.Error("different messages, same id")
	}
	if len(a) != 36 {
		t.Errorf("id %q is not a UUID", a)
	}
}
