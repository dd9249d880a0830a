// Package factors implements the second factors a user proves after the password: TOTP codes
// from an authenticator app (RFC 6238) and codes sent by text message through a provider
// (Twilio, a generic HTTP gateway, or a local command).
//
// Factors are pure: they compute and compare codes with an injected clock and randomness and
// report which time step matched. Remembering that a step was used (replay protection) is the
// store's job, done atomically there so it holds across nodes.
package factors
