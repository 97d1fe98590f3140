package eventpattern

import (
	"encoding/json"
	"testing"
)

// benchPattern has five fields, one per common operator, as rules filtering
// service events usually do.
const benchPattern = `{
  "source": ["aws.ec2"],
  "detail-type": ["EC2 Instance State-change Notification"],
  "time": [{"prefix": "2017-10-02"}],
  "detail": {
    "state": [{"anything-but": ["stopped", "terminated"]}],
    "c-count": [{"numeric": [">", 0, "<=", 5]}]
  }
}`

func BenchmarkMatches(b *testing.B) {
	p := mustCompile(b, benchPattern)
	event := []byte(ec2Event)
	b.Run("fields=5/input=json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(event)))
		for b.Loop() {
			if ok, err := p.Matches(event); !ok || err != nil {
				b.Fatalf("Matches = %v, %v; want true, nil", ok, err)
			}
		}
	})
	b.Run("fields=5/input=decoded", func(b *testing.B) {
		var decoded any
		if err := json.Unmarshal(event, &decoded); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if !p.MatchesValue(decoded) {
				b.Fatal("MatchesValue = false, want true")
			}
		}
	})
}

func BenchmarkCompile(b *testing.B) {
	pattern := []byte(benchPattern)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(pattern); err != nil {
			b.Fatal(err)
		}
	}
}
