package eventpattern

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
)

// ec2Event is the example event of EventBridge's content-filtering
// documentation, which most examples below are matched against.
const ec2Event = `{
  "version": "0",
  "id": "ddddd4-aaaa-7777-4444-345dd43cc333",
  "detail-type": "EC2 Instance State-change Notification",
  "source": "aws.ec2",
  "account": "012345679012",
  "time": "2017-10-02T16:24:49Z",
  "region": "us-east-1",
  "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
  "detail": {
    "c-count": 5,
    "d-count": 3,
    "x-limit": 301.8,
    "source-ip": "10.0.0.33",
    "instance-id": "i-000000aaaaaa00000",
    "state": "running"
  }
}`

// autoScalingEvent is the documentation's example of empty strings and
// nulls.
const autoScalingEvent = `{"version": "0", "detail-type": "EC2 Instance Launch Successful",
  "source": "aws.autoscaling", "resources": [],
  "detail": {"eventVersion": "", "responseElements": null}}`

// macieEvent is the documentation's (truncated) Macie alert.
const macieEvent = `{"source": "aws.macie", "detail-type": "Macie Alert",
  "detail": {"notification-type": "ALERT_CREATED", "tags": ["Custom_Alert", "Insider"],
    "risk-score": 80, "trigger": {"alert-type": "basic", "risk": 8}}}`

// employeesEvent holds an array of objects, for array-consistent matching.
const employeesEvent = `{"employees": [
  {"firstName": "John", "lastName": "Doe"},
  {"firstName": "Anna", "lastName": "Smith"},
  {"firstName": "Peter", "lastName": "Jones"}]}`

const cloudwatchEvent = `{"source": "aws.cloudwatch", "metricName": "NetworkIn",
  "namespace": "AWS/EC2", "metricType": "Other", "scope": "Account",
  "detail": {"source": "custom", "detail-type": "CloudWatch Alarm State Change"}}`

type matchCase struct {
	name    string
	pattern string
	event   string
	want    bool
}

