// Package codecache owns Lambda deployment zips on their way from an
// untrusted uploader to a directory an execution environment runs from.
//
// [Inspect] validates a zip before it is stored: size limits, entry names,
// symlinks, conflicts and the actual decompressed byte count. [Cache]
// unpacks a stored zip once per node into a content-addressed directory
// <dir>/<hex sha256>, fetching the bytes on first use.
//
// Invariants:
//   - Nothing is ever written outside the cache directory. Every write goes
//     through an [os.Root] opened on a fresh temporary directory, entries
//     are re-validated while unpacking with exactly the rules of Inspect,
//     files are created with O_EXCL and symlinks are created last.
//   - A directory under its final name is always completely unpacked: the
//     tree is built under a temporary name (prefix ".unpack-"), flushed to
//     disk and renamed into place. Leftover temporary directories from a
//     crash are removed by [New].
//   - Entry sizes in headers are never trusted: bytes are counted while
//     they are stream-decompressed, against a hard cap.
//
// The package starts no goroutines. Concurrent [Cache.Dir] calls for the
// same code share one fetch and one unpack.
package codecache
