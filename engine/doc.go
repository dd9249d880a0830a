// Package engine is radmfa's sign-in flow: it turns a verified RADIUS request into a decision.
//
// First leg: lockout check → password (ldapauth) → who must do MFA → Access-Challenge with a
// sealed State. Second leg: State → lockout check → factor check → single-use step (store) →
// Access-Accept. Every outcome is one decision with a reason, logged once as a structured line
// and written to the audit trail; the NAS only ever sees a short Reply-Message.
package engine
