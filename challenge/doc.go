// Package challenge seals and opens the RADIUS State attribute that carries a sign-in between its
// first leg (password) and its second (code).
//
// A token is encrypted and authenticated (AES-256-GCM) and binds the user, the NAS and the time,
// so any radmfa node holding the same key can finish the flow, and a forged, altered, expired or
// transplanted (other user, other NAS) State is refused. It holds hashes of the user and NAS
// rather than the names, so the token stays small whatever the username.
package challenge
