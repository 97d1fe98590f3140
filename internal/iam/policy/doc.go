// Package policy implements the subset of the AWS IAM policy language that
// Gust enforces: parsing and validating identity policies (attached to users
// and roles) and resource-based policies (a function's AddPermission
// statements), rendering them back to JSON, and evaluating a request against
// them with IAM's rules.
//
// Supported: Version 2012-10-17 and 2008-10-17 (the default when Version is
// absent); Statement as an object or an array; Sid, Effect, Principal ("*",
// {"AWS": …}, {"Service": …}), Action/NotAction, Resource/NotResource;
// the String*, Arn*, Bool and Null condition operators with the …IfExists
// suffix; and, in 2012-10-17 documents, policy variables such as
// ${aws:username} in Resource and condition values. Everything else
// (NotPrincipal, Federated or CanonicalUser principals, Numeric*/Date*/
// IpAddress operators, ForAnyValue:/ForAllValues: qualifiers) is rejected at
// parse time rather than silently ignored, so a policy never grants more or
// less than it appears to.
//
// The package is pure: it starts no goroutines, keeps no state and does no
// I/O. Invariants: ParseIdentity and ParseResource never panic on any input
// and every error they return is a *MalformedError; evaluation denies by
// default, so a statement it cannot interpret (an unknown condition operator
// in a hand-built Statement, an unresolvable policy variable) never matches.
package policy
