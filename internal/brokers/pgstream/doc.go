// Package pgstream adapts PostgreSQL logical replication to brokers.Stream:
// the row changes of a set of tables, read through a logical replication
// slot with the pgoutput plugin, as DynamoDB Streams records (INSERT,
// MODIFY, REMOVE with Keys, NewImage and OldImage as attribute values).
//
// Open creates the publication (FOR TABLE the tables) and the slot when
// they are missing, and starts one goroutine that owns the replication
// connection until Close: it decodes changes ahead of Read into a bounded
// buffer and reports the slot's position to PostgreSQL regularly.
//
// Invariants: a Record's Seq is the commit LSN of its transaction (20
// digits) followed by the change's index within the transaction (10
// digits), so Seqs order as the WAL does and a replay gives the same Seq
// to the same change. The slot moves on only through Confirm (the
// brokers.Confirmer a stream engine calls after it saved a checkpoint):
// changes not confirmed are sent again by PostgreSQL after a reconnect,
// and Open skips those at or before StartAt.After. A slot has one reader.
//
// Subpackage pgtest runs a private PostgreSQL cluster for tests.
package pgstream
