// Package archtest holds the test that keeps Gust's import rules: internal
// packages import only packages below them in the layer list of
// docs/ARCHITECTURE.md. It has no non-test code.
package archtest
