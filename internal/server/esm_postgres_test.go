package server_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"gust/internal/brokers/pgstream/pgtest"
	"gust/internal/esm"
	"gust/internal/gusttest"
)

// startPostgres starts a private PostgreSQL cluster (wal_level=logical)
// for the test, or skips it when there is none to start (fails it when
// CI is "true").
func startPostgres(t *testing.T) *pgtest.Cluster {
	t.Helper()
	c, err := pgtest.Start()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("private PostgreSQL cluster: %v", err)
		}
		t.Skipf("private PostgreSQL cluster: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stop PostgreSQL: %v", err)
		}
	})
	return c
}

// ddbDelivery is one record as esmfn reported it.
type ddbDelivery struct {
	events.DynamoDBEventRecord
	failed bool
}

// ddbDeliveries returns every DynamoDB record the function reported, in
// order.
func ddbDeliveries(t *testing.T, col *esmCollector) []ddbDelivery {
	t.Helper()
	var out []ddbDelivery
	for _, rep := range col.snapshot() {
		if rep.Source != "aws:dynamodb" {
			t.Errorf("report of a %q event", rep.Source)
			continue
		}
		for _, r := range rep.Records {
			var d ddbDelivery
			if err := json.Unmarshal([]byte(r.Body), &d.DynamoDBEventRecord); err != nil {
				t.Fatalf("record %s: %v", r.Body, err)
			}
			d.failed = rep.Failed
			out = append(out, d)
		}
	}
	return out
}

// TestESMPostgres maps a PostgreSQL source to testdata/esmfn (which
// decodes its events strictly as aws-lambda-go's DynamoDBEvent): an
// insert, an update and a delete arrive in order as INSERT, MODIFY and
// REMOVE with typed images. Then Gust restarts while the function fails a
// batch: those changes, not confirmed to PostgreSQL, come again to the new
// server with the same eventIDs, and no change is missing.
func TestESMPostgres(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("change streams are sandbox-independent; covered by the full run")
	}
	pg := startPostgres(t)
	ctx := t.Context()
	table := fmt.Sprintf("public.orders_%d", rand.Uint64()%1e9)
	if err := pg.Exec(ctx, `CREATE TABLE `+table+` (id int PRIMARY KEY, name text, qty numeric, ok boolean,
		doc jsonb, tags text[], note text); ALTER TABLE `+table+` REPLICA IDENTITY FULL`); err != nil {
		t.Fatal(err)
	}
	srv := gusttest.StartServer(t)
	col := newESMCollector(t)
	deployESMFunction(t, srv, "ddb-consumer", col, nil)
	src, err := srv.ESM().PutSource(ctx, esm.Source{Name: "shop", Broker: esm.BrokerPostgres, URL: pg.URL, Tables: []string{table}})
	if err != nil {
		t.Fatalf("PutSource: %v", err)
	}
	arn := src.ARN(srv.ESM().Identity())
	out, err := srv.Lambda().CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{
		FunctionName:     aws.String("ddb-consumer"),
		EventSourceArn:   aws.String(arn),
		StartingPosition: types.EventSourcePositionTrimHorizon,
		BatchSize:        aws.Int32(10),
	})
	if err != nil {
		t.Fatalf("CreateEventSourceMapping: %v", err)
	}
	if _, err := srv.Lambda().CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String("ddb-consumer"), EventSourceArn: aws.String(arn),
		StartingPosition: types.EventSourcePositionLatest, ParallelizationFactor: aws.Int32(2),
	}); err == nil {
		t.Error("a mapping of a PostgreSQL source with ParallelizationFactor 2 was accepted")
	}
	gusttest.WaitFor(t, 60*time.Second, "the mapping's replication slot to be read", func() bool {
		rows, err := pg.Query(ctx, "SELECT 1 FROM pg_replication_slots WHERE slot_name = 'gust_shop' AND active")
		return err == nil && len(rows) == 1
	})

	exec := func(sql string) {
		t.Helper()
		if err := pg.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	exec(`INSERT INTO ` + table + ` VALUES (1, 'ann', 12.5, true, '{"vip":true,"n":[1,2]}', '{a,b}', NULL)`)
	exec(`UPDATE ` + table + ` SET qty = 13, name = 'anne' WHERE id = 1`)
	exec(`DELETE FROM ` + table + ` WHERE id = 1`)
	gusttest.WaitFor(t, 60*time.Second, "INSERT, MODIFY and REMOVE", func() bool { return len(ddbDeliveries(t, col)) >= 3 })
	got := ddbDeliveries(t, col)
	checkIUD(t, got[:3], arn)

	// A batch the function fails, so that Gust never confirms it, when
	// Gust restarts: PostgreSQL sends it again to the new server, which
	// delivers it with the same eventIDs once the function takes it.
	exec(`BEGIN; INSERT INTO ` + table + ` (id, note) VALUES (10, 'poison'), (11, NULL); INSERT INTO ` + table + ` (id) VALUES (12); COMMIT`)
	gusttest.WaitFor(t, 60*time.Second, "the failing batch", func() bool { return len(ddbDeliveries(t, col)) > 3 })
	held := map[string]string{} // eventID by sequence number, of the records failed before the restart
	for _, d := range ddbDeliveries(t, col)[3:] {
		if !d.failed {
			t.Fatalf("record %s of the poisoned transaction succeeded", d.Change.SequenceNumber)
		}
		held[d.Change.SequenceNumber] = d.EventID
	}
	srv = srv.Restart(t)
	if _, err := srv.Lambda().UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("ddb-consumer"),
		Environment:  &types.Environment{Variables: map[string]string{"COLLECT_URL": col.srv.URL, "POISON": "off"}},
	}); err != nil {
		t.Fatalf("UpdateFunctionConfiguration: %v", err)
	}
	exec(`INSERT INTO ` + table + ` (id) VALUES (13)`)
	exec(`UPDATE ` + table + ` SET note = 'done' WHERE id = 12`)
	var ok []ddbDelivery
	gusttest.WaitFor(t, 90*time.Second, "the failed batch taken after the restart, and the later changes", func() bool {
		ok = ok[:0]
		for _, d := range ddbDeliveries(t, col) {
			if !d.failed {
				ok = append(ok, d)
			}
		}
		return len(ok) >= 8
	})
	replayed := 0
	for _, d := range ok {
		if id, was := held[d.Change.SequenceNumber]; was {
			replayed++
			if d.EventID != id {
				t.Errorf("record %s: eventID %s after the restart, %s before", d.Change.SequenceNumber, d.EventID, id)
			}
		}
	}
	if replayed != len(held) {
		t.Errorf("%d of the %d records failed before the restart were processed after it", replayed, len(held))
	}
	var ids []string
	seen := map[string]bool{}
	for _, d := range ok {
		if !seen[d.Change.SequenceNumber] {
			seen[d.Change.SequenceNumber] = true
			ids = append(ids, fmt.Sprintf("%s %s", d.EventName, d.Change.Keys["id"].Number()))
		}
	}
	want := []string{"INSERT 1", "MODIFY 1", "REMOVE 1", "INSERT 10", "INSERT 11", "INSERT 12", "INSERT 13", "MODIFY 12"}
	if !slices.Equal(ids, want) {
		t.Errorf("changes processed %q, want %q (in commit order)", ids, want)
	}
	if len(ok) != len(want) {
		t.Errorf("%d successful deliveries, want %d: each change processed once", len(ok), len(want))
	}
	if _, err := srv.Lambda().DeleteEventSourceMapping(ctx, &lambda.DeleteEventSourceMappingInput{UUID: out.UUID}); err != nil {
		t.Fatalf("DeleteEventSourceMapping: %v", err)
	}
}

