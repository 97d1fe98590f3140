// Package schedule parses Amazon EventBridge schedule expressions and
// computes when they fire next, in UTC.
//
// Two forms are accepted, exactly as EventBridge's PutRule accepts them:
//
//	rate(N unit)   N ≥ 1; unit minute|hour|day when N is 1, minutes|hours|days otherwise
//	cron(minutes hours day-of-month month day-of-week year)
//
// The cron dialect is AWS's (Quartz-like), not Unix cron: there is a year
// field (1970-2199), day-of-week runs 1-7 with 1 = Sunday, exactly one of
// day-of-month and day-of-week must be "?", and the special forms L, LW, nW
// (day-of-month) and L, nL, n#k (day-of-week) are supported. Field values
// and names (JAN-DEC, SUN-SAT) are case-insensitive, as in AWS.
//
// A parsed *Expression is immutable, so it is safe for concurrent use. The
// package starts no goroutines and keeps no global state; Next is a pure
// function of its arguments. Every parse failure is an *InvalidError whose
// message is the text PutRule's ValidationException carries.
package schedule
