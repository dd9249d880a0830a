package config

import "time"

// Defaults that validation fills into a Config whose file leaves a key out. Exported so that
// docs, flags and tests quote the same values.
const (
	DefaultListen            = ":1812"
	DefaultDuplicateWindow   = 30 * time.Second
	DefaultMaxInFlight       = 1024
	DefaultUserFilter        = "(uid={username})"
	DefaultADUserFilter      = "(&(objectCategory=person)(objectClass=user)(sAMAccountName={username}))"
	DefaultLDAPTimeout       = 5 * time.Second
	DefaultPoolSize          = 16
	DefaultLDAPCacheTTL      = 30 * time.Second
	DefaultDisplayNameAttr   = "displayName"
	DefaultMailAttr          = "mail"
	DefaultPhoneAttr         = "mobile"
	DefaultGroupNameAttr     = "cn"
	DefaultGroupMode         = GroupMemberOf
	DefaultADGroupMode       = GroupADChain
	DefaultGroupFilter       = "(|(member={dn})(uniqueMember={dn}))"
	DefaultDriver            = DriverSQLite
	DefaultSQLiteDSN         = "radmfa.db"
	DefaultKeyFile           = "radmfa.key"
	DefaultChallengeTimeout  = 120 * time.Second
	DefaultStateKeyFile      = "radmfa-state.key"
	DefaultMFAState          = "enforced"
	DefaultUnenrolled        = "reject"
	DefaultPasswordThreshold = 10
	DefaultFactorThreshold   = 5
	DefaultLockout           = 5 * time.Minute
	DefaultMaxLockout        = 24 * time.Hour
	DefaultIssuer            = "radmfa"
	DefaultDigits            = 6
	DefaultPeriod            = 30
	DefaultSkew              = 1
	DefaultAlgorithm         = "SHA1"
	DefaultLogLevel          = "info"
	DefaultLogFormat         = "json"
)

// Values of LDAPConfig.GroupMode.
const (
	GroupMemberOf = "memberof" // the user entry's memberOf attribute
	GroupSearch   = "search"   // search groups with GroupFilter
	GroupADChain  = "ad_chain" // Active Directory's transitive LDAP_MATCHING_RULE_IN_CHAIN
	GroupNone     = "none"     // no groups
)

// Values of StoreConfig.Driver.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// Defaults of the policy, modes and SMS sections.
const (
	DefaultPrimary         = "ldap"
	DefaultSourceThreshold = 30
	DefaultSourceWindow    = 10 * time.Minute
	DefaultPolicyAction    = ActionRequireMFA
	DefaultMode            = ModeChallenge
	DefaultUpstreamTO      = 5 * time.Second
	DefaultUpstreamTries   = 1
	DefaultSMSProvider     = "none"
	DefaultSMSTimeout      = 10 * time.Second
	DefaultSMSCodeLength   = 6
	DefaultSMSAlphabet     = "0123456789"
	DefaultSMSLifetime     = 5 * time.Minute
	DefaultSMSMaxTries     = 3
	DefaultSMSPerUser      = 3
	DefaultSMSPerNAS       = 1000
	DefaultSMSWindow       = 10 * time.Minute
	DefaultSMSKeyword      = "sms"
	DefaultSMSMessage      = "Your {{.Issuer}} sign-in code is {{.Code}}. It expires in {{.Minutes}} minutes."
	DefaultTwilioBaseURL   = "https://api.twilio.com"
	DefaultPromptTOTP      = "Enter the {{.Digits}}-digit code from your authenticator app: "
	DefaultPromptSMS       = "Enter the code sent to {{.Phone}}: "
	DefaultPromptChoose    = "Enter your app code, or type {{.Keyword}} to receive a text message: "
	DefaultPromptNewPW     = "Your password has expired. Enter a new password: "
	DefaultPromptConfirm   = "Enter the new password again: "
)

// Policy actions.
const (
	ActionRequireMFA   = "require_mfa"
	ActionPasswordOnly = "password_only"
	ActionDeny         = "deny"
)

// NAS modes.
const (
	ModeChallenge = "challenge"
	ModeAppend    = "append"
	ModeAuto      = "auto"
	ModeOTPOnly   = "otp_only"
)
