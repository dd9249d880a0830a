// Package test holds radmfa's end-to-end tests: the real radmfa binary, a real slapd, and real
// RADIUS clients (radclient and a Go client), all on loopback. The harness lives in
// harness_test.go; each file tests one part of the product.
package test
