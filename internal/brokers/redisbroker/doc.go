// Package redisbroker adapts Redis Streams to the brokers types.
//
// A Queue is one consumer of a consumer group, with SQS semantics: Receive
// first claims (XAUTOCLAIM) entries left pending longer than ClaimIdle,
// the visibility timeout, then reads new ones (XREADGROUP); Ack is XACK;
// Retry leaves the entry pending but makes it claimable by any consumer
// of the group once its delay has passed (XCLAIM with IDLE), or copies it
// to a dead-letter stream at its receive limit. Each Queue owns one
// goroutine, started by OpenQueue and stopped by Close: the heartbeat,
// which every ClaimIdle/3 resets the idle time of the messages it handed
// out and that are not settled yet, so that no other consumer claims a
// message still being worked on. It only refreshes entries this consumer
// still owns, checked in the same Lua script. A consumer that dies or
// closes leaves its messages pending; another consumer claims them after
// ClaimIdle, so nothing is lost (at-least-once delivery).
//
// A Stream reads one stream in order with XREAD and no group, with
// Kinesis semantics; the caller keeps its own checkpoints as Seqs: an
// entry ID "<ms>-<seq>" as 40 fixed-width digits (SeqFromID, IDFromSeq),
// which order as strings as the stream does. A Stream starts no
// goroutines.
//
// Invariants: a Redis URL, which may hold a password, never appears in a
// log line or an error; entries are never deleted, only acknowledged, so
// other groups and readers still see them; blocking reads last at most
// half a second, so a cancelled ctx is noticed within that.
package redisbroker
