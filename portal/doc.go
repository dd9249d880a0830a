// Package portal is radmfa's self-service web portal: users sign in with their directory
// password (and their second factor, when they have one), enrol an authenticator app from a
// QR code, register a phone number for texts, create app passwords for apps that cannot show
// a code prompt, forget remembered devices, and report a sign-in that was not theirs, which
// blocks their account and alerts the administrators. Members of the admin group see the
// audit trail and sign-in summary, unblock and reset users.
//
// Pages are rendered on the server with html/template; there is no JavaScript. Sessions live
// in memory (one node; a restart signs everyone out) under random 256-bit IDs, in HttpOnly,
// SameSite=Strict cookies (Secure and __Host- prefixed over TLS), and end after 15 minutes
// without a request. Every POST carries the session's CSRF token. Sign-in attempts are counted
// per username and per client address in the store's ephemeral counters, so every node
// shares the limits. Passwords, codes, secrets, app passwords and session IDs are never
// logged.
package portal
