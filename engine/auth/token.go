package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// A token is "<payload>.<mac>", both unpadded base64url. The payload is
// "v1|<key id>|<client id>|<role>|<expiry, unix seconds>"; the mac is
// HMAC-SHA256 over it with the signing key. The key id is the first 8 bytes
// of the key's SHA-256, so a token signed with another key is told apart
// from a forged one in logs. Client ids and roles never hold '|'.
const tokenVersion = "v1"

// maxTokenLen bounds what parseToken reads.
const maxTokenLen = 1024

var (
	errTokenMalformed = errors.New("malformed token")
	errTokenSignature = errors.New("bad token signature")
	errTokenKey       = errors.New("token signed with another key")
	errTokenExpired   = errors.New("expired token")
)

// signer makes and checks tokens with one key.
type signer struct {
	key   []byte
	keyID string
}

func newSigner(key []byte) signer {
	sum := sha256.Sum256(key)
	return signer{key: key, keyID: hex.EncodeToString(sum[:8])}
}

func (s signer) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(payload)
	return m.Sum(nil)
}

// sign returns the token of p.
func (s signer) sign(p tokenClaims) string {
	payload := strings.Join([]string{tokenVersion, s.keyID, p.clientID, string(p.role), strconv.FormatInt(p.expiry.Unix(), 10)}, "|")
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString(s.mac([]byte(payload)))
}

// tokenClaims are what a token says.
type tokenClaims struct {
	clientID string
	role     Role
	expiry   time.Time
}

// parse checks a token's signature and expiry (at now) and returns what
// it says.
func (s signer) parse(tok string, now time.Time) (tokenClaims, error) {
	var c tokenClaims
	if len(tok) > maxTokenLen {
		return c, errTokenMalformed
	}
	p64, m64, ok := strings.Cut(tok, ".")
	if !ok {
		return c, errTokenMalformed
	}
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(p64)
	mac, err2 := enc.DecodeString(m64)
	if err1 != nil || err2 != nil {
		return c, errTokenMalformed
	}
	if !hmac.Equal(mac, s.mac(payload)) {
		fields := strings.Split(string(payload), "|")
		if len(fields) == 5 && fields[0] == tokenVersion && fields[1] != s.keyID {
			return c, errTokenKey
		}
		return c, errTokenSignature
	}
	fields := strings.Split(string(payload), "|")
	if len(fields) != 5 || fields[0] != tokenVersion || fields[1] != s.keyID || fields[2] == "" {
		return c, errTokenMalformed
	}
	exp, err := strconv.ParseInt(fields[4], 10, 64)
	if err != nil {
		return c, errTokenMalformed
	}
	c = tokenClaims{clientID: fields[2], role: Role(fields[3]), expiry: time.Unix(exp, 0)}
	if !now.Before(c.expiry) {
		return tokenClaims{}, errTokenExpired
	}
	return c, nil
}