// matchGroups are the table cases, grouped by feature. Numbers in them are
// exactly representable as float64, so every case also runs on an event
// decoded without UseNumber.
var matchGroups = []struct {
	feature string
	cases   []matchCase
}{
	{"exact", []matchCase{
		{"ec2 termination pattern", `{"source":["aws.ec2"],"detail-type":["EC2 Instance State-change Notification"],"detail":{"state":["terminated"]}}`, `{"source":"aws.ec2","detail-type":"EC2 Instance State-change Notification","detail":{"instance-id":"i-1","state":"terminated"}}`, true},
		{"ec2 termination pattern, running instance", `{"source":["aws.ec2"],"detail":{"state":["terminated"]}}`, ec2Event, false},
		{"one of several values", `{"source":["aws.fargate","aws.ec2"]}`, ec2Event, true},
		{"none of several values", `{"source":["aws.fargate","aws.s3"]}`, ec2Event, false},
		{"strings are case-sensitive", `{"source":["AWS.EC2"]}`, ec2Event, false},
		{"other event fields are ignored", `{"region":["us-east-1"]}`, ec2Event, true},
		{"field absent from event", `{"detail":{"reason":["stopped"]}}`, ec2Event, false},
		{"nesting must agree", `{"state":["running"]}`, ec2Event, false},
		{"all fields must match", `{"source":["aws.ec2"],"region":["eu-west-1"]}`, ec2Event, false},
		{"empty string", `{"detail":{"eventVersion":[""]}}`, autoScalingEvent, true},
		{"null", `{"source":["aws.autoscaling"],"detail":{"responseElements":[null]}}`, autoScalingEvent, true},
		{"null does not match empty string", `{"detail":{"eventVersion":[null]}}`, autoScalingEvent, false},
		{"empty string does not match null", `{"detail":{"responseElements":[""]}}`, autoScalingEvent, false},
		{"macie risk scores", `{"source":["aws.macie"],"detail":{"risk-score":[80],"trigger":{"risk":[8]}}}`, macieEvent, true},
		{"macie other risk score", `{"detail":{"risk-score":[81]}}`, macieEvent, false},
		{"true", `{"detail":{"enabled":[true]}}`, `{"detail":{"enabled":true}}`, true},
		{"true against false", `{"detail":{"enabled":[true]}}`, `{"detail":{"enabled":false}}`, false},
		{"false", `{"detail":{"enabled":[false]}}`, `{"detail":{"enabled":false}}`, true},
		{"true against string", `{"detail":{"enabled":[true]}}`, `{"detail":{"enabled":"true"}}`, false},
		{"string against number", `{"detail":{"risk-score":["80"]}}`, macieEvent, false},
		{"number against string", `{"Price":[100]}`, `{"Price":"100"}`, false},
		{"leaf against object", `{"detail":["running"]}`, ec2Event, false},
		{"string that is an IP, other spelling", `{"ip":["2001:db8::1"]}`, `{"ip":"2001:0db8:0:0:0:0:0:1"}`, true},
		{"unicode strings", `{"city":["Zürich"]}`, `{"city":"Zürich"}`, true},
	}},
	{"numbers", []matchCase{
		{"300 matches 300.0", `{"n":[300]}`, `{"n":300.0}`, true},
		{"3.0e2 matches 300", `{"n":[3.0e2]}`, `{"n":300}`, true},
		{"301.8 matches 3.018e2", `{"detail":{"x-limit":[3.018e2]}}`, ec2Event, true},
		{"0.1 matches 0.10", `{"n":[0.1]}`, `{"n":0.10}`, true},
		{"0 matches -0", `{"n":[0]}`, `{"n":-0}`, true},
		{"300 does not match 300.5", `{"n":[300]}`, `{"n":300.5}`, false},
		{"negative numbers", `{"n":[-12.5]}`, `{"n":-1.25e1}`, true},
		{"sign matters", `{"n":[12.5]}`, `{"n":-12.5}`, false},
	}},
	{"arrays", []matchCase{
		{"pattern and event arrays intersect", `{"resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f","arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f"]}`, `{"resources":["arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b","arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"]}`, true},
		{"pattern and event arrays are disjoint", `{"resources":["arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f"]}`, `{"resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"]}`, false},
		{"any tag", `{"detail":{"tags":["Insider"]}}`, macieEvent, true},
		{"nested event arrays are flattened", `{"tags":["c"]}`, `{"tags":[["a","b"],[["c"]]]}`, true},
		{"field inside array of objects", `{"employees":{"firstName":["Anna"]}}`, employeesEvent, true},
		{"two fields from one element", `{"employees":{"firstName":["Anna"],"lastName":["Smith"]}}`, employeesEvent, true},
		{"two fields from different elements", `{"employees":{"firstName":["Anna"],"lastName":["Jones"]}}`, employeesEvent, false},
		{"multi-level arrays of objects", `{"employees":{"firstName":["Peter"],"lastName":["Jones"]}}`, `{"employees":[[{"firstName":"John","lastName":"Doe"},{"firstName":"Anna","lastName":"Smith"}],[{"firstName":"Peter","lastName":"Jones"}]]}`, true},
		{"objects in array are not leaf values", `{"employees":[{"exists":true}]}`, employeesEvent, false},
		{"scalars beside objects are leaf values", `{"items":["x"]}`, `{"items":[{"a":1},"x"]}`, true},
		{"empty array has no values", `{"resources":[{"exists":true}]}`, autoScalingEvent, false},
		{"empty array counts as absent", `{"resources":[{"exists":false}]}`, autoScalingEvent, true},
		{"array of scalars has no nested fields", `{"a":{"b":[{"exists":false}]}}`, `{"a":[1,2]}`, true},
		{"every element has the field", `{"a":{"b":[{"exists":false}]}}`, `{"a":[{"b":1},[{"b":null}]]}`, false},
		{"one element lacks the field", `{"a":{"b":[{"exists":false}]}}`, `{"a":[{"b":1},{"c":2}]}`, true},
		{"exists false inside one element", `{"employees":{"firstName":["Anna"],"middleName":[{"exists":false}]}}`, employeesEvent, true},
	}},
	{"prefix", []matchCase{
		{"date prefix", `{"time":[{"prefix":"2017-10-02"}]}`, ec2Event, true},
		{"other date", `{"time":[{"prefix":"2017-10-03"}]}`, ec2Event, false},
		{"prefix is case-sensitive", `{"source":[{"prefix":"AWS."}]}`, ec2Event, false},
		{"empty prefix matches any string", `{"source":[{"prefix":""}]}`, ec2Event, true},
		{"prefix does not apply to numbers", `{"detail":{"x-limit":[{"prefix":"30"}]}}`, ec2Event, false},
		{"prefix on array elements", `{"resources":[{"prefix":"arn:aws:ec2:"}]}`, ec2Event, true},
		{"prefix ignoring case", `{"detail":{"service":[{"prefix":{"equals-ignore-case":"EventB"}}]}}`, `{"detail":{"service":"eventbridge"}}`, true},
		{"prefix ignoring case, upper-case value", `{"detail":{"service":[{"prefix":{"equals-ignore-case":"eventb"}}]}}`, `{"detail":{"service":"EVENTBRIDGE"}}`, true},
		{"prefix ignoring case, no match", `{"detail":{"service":[{"prefix":{"equals-ignore-case":"EventB"}}]}}`, `{"detail":{"service":"Event"}}`, false},
		{"prefix ignoring case, non-ASCII", `{"name":[{"prefix":{"equals-ignore-case":"ÉCO"}}]}`, `{"name":"école"}`, true},
	}},
	{"suffix", []matchCase{
		{"file extension", `{"FileName":[{"suffix":".png"}]}`, `{"FileName":"image.png"}`, true},
		{"suffix is case-sensitive", `{"FileName":[{"suffix":".png"}]}`, `{"FileName":"image.PNG"}`, false},
		{"other extension", `{"FileName":[{"suffix":".png"}]}`, `{"FileName":"image.jpg"}`, false},
		{"source suffix", `{"source":[{"suffix":"ec2"}]}`, ec2Event, true},
		{"suffix ignoring case", `{"detail":{"FileName":[{"suffix":{"equals-ignore-case":".png"}}]}}`, `{"detail":{"FileName":"IMAGE.PNG"}}`, true},
		{"suffix ignoring case, service name", `{"service":[{"suffix":{"equals-ignore-case":"tBridge"}}]}`, `{"service":"EVENTBRIDGE"}`, true},
		{"suffix does not apply to numbers", `{"detail":{"c-count":[{"suffix":"5"}]}}`, ec2Event, false},
	}},
	{"equals-ignore-case", []matchCase{
		{"lower-case pattern", `{"Name":[{"equals-ignore-case":"alice"}]}`, `{"Name":"Alice"}`, true},
		{"upper-case value", `{"Name":[{"equals-ignore-case":"alice"}]}`, `{"Name":"ALICE"}`, true},
		{"different string", `{"Name":[{"equals-ignore-case":"alice"}]}`, `{"Name":"Alicia"}`, false},
		{"source", `{"source":[{"equals-ignore-case":"AWS.EC2"}]}`, ec2Event, true},
		{"not for numbers", `{"n":[{"equals-ignore-case":"5"}]}`, `{"n":5}`, false},
	}},
	{"wildcard", []matchCase{
		{"inner wildcard", `{"source":[{"wildcard":"Simple*Service"}]}`, `{"source":"SimpleQueueService"}`, true},
		{"wildcard matches nothing", `{"source":[{"wildcard":"Simple*Service"}]}`, `{"source":"SimpleService"}`, true},
		{"trailing text must match", `{"source":[{"wildcard":"Simple*Service"}]}`, `{"source":"SimpleServices"}`, false},
		{"leading wildcard", `{"FileName":[{"wildcard":"*.png"}]}`, `{"FileName":"dir/file.png"}`, true},
		{"word anywhere", `{"Title":[{"wildcard":"*Title*"}]}`, `{"Title":"A Title Here"}`, true},
		{"wildcard is case-sensitive", `{"Title":[{"wildcard":"*Title*"}]}`, `{"Title":"a title"}`, false},
		{"png in dir", `{"FilePath":[{"wildcard":"dir/*.png"}]}`, `{"FilePath":"dir/a/b.png"}`, true},
		{"png in another dir", `{"FilePath":[{"wildcard":"dir/*.png"}]}`, `{"FilePath":"other/b.png"}`, false},
		{"escaped asterisk", `{"k":[{"wildcard":"a\\*b"}]}`, `{"k":"a*b"}`, true},
		{"escaped asterisk is literal", `{"k":[{"wildcard":"a\\*b"}]}`, `{"k":"axb"}`, false},
		{"escaped backslash", `{"k":[{"wildcard":"a\\\\*"}]}`, `{"k":"a\\bc"}`, true},
		{"lone wildcard matches empty string", `{"k":[{"wildcard":"*"}]}`, `{"k":""}`, true},
		{"wildcard does not apply to numbers", `{"k":[{"wildcard":"*"}]}`, `{"k":5}`, false},
		{"segments in order", `{"k":[{"wildcard":"a*b*c"}]}`, `{"k":"acb"}`, false},
		{"repeated segments", `{"k":[{"wildcard":"*ab*ab*"}]}`, `{"k":"abab"}`, true},
		{"repeated segments need two", `{"k":[{"wildcard":"*ab*ab*"}]}`, `{"k":"aba"}`, false},
		{"no wildcard is exact", `{"k":[{"wildcard":"abc"}]}`, `{"k":"abcd"}`, false},
	}},
	{"anything-but", []matchCase{
		{"other string", `{"detail":{"state":[{"anything-but":"initializing"}]}}`, ec2Event, true},
		{"the excluded string", `{"detail":{"state":[{"anything-but":"running"}]}}`, ec2Event, false},
		{"other number", `{"detail":{"x-limit":[{"anything-but":123}]}}`, ec2Event, true},
		{"the excluded number", `{"detail":{"x-limit":[{"anything-but":301.8}]}}`, ec2Event, false},
		{"the excluded number, other spelling", `{"n":[{"anything-but":123}]}`, `{"n":1.23e2}`, false},
		{"string list", `{"detail":{"state":[{"anything-but":["stopped","overloaded"]}]}}`, ec2Event, true},
		{"string list, excluded", `{"detail":{"state":[{"anything-but":["stopped","running"]}]}}`, ec2Event, false},
		{"number list", `{"detail":{"x-limit":[{"anything-but":[100,200,300]}]}}`, ec2Event, true},
		{"number list, excluded", `{"detail":{"x-limit":[{"anything-but":[100,200,300]}]}}`, `{"detail":{"x-limit":300.0}}`, false},
		{"string exclusion lets numbers through", `{"Weather":[{"anything-but":"Raining"}]}`, `{"Weather":42}`, true},
		{"string exclusion lets null through", `{"Weather":[{"anything-but":"Raining"}]}`, `{"Weather":null}`, true},
		{"number exclusion lets strings through", `{"n":[{"anything-but":[1,2]}]}`, `{"n":"1"}`, true},
		{"absent field", `{"Weather":[{"anything-but":"Raining"}]}`, `{"Temperature":5}`, false},
		{"array with another value", `{"state":[{"anything-but":"initializing"}]}`, `{"state":["initializing","running"]}`, true},
		{"array with only the excluded value", `{"state":[{"anything-but":"initializing"}]}`, `{"state":["initializing"]}`, false},
		{"prefix", `{"detail":{"state":[{"anything-but":{"prefix":"init"}}]}}`, ec2Event, true},
		{"prefix, excluded", `{"detail":{"state":[{"anything-but":{"prefix":"init"}}]}}`, `{"detail":{"state":"initializing"}}`, false},
		{"prefix list", `{"Region":[{"anything-but":{"prefix":["us-","eu-"]}}]}`, `{"Region":"eu-west-1"}`, false},
		{"prefix lets numbers through", `{"Region":[{"anything-but":{"prefix":"us-"}}]}`, `{"Region":7}`, true},
		{"suffix", `{"FileName":[{"anything-but":{"suffix":".png"}}]}`, `{"FileName":"a.jpg"}`, true},
		{"suffix, excluded", `{"FileName":[{"anything-but":{"suffix":".png"}}]}`, `{"FileName":"a.png"}`, false},
		{"ignoring case, excluded", `{"state":[{"anything-but":{"equals-ignore-case":"initializing"}}]}`, `{"state":"INITIALIZING"}`, false},
		{"ignoring case, other value", `{"state":[{"anything-but":{"equals-ignore-case":["initializing","stopped"]}}]}`, `{"state":"Running"}`, true},
		{"wildcard, excluded", `{"FilePath":[{"anything-but":{"wildcard":"*/lib/*"}}]}`, `{"FilePath":"/usr/lib/libc.so"}`, false},
		{"wildcard, other value", `{"FilePath":[{"anything-but":{"wildcard":"*/lib/*"}}]}`, `{"FilePath":"/usr/bin/env"}`, true},
	}},
	{"numeric", []matchCase{
		{"documented ranges", `{"detail":{"c-count":[{"numeric":[">",0,"<=",5]}],"d-count":[{"numeric":["<",10]}],"x-limit":[{"numeric":["=",3.018e2]}]}}`, ec2Event, true},
		{"open lower bound", `{"n":[{"numeric":[">",0,"<=",5]}]}`, `{"n":0}`, false},
		{"closed upper bound", `{"n":[{"numeric":[">",0,"<=",5]}]}`, `{"n":5}`, true},
		{"just above the upper bound", `{"n":[{"numeric":[">",0,"<=",5]}]}`, `{"n":5.000001}`, false},
		{"price range, low end", `{"Price":[{"numeric":[">",10,"<=",20]}]}`, `{"Price":10}`, false},
		{"price range, inside", `{"Price":[{"numeric":[">",10,"<=",20]}]}`, `{"Price":10.5}`, true},
		{"closed lower bound", `{"n":[{"numeric":[">=",10,"<",20]}]}`, `{"n":10}`, true},
		{"open upper bound", `{"n":[{"numeric":[">=",10,"<",20]}]}`, `{"n":20}`, false},
		{"lower bound only", `{"n":[{"numeric":[">",-1.5]}]}`, `{"n":-1}`, true},
		{"upper bound only", `{"n":[{"numeric":["<=",-1.5]}]}`, `{"n":-1}`, false},
		{"equals", `{"Price":[{"numeric":["=",100]}]}`, `{"Price":100.0}`, true},
		{"equals, other value", `{"Price":[{"numeric":["=",100]}]}`, `{"Price":100.01}`, false},
		{"numeric does not apply to strings", `{"n":[{"numeric":[">",0]}]}`, `{"n":"5"}`, false},
		{"numeric does not apply to booleans", `{"n":[{"numeric":[">",0]}]}`, `{"n":true}`, false},
		{"any array element", `{"n":[{"numeric":[">",100]}]}`, `{"n":[1,2,300]}`, true},
		{"event value beyond the limit", `{"n":[{"numeric":[">",0]}]}`, `{"n":6e9}`, false},
		{"event value at the limit", `{"n":[{"numeric":[">=",-5e9]}]}`, `{"n":-5000000000}`, true},
		{"six decimal places", `{"n":[{"numeric":[">",0.000001]}]}`, `{"n":0.0000015}`, true},
		{"zero and negative zero", `{"n":[{"numeric":["=",0]}]}`, `{"n":-0.0}`, true},
	}},
	{"exists", []matchCase{
		{"present field", `{"detail":{"state":[{"exists":true}]}}`, ec2Event, true},
		{"absent field", `{"detail":{"reason":[{"exists":true}]}}`, ec2Event, false},
		{"field must not exist", `{"detail":{"reason":[{"exists":false}]}}`, ec2Event, true},
		{"field must not exist but does", `{"detail":{"state":[{"exists":false}]}}`, ec2Event, false},
		{"object is not a leaf, exists true", `{"detail":{"c-count":[{"exists":true}]}}`, `{"detail":{"state":"x","c-count":{"c1":100}}}`, false},
		{"object is not a leaf, exists false", `{"detail":{"c-count":[{"exists":false}]}}`, `{"detail":{"state":"x","c-count":{"c1":100}}}`, true},
		{"null exists", `{"detail":{"responseElements":[{"exists":true}]}}`, autoScalingEvent, true},
		{"null is present", `{"detail":{"responseElements":[{"exists":false}]}}`, autoScalingEvent, false},
		{"missing parent, exists false", `{"detail":{"sub":{"x":[{"exists":false}]}}}`, ec2Event, true},
		{"missing parent, exists true", `{"detail":{"sub":{"x":[{"exists":true}]}}}`, ec2Event, false},
		{"scalar parent has no children", `{"source":{"x":[{"exists":false}]}}`, ec2Event, true},
		{"exists false or a value", `{"detail":{"state":[{"exists":false},"running"]}}`, ec2Event, true},
	}},
	{"cidr", []matchCase{
		{"ipv4 /24", `{"detail":{"source-ip":[{"cidr":"10.0.0.0/24"}]}}`, ec2Event, true},
		{"ipv4 outside /24", `{"detail":{"source-ip":[{"cidr":"10.0.1.0/24"}]}}`, ec2Event, false},
		{"ipv4 /8", `{"detail":{"source-ip":[{"cidr":"10.0.0.0/8"}]}}`, ec2Event, true},
		{"single address", `{"ip":[{"cidr":"10.0.0.33/32"}]}`, `{"ip":"10.0.0.33"}`, true},
		{"host bits in the prefix", `{"ip":[{"cidr":"10.0.0.200/24"}]}`, `{"ip":"10.0.0.1"}`, true},
		{"not an address", `{"ip":[{"cidr":"10.0.0.0/8"}]}`, `{"ip":"ten"}`, false},
		{"ipv6", `{"ip":[{"cidr":"2001:db8::/32"}]}`, `{"ip":"2001:db8:1::1"}`, true},
		{"ipv6 outside", `{"ip":[{"cidr":"2001:db8::/32"}]}`, `{"ip":"2001:db9::1"}`, false},
		{"ipv4 prefix, ipv6 address", `{"ip":[{"cidr":"10.0.0.0/8"}]}`, `{"ip":"::1"}`, false},
		{"cidr does not apply to numbers", `{"ip":[{"cidr":"10.0.0.0/8"}]}`, `{"ip":10}`, false},
	}},
	{"$or", []matchCase{
		{"source and first alternative", `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization","NetworkIn"]},{"namespace":["AWS/ES"]}]}`, cloudwatchEvent, true},
		{"source and second alternative", `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization"]},{"namespace":["AWS/EC2","AWS/ES"]}]}`, cloudwatchEvent, true},
		{"no alternative", `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization"]},{"namespace":["AWS/ES"]}]}`, cloudwatchEvent, false},
		{"alternative but not source", `{"source":["aws.ec2"],"$or":[{"metricName":["NetworkIn"]},{"namespace":["AWS/ES"]}]}`, cloudwatchEvent, false},
		{"alternative with an and", `{"$or":[{"metricName":["CPUUtilization"]},{"metricType":["Other"],"namespace":["AWS/EC2"]},{"scope":["Service"]}]}`, cloudwatchEvent, true},
		{"alternative with a failing and", `{"$or":[{"metricName":["CPUUtilization"]},{"metricType":["MetricType"],"namespace":["AWS/EC2"]},{"scope":["Service"]}]}`, cloudwatchEvent, false},
		{"parallel clauses", `{"$or":[{"metricName":["NetworkIn"]},{"namespace":["AWS/ES"]}],"detail":{"$or":[{"source":["aws.cloudwatch"]},{"detail-type":["CloudWatch Alarm State Change"]}]}}`, cloudwatchEvent, true},
		{"parallel clauses, nested one fails", `{"$or":[{"metricName":["NetworkIn"]},{"namespace":["AWS/ES"]}],"detail":{"$or":[{"source":["aws.cloudwatch"]},{"detail-type":["Other"]}]}}`, cloudwatchEvent, false},
		{"nested or inside an alternative", `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization"]},{"namespace":["AWS/EC2"],"$or":[{"metricId":[1234]},{"scope":["Account"]}]}]}`, cloudwatchEvent, true},
		{"operators inside alternatives", `{"$or":[{"Location":[{"prefix":"New"}]},{"Day":["Monday"]}]}`, `{"Location":"Paris","Day":"Monday"}`, true},
		{"exists false alternative", `{"$or":[{"reason":[{"exists":false}]},{"reason":["ok"]}]}`, `{"source":"x"}`, true},
		{"alternatives stay within one array element", `{"items":{"kind":["a"],"$or":[{"size":[1]},{"color":["red"]}]}}`, `{"items":[{"kind":"a","size":2},{"kind":"b","color":"red"}]}`, false},
		{"alternatives within one array element", `{"items":{"kind":["b"],"$or":[{"size":[1]},{"color":["red"]}]}}`, `{"items":[{"kind":"a","size":2},{"kind":"b","color":"red"}]}`, true},
	}},
	{"combined", []matchCase{
		{"documented complex example", `{"time":[{"prefix":"2017-10-02"}],"detail":{"state":[{"anything-but":"initializing"}],"c-count":[{"numeric":[">",0,"<=",5]}],"d-count":[{"numeric":["<",10]}],"x-limit":[{"anything-but":[100,200,300]}],"source-ip":[{"cidr":"10.0.0.0/8"}]}}`, ec2Event, true},
		{"complex example, one field off", `{"time":[{"prefix":"2017-10-02"}],"detail":{"state":[{"anything-but":"initializing"}],"c-count":[{"numeric":[">",0,"<=",4]}]}}`, ec2Event, false},
		{"mixed match values", `{"detail":{"state":["stopped",{"prefix":"run"},{"numeric":[">",1]}]}}`, ec2Event, true},
		{"location and day", `{"Location":["New York"],"Day":["Monday"]}`, `{"Location":"New York","Day":"Monday"}`, true},
		{"repeated key, last wins", `{"detail":{"location":[{"prefix":"us-"}],"location":[{"anything-but":"us-east"}]}}`, `{"detail":{"location":"eu-west"}}`, true},
		{"repeated key, last wins and excludes", `{"detail":{"location":[{"prefix":"us-"}],"location":[{"anything-but":"us-east"}]}}`, `{"detail":{"location":"us-east"}}`, false},
		{"repeated nested objects merge", `{"detail":{"state":["running"]},"detail":{"c-count":[5]}}`, ec2Event, true},
		{"repeated nested objects keep both", `{"detail":{"state":["stopped"]},"detail":{"c-count":[5]}}`, ec2Event, false},
	}},
}

