package cli

import (
	"regexp"
	"strings"
	"testing"

	"gust/internal/gusttest"
)

// TestPostgresSourceCommands: a --postgres source prints its DynamoDB
// stream ARN, shows its tables, slot and publication, never its password,
// and refuses flags that mean nothing for it. Creating one touches no
// database (the slot is made when a mapping first reads it), so the URL
// points at nothing; removing it then logs that the slot could not be
// dropped and removes the source all the same.
func TestPostgresSourceCommands(t *testing.T) {
	srv := gusttest.StartServer(t)
	connectTo(t, srv)
	url := "postgres://app:" + sourcePassword + "@127.0.0.1:1/shop?sslmode=disable"

	out, errOut := mustRun(t, "source", "create", "shop", "--postgres", url, "--table", "public.orders", "--table", "payments", "--view", "NEW_IMAGE")
	arn := regexp.MustCompile(`^arn:aws:dynamodb:us-east-1:000000000000:table/shop/stream/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\n$`)
	if !arn.MatchString(out) {
		t.Fatalf("create printed %q, want the DynamoDB stream ARN", out)
	}
	streamARN := strings.TrimSpace(out)
	if !strings.Contains(errOut, "--event-source-arn "+streamARN+" --starting-position TRIM_HORIZON") ||
		!strings.Contains(errOut, "postgres tables public.orders,public.payments") {
		t.Errorf("create: stderr lacks the tables or the mapping command:\n%s", errOut)
	}
	checkNoPassword(t, "create", out, errOut)

	out, _ = mustRun(t, "source", "show", "shop")
	for _, want := range []string{`(?m)^tables: +public\.orders,public\.payments$`, `(?m)^stream view type: +NEW_IMAGE$`,
		`(?m)^slot: +gust_shop$`, `(?m)^publication: +gust_shop$`, `(?m)^kind: +stream$`, `(?m)^shards: +1$`,
		`(?m)^event source arn: +` + regexp.QuoteMeta(streamARN) + `$`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("source show shop lacks %s:\n%s", want, out)
		}
	}
	checkNoPassword(t, "show", out)

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--postgres", url}, "--postgres needs --table"},
		{[]string{"--postgres", url, "--table", "t", "--shards", "2"}, "one shard"},
		{[]string{"--postgres", url, "--table", "t", "--kind", "queue"}, "a --postgres source is a stream"},
		{[]string{"--postgres", url, "--table", "t", "--stream", "s"}, "--stream does not apply here"},
		{[]string{"--redis", "redis://127.0.0.1:6379", "--table", "t"}, "--table does not apply here"},
		{[]string{"--postgres", url, "--table", "t", "--view", "EVERYTHING"}, "InvalidParameterValueException: Invalid StreamViewType"},
		{[]string{"--postgres", url, "--table", "a.b.c"}, "InvalidParameterValueException: Invalid table"},
		{[]string{"--postgres", "redis://127.0.0.1:6379", "--table", "t"}, "needs a URL with scheme postgres or postgresql"},
	} {
		code, out, errOut := runCLI(t, "", append([]string{"source", "create", "bad"}, tt.args...)...)
		if code == 0 || !strings.Contains(errOut, tt.want) {
			t.Errorf("gust source create bad %s: exit %d, stderr %q; want %q", strings.Join(tt.args, " "), code, errOut, tt.want)
		}
		checkNoPassword(t, "a refusal", out, errOut)
	}

	if _, errOut := mustRun(t, "source", "rm", "shop"); !strings.Contains(errOut, "deleted source shop") {
		t.Errorf("source rm: stderr %q", errOut)
	}
}
