package pgstream

import (
	"context"
	"strings"
	"testing"
	"time"

	"gust/internal/brokers"
	"gust/internal/brokers/pgstream/pgtest"
)

// writeIUD inserts row 1, updates it and deletes it, in three
// transactions.
func writeIUD(t *testing.T, table string) {
	mustExec(t, `INSERT INTO `+table+` VALUES (1, 'ann', 12.50, true, '\x00012a41', '{"a":1,"b":[true,null]}', '{x,"y z"}', NULL)`)
	mustExec(t, `UPDATE `+table+` SET qty = 13, ok = false WHERE id = 1`)
	mustExec(t, `DELETE FROM `+table+` WHERE id = 1`)
}

func TestChangesPerViewType(t *testing.T) {
	const (
		keys     = `{"id":{"N":"1"}}`
		inserted = `{"big":{"NULL":true},"data":{"B":"AAEqQQ=="},"doc":{"M":{"a":{"N":"1"},"b":{"L":[{"BOOL":true},{"NULL":true}]}}},` +
			`"id":{"N":"1"},"name":{"S":"ann"},"ok":{"BOOL":true},"qty":{"N":"12.50"},"tags":{"L":[{"S":"x"},{"S":"y z"}]}}`
		updated = `{"big":{"NULL":true},"data":{"B":"AAEqQQ=="},"doc":{"M":{"a":{"N":"1"},"b":{"L":[{"BOOL":true},{"NULL":true}]}}},` +
			`"id":{"N":"1"},"name":{"S":"ann"},"ok":{"BOOL":false},"qty":{"N":"13"},"tags":{"L":[{"S":"x"},{"S":"y z"}]}}`
	)
	// want[view] is NewImage and OldImage of INSERT, MODIFY and REMOVE.
	want := map[string][3][2]string{
		KeysOnly:        {{"null", "null"}, {"null", "null"}, {"null", "null"}},
		NewImage:        {{inserted, "null"}, {updated, "null"}, {"null", "null"}},
		OldImage:        {{"null", "null"}, {"null", inserted}, {"null", updated}},
		NewAndOldImages: {{inserted, "null"}, {updated, inserted}, {"null", updated}},
	}
	for view, images := range want {
		t.Run(view, func(t *testing.T) {
			t.Parallel()
			cfg := testTable(t, "FULL", view)
			s := open(t, cfg)
			before := time.Now().Add(-time.Minute).Unix()
			writeIUD(t, cfg.Tables[0])
			recs := readN(t, s, 3)
			for i, name := range []string{EventInsert, EventModify, EventRemove} {
				r := recs[i]
				c := decodeChange(t, r)
				if c.EventName != name || c.DynamoDB.StreamViewType != view {
					t.Errorf("record %d: %s %s, want %s %s", i, c.EventName, c.DynamoDB.StreamViewType, name, view)
				}
				if got := attrJSON(t, c.DynamoDB.Keys); got != keys {
					t.Errorf("%s Keys = %s, want %s", name, got, keys)
				}
				if got := attrJSON(t, c.DynamoDB.NewImage); got != images[i][0] {
					t.Errorf("%s NewImage = %s\nwant %s", name, got, images[i][0])
				}
				if got := attrJSON(t, c.DynamoDB.OldImage); got != images[i][1] {
					t.Errorf("%s OldImage = %s\nwant %s", name, got, images[i][1])
				}
				if ts := c.DynamoDB.ApproximateCreationDateTime.Unix(); ts < before || ts > time.Now().Unix()+1 {
					t.Errorf("%s ApproximateCreationDateTime %d is not the commit time", name, ts)
				}
				if c.DynamoDB.SizeBytes <= 0 {
					t.Errorf("%s SizeBytes %d", name, c.DynamoDB.SizeBytes)
				}
				if r.PartitionKey != cfg.Tables[0]+keys {
					t.Errorf("%s PartitionKey %q, want the table and the key", name, r.PartitionKey)
				}
				if i > 0 && r.Seq <= recs[i-1].Seq {
					t.Errorf("Seq %s after %s: not increasing", r.Seq, recs[i-1].Seq)
				}
			}
			if len(s.Warnings()) != 0 {
				t.Errorf("warnings for a FULL table: %q", s.Warnings())
			}
		})
	}
}

// TestUnchangedToast updates a row without touching its large,
// out-of-line column: PostgreSQL sends that column as unchanged, and the
// record has it from the old row with REPLICA IDENTITY FULL, and leaves
// it out (with a warning) without.
func TestUnchangedToast(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 1024) // 16 KiB, stored out of line (STORAGE EXTERNAL)
	for _, identity := range []string{"FULL", "DEFAULT"} {
		t.Run(identity, func(t *testing.T) {
			t.Parallel()
			cfg := testTable(t, identity, NewAndOldImages)
			s := open(t, cfg)
			table := cfg.Tables[0]
			mustExec(t, `INSERT INTO `+table+` (id, name, big) VALUES (7, 'toast', '`+big+`')`)
			mustExec(t, `UPDATE `+table+` SET name = 'renamed' WHERE id = 7`)
			recs := readN(t, s, 2)
			c := decodeChange(t, recs[1])
			gotBig, has := c.DynamoDB.NewImage["big"]
			switch identity {
			case "FULL":
				if !has || gotBig.String() != big {
					t.Errorf("MODIFY NewImage lacks the unchanged TOASTed column (has %v)", has)
				}
				if c.DynamoDB.OldImage["name"].String() != "toast" || c.DynamoDB.NewImage["name"].String() != "renamed" {
					t.Errorf("MODIFY images: old %s, new %s", attrJSON(t, c.DynamoDB.OldImage), attrJSON(t, c.DynamoDB.NewImage))
				}
				if len(s.Warnings()) != 0 {
					t.Errorf("warnings for a FULL table: %q", s.Warnings())
				}
			case "DEFAULT":
				if has {
					t.Errorf("MODIFY NewImage has the TOASTed column without an old row to take it from")
				}
				if got := attrJSON(t, c.DynamoDB.OldImage); got != `{"id":{"N":"7"}}` {
					t.Errorf("MODIFY OldImage = %s, want the key columns only", got)
				}
				if w := s.Warnings(); len(w) != 1 || !strings.Contains(w[0], "REPLICA IDENTITY DEFAULT, not FULL") {
					t.Errorf("warnings %q, want one about REPLICA IDENTITY", w)
				}
			}
		})
	}
}

