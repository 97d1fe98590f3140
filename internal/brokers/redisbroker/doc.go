// Package redisbroker adapts Redis Streams to the brokers types: a
// consumer group as a brokers.Queue (XREADGROUP, XACK, XAUTOCLAIM of
// messages left pending by a consumer that died) and XREAD from a
// position as a brokers.Stream.
package redisbroker
