package pubsub

import (
	"strings"
	"testing"
)

func TestFilterPolicyOnAttributes(t *testing.T) {
	attrs := map[string]Attribute{
		"store":    {Type: AttributeString, Value: "example_corp"},
		"price":    {Type: AttributeNumber, Value: "210.75"},
		"tags":     {Type: AttributeStringArray, Value: `["red","big"]`},
		"ip":       {Type: AttributeString, Value: "10.0.0.7"},
		"blob":     {Type: AttributeBinary, Value: "aGVsbG8="},
		"badcount": {Type: AttributeNumber, Value: "many"},
	}
	tests := []struct {
		policy string
		want   bool
	}{
		{`{"store":["example_corp"]}`, true},
		{`{"store":["other"]}`, false},
		{`{"store":[{"prefix":"example"}]}`, true},
		{`{"store":[{"suffix":"corp"}]}`, true},
		{`{"store":[{"equals-ignore-case":"EXAMPLE_CORP"}]}`, true},
		{`{"store":[{"anything-but":"example_corp"}]}`, false},
		{`{"store":[{"anything-but":{"prefix":"other"}}]}`, true},
		{`{"price":[{"numeric":[">",200,"<=",300]}]}`, true},
		{`{"price":[{"numeric":["<",100]}]}`, false},
		{`{"price":[210.75]}`, true},
		{`{"price":["210.75"]}`, false}, // a Number attribute compares with numbers only
		{`{"tags":["big"]}`, true},
		{`{"tags":["small"]}`, false},
		{`{"ip":[{"cidr":"10.0.0.0/24"}]}`, true},
		{`{"missing":[{"exists":false}]}`, true},
		{`{"store":[{"exists":true}]}`, true},
		{`{"blob":[{"exists":true}]}`, false}, // SNS does not filter on Binary
		{`{"badcount":[{"exists":true}]}`, false},
		{`{"store":["example_corp"],"price":[{"numeric":[">",500]}]}`, false},
		{`{"$or":[{"store":["nope"]},{"tags":["red"]}]}`, true},
	}
	m := &message{attributes: attrs, body: []byte(`not json`)}
	for _, tt := range tests {
		sub := Subscription{FilterPolicy: tt.policy}
		f, err := compileFilterPolicy(&sub)
		if err != nil {
			t.Fatalf("compile %s: %v", tt.policy, err)
		}
		if sub.FilterPolicyScope != ScopeMessageAttributes {
			t.Errorf("scope defaulted to %q, want MessageAttributes", sub.FilterPolicyScope)
		}
		if got := f.matches(m); got != tt.want {
			t.Errorf("policy %s matches = %v, want %v", tt.policy, got, tt.want)
		}
	}
}

func TestFilterPolicyOnBody(t *testing.T) {
	tests := []struct {
		body string
		want bool
	}{
		{`{"order":{"kind":"paid","total":120}}`, true},
		{`{"order":{"kind":"paid","total":20}}`, false},
		{`{"order":{"kind":"refund","total":120}}`, false},
		{`["not","an","object"]`, false},
		{`plain text`, false},
	}
	sub := Subscription{FilterPolicy: `{"order":{"kind":["paid"],"total":[{"numeric":[">=",100]}]}}`, FilterPolicyScope: ScopeMessageBody}
	f, err := compileFilterPolicy(&sub)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		// Attributes never count with scope MessageBody.
		m := &message{body: []byte(tt.body), attributes: map[string]Attribute{"order": {Type: AttributeString, Value: "paid"}}}
		if got := f.matches(m); got != tt.want {
			t.Errorf("body %s matches = %v, want %v", tt.body, got, tt.want)
		}
	}
}

func TestFilterPolicyRejects(t *testing.T) {
	tests := []struct {
		sub  Subscription
		want string
	}{
		{Subscription{FilterPolicy: `{"a":`}, "FilterPolicy"},
		{Subscription{FilterPolicy: `{"a":{"b":["c"]}}`}, "nested keys need FilterPolicyScope MessageBody"},
		{Subscription{FilterPolicy: `{"a":"c"}`}, "must hold an array"},
		{Subscription{FilterPolicy: `{"$or":[{"a":{"b":["c"]}}]}`}, "nested keys"},
		{Subscription{FilterPolicy: `{"a":[{"numeric":["!=",1]}]}`}, "Invalid parameter: FilterPolicy"},
		{Subscription{FilterPolicy: `{"a":[]}`}, "Invalid parameter: FilterPolicy"},
		{Subscription{FilterPolicy: `["a"]`}, "JSON object"},
		{Subscription{FilterPolicy: `{"a":["b"]}`, FilterPolicyScope: "Everything"}, "MessageAttributes or MessageBody"},
		{Subscription{FilterPolicyScope: ScopeMessageBody}, "needs a FilterPolicy"},
	}
	for _, tt := range tests {
		sub := tt.sub
		_, err := compileFilterPolicy(&sub)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("compile %+v = %v, want an error containing %q", tt.sub, err, tt.want)
		}
	}
	sub := Subscription{}
	if f, err := compileFilterPolicy(&sub); err != nil || f != nil || !f.matches(&message{}) {
		t.Errorf("no policy: %v, %v; want nil that matches everything", f, err)
	}
}
