// Package e2e holds Gust's end-to-end scripts: testscript files in
// testdata/script that start a real `gust server` process and drive it
// with the real AWS CLI (v1 and v2) and the gust CLI, comparing output
// exactly. It has no non-test code.
package e2e