// checkIUD checks the first insert, update and delete of row 1.
func checkIUD(t *testing.T, got []ddbDelivery, arn string) {
	t.Helper()
	for i, name := range []string{"INSERT", "MODIFY", "REMOVE"} {
		r := got[i]
		if r.EventName != name || r.EventSource != "aws:dynamodb" || r.EventSourceArn != arn || r.failed ||
			r.Change.StreamViewType != "NEW_AND_OLD_IMAGES" || r.Change.Keys["id"].Number() != "1" || len(r.EventID) != 32 {
			t.Errorf("record %d = %+v, want %s of row 1 from %s", i, r, name, arn)
		}
		if i > 0 && r.Change.SequenceNumber <= got[i-1].Change.SequenceNumber {
			t.Errorf("SequenceNumber %s after %s", r.Change.SequenceNumber, got[i-1].Change.SequenceNumber)
		}
	}
	ins, mod, rem := got[0].Change, got[1].Change, got[2].Change
	if n := ins.NewImage; n["qty"].Number() != "12.5" || !n["ok"].Boolean() || n["name"].String() != "ann" || !n["note"].IsNull() ||
		!n["doc"].Map()["vip"].Boolean() || len(n["doc"].Map()["n"].List()) != 2 || n["tags"].List()[1].String() != "b" || ins.OldImage != nil {
		t.Errorf("INSERT images: new %v, old %v", ins.NewImage, ins.OldImage)
	}
	if mod.NewImage["name"].String() != "anne" || mod.NewImage["qty"].Number() != "13" || mod.OldImage["name"].String() != "ann" {
		t.Errorf("MODIFY images: new %v, old %v", mod.NewImage, mod.OldImage)
	}
	if rem.NewImage != nil || rem.OldImage["name"].String() != "anne" {
		t.Errorf("REMOVE images: new %v, old %v", rem.NewImage, rem.OldImage)
	}
}
