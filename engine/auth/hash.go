package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"

	"golang.org/x/crypto/argon2"

	"sundial/engine/config"
)

// The argon2id parameters of new hashes: 19 MiB, two passes, one lane
// (the OWASP minimum), a 16-byte salt and a 32-byte key.
const (
	hashMemoryKiB = 19 * 1024
	hashTime      = 2
	hashThreads   = 1
	saltLen       = 16
	keyLen        = 32
)

// ErrEmptySecret is HashSecret's error for an empty secret.
var ErrEmptySecret = errors.New("empty secret")

// HashSecret returns the argon2id hash of secret in PHC form, with a fresh
// random salt: the secretHash of an access.json client.
func HashSecret(secret string) (string, error) {
	h, err := newHash(secret)
	if err != nil {
		return "", err
	}
	return h.String(), nil
}

func newHash(secret string) (config.SecretHash, error) {
	if secret == "" {
		return config.SecretHash{}, ErrEmptySecret
	}
	salt := make([]byte, saltLen)
	rand.Read(salt) // never fails (crypto/rand)
	return config.SecretHash{
		Memory: hashMemoryKiB, Time: hashTime, Threads: hashThreads, Salt: salt,
		Key: argon2.IDKey([]byte(secret), salt, hashTime, hashMemoryKiB, hashThreads, keyLen),
	}, nil
}

// VerifySecret reports whether secret matches h, comparing in constant
// time. It costs what h's parameters say (tens of milliseconds for
// HashSecret's).
func VerifySecret(secret string, h config.SecretHash) bool {
	if len(h.Key) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(secret), h.Salt, h.Time, h.Memory, h.Threads, uint32(len(h.Key)))
	return subtle.ConstantTimeCompare(got, h.Key) == 1
}
