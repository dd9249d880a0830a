package config

import "time"

// Defaults that validation fills into a Config whose file leaves a key out. Exported so that
// docs, flags and tests quote the same values.
const (
	DefaultListen            = ":1812"
	DefaultDuplicateWindow   = 30 * time.Second
	DefaultMaxInFlight       = 1024
	DefaultUserFilter        = "(uid={username})"
	DefaultADUserFilter      = "(&(objectCategory=person)(objectClass=user)(sAMAccountName={username})(!(userAccountControl:1.2.840.113556.1.4.803:=2)))"
	DefaultLDAPTimeout       = 5 * time.Second
	DefaultPoolSize          = 16
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
