// Package iam owns Gust's principals and their credentials: IAM users with
// long-term access keys, roles, the temporary credentials a function's
// execution role gets (AssumedRole sessions), and resolving the access key
// of a signed request to a Principal and its identity policies. It decides
// who a caller is; deciding what the caller may do is package policy's job,
// done by the API.
//
// State lives in one JetStream key-value bucket, "<Prefix>_iam", shared by
// every Gust node of a deployment (NATS KV keys allow [-/_=.a-zA-Z0-9], so
// names are stored lowercased with every other byte escaped as =XX):
//
//	user.<name>    JSON of a user: id, creation time, inline policy, and
//	               its access keys (id and secret)
//	role.<name>    JSON of a role: id, creation time, inline policy
//	session-key    32 random bytes, the master key of session credentials;
//	               written once with Create, so nodes that start together
//	               agree on it
//
// The bucket holds secrets: anyone who can read it can sign as any user.
// Names are unique regardless of case, as in IAM; lookups by name ignore
// case too.
//
// Resolve is on every request's path, so it never touches the network: the
// Store keeps an in-memory copy of users, keys, roles and parsed policies,
// fed by a watch on the whole bucket. Open returns once the copy holds
// everything the bucket held, and each of the Store's own writes returns
// once the watch has applied it (read-your-writes on this node); a write
// made through another node's Store is applied here as soon as the watch
// delivers it, typically within milliseconds.
//
// Session credentials are stateless: the session token carries the access
// key id, role name and id, session name and expiry, MACed with a key
// derived from the master key, and the secret access key is derived from
// the master key and the token's content. Any node can check them without
// a lookup; a token stops resolving when it expires or when its role is
// deleted (or deleted and created again, which gives it a new id).
//
// Open creates the role "lambda-role" when it is missing (also after an
// administrator deleted it), whose policy only lets a function write its
// own logs.
//
// Goroutines: one, the bucket watch, started by Open and stopped by Close.
package iam
