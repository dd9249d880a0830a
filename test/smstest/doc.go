// Package smstest runs fake SMS providers on loopback for tests: a Twilio that speaks the real
// Messages API (auth, form fields, Twilio-style JSON errors) and records what it was sent, and
// an HTTP sink that records any request for the generic HTTP provider. Both inject faults
// (failing statuses, delays) so retries and timeouts can be tested against a real server.
//
// It is a normal package, not a _test file, so every test package can import it. It does not
// import radmfa's own packages, so it checks the wire format, not radmfa's idea of it.
package smstest
