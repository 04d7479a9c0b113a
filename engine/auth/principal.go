// Package auth authenticates API clients (the clients of access.json, with
// argon2id secret hashes; bearer tokens; IDM's X-OpenIDM-* headers; HTTP
// Basic) and says what each role may do.
//
// An Authenticator (New) holds the current clients (SetClients, at every
// reload) and checks a request's credentials (Authenticate). Its
// TokenHandler serves POST /oauth2/token: tokens are HMAC-SHA256 signed
// with a key every node shares, valid DefaultTokenLifetime (one hour), and
// checked in memory, the client still having to exist with the same role.
// Successful secret checks are cached in memory (argon2id is slow on
// purpose); repeated failures from one client id or address are refused
// for a growing delay and logged. Bootstrap makes the openidm-admin client
// of a first start without clients.
package auth

// Role is what a client may do.
type Role string

// The roles. An admin does everything; an operator reads and operates
// running work (trigger, pause, resume, cancel); a reader reads.
const (
	RoleAdmin    Role = "openidm-admin"
	RoleOperator Role = "sundial-operator"
	RoleReader   Role = "sundial-reader"
)

// Perm is a kind of request.
type Perm int

const (
	PermRead    Perm = iota // GET, queries, read-only actions
	PermOperate             // trigger, pause, resume, cancel
	PermWrite               // create, update, delete, import
)

// Allows reports whether the role grants the permission.
func (r Role) Allows(p Perm) bool {
	switch r {
	case RoleAdmin:
		return true
	case RoleOperator:
		return p <= PermOperate
	case RoleReader:
		return p == PermRead
	}
	return false
}

// Principal is an authenticated client.
type Principal struct {
	ClientID string
	Role     Role
}
