// Package logs keeps every function's log output and serves it through a
// subset of the CloudWatch Logs API (JSON 1.1, target prefix Logs_20140328).
//
// # Model
//
// Events live in log groups (/aws/lambda/<function>) and, inside a group, in
// log streams (one per execution environment, YYYY/MM/DD/[$LATEST]<32 hex>).
// Every event gets a per-group sequence number when it is appended; the pair
// (timestamp, sequence) orders events across streams, backs pagination
// tokens, and its sequence half is the eventId.
//
// # Write path
//
// Append never touches the disk: it adds events to the group's in-memory
// pending buffer under the group's mutex and, when the buffer is large, nudges
// the flusher. The pending buffer is bounded (a quarter of MaxBytesPerGroup);
// when it is full the oldest pending events are dropped and counted in
// Dropped. Queries read the pending buffer too, so an event is visible the
// moment Append returns.
//
// # On-disk format
//
//	<Dir>/<escaped group name>/group.json        {"name":…,"creationTime":…,"retentionInDays":…}
//	<Dir>/<escaped group name>/<16-digit id>.jsonl  segment files
//
// The directory name is the group name with every byte outside [A-Za-z0-9_-]
// written as %XX (so "/aws/lambda/f" is "%2Faws%2Flambda%2Ff"); very long names
// are truncated and suffixed with a hash. group.json holds the real name, so the
// escaping need not be reversible. A segment is append-only JSON lines, one
// event per line ({"s":stream,"q":seq,"t":timestamp,"i":ingestion,"m":message}),
// interleaving all the group's streams in append order. JSON lines keep the
// files readable with standard tools and make a torn last line (crash during a
// write) harmless: lines that do not decode are skipped. Segments loaded at
// Open, and a segment whose write failed, are sealed: new events always go to
// a fresh segment, so a byte offset recorded in memory always ends on a line
// boundary. Files are not fsynced; a crash loses at most the last flush
// interval, which is acceptable for logs.
//
// # Bounds
//
// Each group is bounded by MaxBytesPerGroup: at most a quarter of it pending in
// memory (plus, for the length of one write, the batch being written), the
// rest on disk in segments of an eighth of it. After each flush the
// oldest segments of that group are removed until the group fits, always
// keeping the newest. All groups together are bounded by MaxBytesTotal:
// past it, the oldest segment of the largest group goes, again and again,
// so one group flooding only ever evicts its own oldest events until it is
// no bigger than the others. Streams whose events have all been evicted or
// dropped are forgotten.
//
// # Retention
//
// A group may have a retention policy (PutRetentionPolicy, one of
// CloudWatch's periods in days), kept in group.json so it survives a
// restart. Queries never return events older than the retention, measured
// against Options.Now; the flusher deletes segments whose newest event has
// expired once a minute (and at Open), so a segment shared with a newer
// event stays on disk, hidden, until that event expires too.
//
// # Reads
//
// Open scans every segment once to rebuild per-segment summaries (time range,
// per-stream counts and bytes), so startup reads the whole log directory. A
// query snapshots the group's segment list and in-memory events under the
// group mutex, then reads only the segments whose time range and streams can
// match, without holding any lock. Filter patterns are compiled by
// compilePattern (pattern.go), the one seam where the full CloudWatch pattern
// grammar will go.
//
// # Goroutines
//
// Open starts one flusher goroutine that writes pending events every 200 ms
// (sooner when a buffer grows large), evicts old segments to keep both
// bounds, and sweeps expired segments once a minute. Close stops it
// and flushes what is left. All file writes and deletions, including
// DeleteGroup's, happen under one I/O mutex, so a group deleted and re-created
// at once cannot lose the new group's files.
package logs