func forEachMatchCase(t *testing.T, run func(t *testing.T, c matchCase)) {
	for _, g := range matchGroups {
		t.Run(g.feature, func(t *testing.T) {
			for _, c := range g.cases {
				t.Run(c.name, func(t *testing.T) { run(t, c) })
			}
		})
	}
}

func mustCompile(t testing.TB, pattern string) *Pattern {
	t.Helper()
	p, err := Compile([]byte(pattern))
	if err != nil {
		t.Fatalf("Compile(%s): %v", pattern, err)
	}
	return p
}

func TestMatches(t *testing.T) {
	forEachMatchCase(t, func(t *testing.T, c matchCase) {
		p := mustCompile(t, c.pattern)
		got, err := p.Matches([]byte(c.event))
		if err != nil {
			t.Fatalf("Matches: %v", err)
		}
		if got != c.want {
			t.Errorf("pattern %s\nevent %s\ngot %v, want %v", c.pattern, c.event, got, c.want)
		}
	})
}

// TestMatchesValueFloat64 runs the table on events decoded with float64
// numbers, as a caller without UseNumber would pass them.
func TestMatchesValueFloat64(t *testing.T) {
	forEachMatchCase(t, func(t *testing.T, c matchCase) {
		p := mustCompile(t, c.pattern)
		var event any
		if err := json.Unmarshal([]byte(c.event), &event); err != nil {
			t.Fatal(err)
		}
		if got := p.MatchesValue(event); got != c.want {
			t.Errorf("pattern %s\nevent %s\ngot %v, want %v", c.pattern, c.event, got, c.want)
		}
	})
}

