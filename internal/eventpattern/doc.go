// Package eventpattern implements Amazon EventBridge's event pattern
// language: Compile parses and validates a pattern, and a compiled Pattern
// reports whether a JSON event matches it. It serves EventBridge rules and
// is meant to serve Lambda event-source-mapping FilterCriteria as well, which
// use the same language.
//
// The package is pure computation: it starts no goroutines and does no I/O.
// A Pattern is immutable once compiled, so one Pattern may be shared by any
// number of goroutines.
//
// # Matching
//
// A pattern is a JSON object. A field whose value is an object matches the
// event field of the same name against that object; a field whose value is
// an array is a leaf, and matches when any element of the array matches
// (OR). All fields of an object must match (AND); "$or": [{…}, {…}, …] at any
// object level requires at least one of its objects to match at that same
// level. A field absent from the event matches nothing except
// {"exists": false}.
//
// Arrays in the event are flattened: a leaf matches when any element (at any
// array depth) matches, and a nested pattern object matches when any object
// element of the array matches all of it. Different fields of one pattern
// object are therefore never satisfied by different elements of the same
// array (EventBridge's "array-consistent" matching). {"exists": false} is
// evaluated inside that same element, and an array with no object elements
// counts as absent for nested fields.
//
// Leaf values are exact strings, numbers, true, false and null, or one of
// the operators prefix, suffix (each also in an equals-ignore-case form),
// equals-ignore-case, wildcard, anything-but (of a value, a list of strings
// or of numbers, or of prefix, suffix, equals-ignore-case or wildcard),
// numeric, exists and cidr. Strings match character for character; null and
// "" are different values.
//
// Numbers compare by value, not by spelling: 300, 300.0 and 3.0e2 are the
// same number. Equality is exact for numbers of any size (an AWS account id
// matches itself). The numeric operator accepts "=", "<", "<=", ">" and ">="
// — one comparison, or a lower bound (">" or ">=") followed by an upper bound
// ("<" or "<=") — and, as in EventBridge, its operands and those of a numeric
// anything-but must lie within ±5,000,000,000 and have at most six decimal
// places. Event values outside that range never satisfy numeric; event values
// inside it are compared exactly. EventBridge has no "!=" operator (use
// anything-but), so "!=" is rejected like any unknown operator.
//
// Wildcards: "*" matches any run of characters, including none; `\*` is a
// literal asterisk and `\\` a literal backslash; any other backslash escape
// and two consecutive "*" are invalid. cidr accepts IPv4 and IPv6 prefixes
// (host bits after the mask are ignored: 10.0.0.7/24 is 10.0.0.0/24) and
// matches string values that are IP addresses inside the prefix. An
// exact-match string that is itself an IP address also matches other
// spellings of the same address ("::1" and "0:0:0:0:0:0:0:1").
//
// anything-but matches every value except the ones it names, of any type:
// {"anything-but": "x"} matches 5, null and true, and the prefix, suffix,
// equals-ignore-case and wildcard forms match every value that is not a
// string of that shape.
//
// When a pattern names a field twice, the later leaf wins (as EventBridge
// documents) and repeated nested objects are merged.
//
// # Limits
//
// Compile rejects, with an *InvalidPatternError, a pattern longer than
// MaxPatternLength characters (the EventPattern length limit of PutRule and
// of a Lambda filter), nested deeper than MaxDepth objects, or whose "$or"
// clauses expand to more than MaxOrCombinations alternative rules (each
// "$or" multiplies the number of rules EventBridge evaluates; this bound is
// the package's own, chosen to stay far above realistic patterns).
//
// # Errors
//
// Every Compile error is an *InvalidPatternError whose Error() reads like
// EventBridge's InvalidEventPatternException message:
//
//	Event pattern is not valid. Reason: Empty arrays are not allowed
//	 at [Source: (String)"{"source": []}"; line: 1, column: 14]
package eventpattern
