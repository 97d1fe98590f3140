package pgstream

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"gust/internal/brokers"
	"gust/internal/brokers/pgstream/pgtest"
)

// The tests of this package share one private cluster, started here and
// stopped when they end.
var (
	cluster    *pgtest.Cluster
	clusterErr error
)

func TestMain(m *testing.M) {
	cluster, clusterErr = pgtest.Start()
	code := m.Run()
	if cluster != nil {
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop PostgreSQL:", err)
		}
	}
	os.Exit(code)
}

// needPostgres returns the cluster, or skips the test when it could not
// start (fails it when CI is "true").
func needPostgres(t *testing.T) *pgtest.Cluster {
	t.Helper()
	if cluster == nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("private PostgreSQL cluster: %v", clusterErr)
		}
		t.Skipf("private PostgreSQL cluster: %v", clusterErr)
	}
	return cluster
}

func mustExec(t *testing.T, sql string) {
	t.Helper()
	if err := needPostgres(t).Exec(t.Context(), sql); err != nil {
		t.Fatal(err)
	}
}

// testTable creates a table with a unique name and columns of every kind
// the conversion knows, and returns a Config reading it (slot and
// publication named after it); everything is dropped when the test ends.
func testTable(t *testing.T, identity, view string) Config {
	t.Helper()
	c := needPostgres(t)
	name := fmt.Sprintf("orders_%d", rand.Uint64()%1e12)
	mustExec(t, fmt.Sprintf(`CREATE TABLE public.%s (id int PRIMARY KEY, name text, qty numeric, ok boolean,
		data bytea, doc jsonb, tags text[], big text);
		ALTER TABLE public.%[1]s ALTER COLUMN big SET STORAGE EXTERNAL;
		ALTER TABLE public.%[1]s REPLICA IDENTITY %s`, name, identity))
	t.Cleanup(func() {
		ctx := context.Background()
		_, _ = c.Query(ctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '"+name+"'")
		_ = c.Exec(ctx, "DROP PUBLICATION IF EXISTS "+name+"; DROP TABLE IF EXISTS public."+name)
	})
	return Config{URL: c.URL, Tables: []string{"public." + name}, ViewType: view, Slot: name, Publication: name,
		Start: brokers.StartAt{Position: "TRIM_HORIZON"}, StatusInterval: 200 * time.Millisecond}
}

func open(t *testing.T, cfg Config) *Stream {
	t.Helper()
	s, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// readN reads until n records arrived, failing after 30 seconds.
func readN(t *testing.T, s *Stream, n int) []brokers.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var out []brokers.Record
	for len(out) < n {
		recs, err := s.Read(ctx, n-len(out))
		if err != nil {
			t.Fatalf("read %d of %d records: %v", len(out), n, err)
		}
		out = append(out, recs...)
	}
	return out
}

// ddbChange is a record's Data read strictly with aws-lambda-go's types.
type ddbChange struct {
	EventName string                      `json:"eventName"`
	DynamoDB  events.DynamoDBStreamRecord `json:"dynamodb"`
}

func decodeChange(t *testing.T, r brokers.Record) ddbChange {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(r.Data))
	dec.DisallowUnknownFields()
	var c ddbChange
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("record %s is not a DynamoDB stream record: %v\n%s", r.Seq, err, r.Data)
	}
	if c.DynamoDB.SequenceNumber != r.Seq {
		t.Errorf("SequenceNumber %s, Seq %s", c.DynamoDB.SequenceNumber, r.Seq)
	}
	return c
}

// attrJSON renders an image as JSON, for comparisons.
func attrJSON(t *testing.T, img map[string]events.DynamoDBAttributeValue) string {
	t.Helper()
	if img == nil {
		return "null"
	}
	b, err := json.Marshal(img)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