func TestMatchCaseCount(t *testing.T) {
	n := 0
	for _, g := range matchGroups {
		n += len(g.cases)
	}
	if n < 100 {
		t.Errorf("got %d table cases, want at least 100", n)
	}
}

// TestMatchesBigNumbers covers numbers float64 cannot hold exactly.
func TestMatchesBigNumbers(t *testing.T) {
	cases := []matchCase{
		{"account id as a number", `{"account":[123456789012]}`, `{"account":123456789012}`, true},
		{"20-digit integers differ in the last digit", `{"n":[12345678901234567890]}`, `{"n":12345678901234567891}`, false},
		{"20-digit integer, other spelling", `{"n":[12345678901234567890]}`, `{"n":1.234567890123456789e19}`, true},
		{"huge exponents compare exactly", `{"n":[1e400]}`, `{"n":10e399}`, true},
		{"anything-but beyond float precision", `{"n":[{"anything-but":[4999999999.999999]}]}`, `{"n":4999999999.999998}`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := mustCompile(t, c.pattern).Matches([]byte(c.event))
			if err != nil || got != c.want {
				t.Errorf("got %v, %v; want %v", got, err, c.want)
			}
		})
	}
}

func TestMatchesMalformedEvent(t *testing.T) {
	p := mustCompile(t, `{"source":[{"exists":false}]}`)
	for _, event := range []string{``, `{`, `{"a":}`, `[]`, `"text"`, `42`, `null`, `{"a":1} {"b":2}`, `{"a":1} x`} {
		if got, err := p.Matches([]byte(event)); err == nil {
			t.Errorf("Matches(%q) = %v, nil; want an error", event, got)
		}
	}
	if got := p.MatchesValue([]any{map[string]any{}}); got {
		t.Error("MatchesValue(array) = true, want false")
	}
}

func TestMatchesValueGoNumbers(t *testing.T) {
	p := mustCompile(t, `{"n":[{"numeric":[">",1,"<",3]}],"m":[7]}`)
	event := map[string]any{"n": int64(2), "m": uint8(7)}
	if !p.MatchesValue(event) {
		t.Errorf("MatchesValue(%v) = false, want true", event)
	}
}

func TestPatternConcurrentUse(t *testing.T) {
	p := mustCompile(t, `{"source":["aws.ec2"],"detail":{"c-count":[{"numeric":[">",0]}]}}`)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if ok, err := p.Matches([]byte(ec2Event)); !ok || err != nil {
					errs <- fmt.Errorf("Matches = %v, %v; want true, nil", ok, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