// TestReplayAndResume reads changes without confirming them: a reopened
// stream gets them again with the same Seqs, and one opened after a Seq
// gets only the later ones. Then Confirm moves the slot's
// confirmed_flush_lsn, and a reopened stream starts past what was
// confirmed.
func TestReplayAndResume(t *testing.T) {
	c := needPostgres(t)
	cfg := testTable(t, "FULL", NewAndOldImages)
	table := cfg.Tables[0]
	s := open(t, cfg)
	mustExec(t, `BEGIN; INSERT INTO `+table+` (id) VALUES (1), (2), (3); COMMIT`)
	mustExec(t, `BEGIN; INSERT INTO `+table+` (id) VALUES (4); UPDATE `+table+` SET name = 'x' WHERE id = 1; COMMIT`)
	first := readN(t, s, 5)
	if first[0].Seq[:lsnDigits] != first[2].Seq[:lsnDigits] || first[2].Seq[:lsnDigits] == first[3].Seq[:lsnDigits] {
		t.Errorf("seqs %v: one commit LSN per transaction expected", seqsOf(first))
	}
	_ = s.Close()

	replay := open(t, cfg)
	again := readN(t, replay, 5)
	_ = replay.Close()
	if got, want := seqsOf(again), seqsOf(first); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("replay seqs %v, want %v", got, want)
	}
	for i := range again {
		if string(again[i].Data) != string(first[i].Data) {
			t.Errorf("replayed record %d differs:\n%s\n%s", i, again[i].Data, first[i].Data)
		}
	}

	resumed := cfg
	resumed.Start = brokers.StartAt{After: first[2].Seq}
	rs := open(t, resumed)
	if got := seqsOf(readN(t, rs, 2)); got[0] != first[3].Seq || got[1] != first[4].Seq {
		t.Errorf("after %s: seqs %v, want %s and %s", first[2].Seq, got, first[3].Seq, first[4].Seq)
	}

	before := slotPosition(t, c, cfg.Slot)
	if err := rs.Confirm(t.Context(), first[4].Seq); err != nil {
		t.Fatalf("Confirm: %v", err)
	}
	pollUntil(t, "confirmed_flush_lsn to move past the last transaction", func() bool {
		return slotPosition(t, c, cfg.Slot) > before && slotPosition(t, c, cfg.Slot) >= lsnOf(t, first[4].Seq)
	})
	_ = rs.Close()

	fresh := open(t, cfg) // TRIM_HORIZON: from the slot's confirmed position
	mustExec(t, `INSERT INTO `+table+` (id) VALUES (5)`)
	next := readN(t, fresh, 1)
	if next[0].Seq <= first[4].Seq || decodeChange(t, next[0]).DynamoDB.Keys["id"].Number() != "5" {
		t.Errorf("after Confirm, a reopened stream starts with %s (%s), want the new row", next[0].Seq, next[0].Data)
	}
}

// TestLatest starts at the end of the WAL: earlier changes are not read.
func TestLatest(t *testing.T) {
	cfg := testTable(t, "FULL", KeysOnly)
	table := cfg.Tables[0]
	_ = open(t, cfg).Close() // the slot exists from here on
	mustExec(t, `INSERT INTO `+table+` (id) VALUES (1)`)
	cfg.Start = brokers.StartAt{Position: "LATEST"}
	s := open(t, cfg)
	mustExec(t, `INSERT INTO `+table+` (id) VALUES (2)`)
	recs := readN(t, s, 1)
	if id := decodeChange(t, recs[0]).DynamoDB.Keys["id"].Number(); id != "2" {
		t.Errorf("LATEST read row %s first, want 2", id)
	}
}

func seqsOf(recs []brokers.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Seq
	}
	return out
}

func lsnOf(t *testing.T, seq string) uint64 {
	lsn, _, err := parseSeq(seq)
	if err != nil {
		t.Fatal(err)
	}
	return uint64(lsn)
}

// slotPosition is the slot's confirmed_flush_lsn as a number.
func slotPosition(t *testing.T, c *pgtest.Cluster, slot string) uint64 {
	t.Helper()
	rows, err := c.Query(t.Context(), "SELECT (confirmed_flush_lsn - '0/0')::text FROM pg_replication_slots WHERE slot_name = '"+slot+"'")
	if err != nil || len(rows) != 1 {
		t.Fatalf("slot %s: %v (%d rows)", slot, err, len(rows))
	}
	var n uint64
	for _, ch := range rows[0][0] {
		n = n*10 + uint64(ch-'0')
	}
	return n
}

// pollUntil polls cond until it holds, failing after 30 seconds.
func pollUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}
