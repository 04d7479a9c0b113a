package config

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// Client is one API client of access.json: its id, the argon2id hash of
// its secret and its role (openidm-admin, sundial-operator or
// sundial-reader; engine/auth gives them meaning).
type Client struct {
	ID     string
	Secret SecretHash
	Role   string
	File   string // path as shown in messages
	Line   int    // line of the client's entry
}

// SecretHash is a parsed argon2id hash in PHC form:
// $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<key>, salt and key
// in unpadded standard base64.
type SecretHash struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8  // lanes
	Salt    []byte
	Key     []byte
}

// The bounds ParseSecretHash accepts: generous for real hashes, and low
// enough that a hostile file cannot make each verification take minutes
// or gigabytes.
const (
	maxHashMemoryKiB = 1 << 20 // 1 GiB
	maxHashTime      = 64
	minSaltLen       = 8
	minKeyLen        = 16
	maxSaltKeyLen    = 1024
)

// String formats h in PHC form.
func (h SecretHash) String() string {
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", h.Memory, h.Time, h.Threads, enc.EncodeToString(h.Salt), enc.EncodeToString(h.Key))
}

// ParseSecretHash parses an argon2id PHC string.
func ParseSecretHash(s string) (SecretHash, error) {
	var h SecretHash
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return h, fmt.Errorf("not an argon2id hash $argon2id$v=19$m=…,t=…,p=…$salt$hash")
	}
	if parts[1] != "argon2id" {
		return h, fmt.Errorf("algorithm %q: only argon2id is accepted", parts[1])
	}
	if parts[2] != "v=19" {
		return h, fmt.Errorf("version %q: only v=19 is accepted", parts[2])
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return h, fmt.Errorf("parameters %q: expected m=…,t=…,p=…", parts[3])
	}
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(params[i], name+"=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil || n == 0 {
			return h, fmt.Errorf("parameter %q: expected %s=<positive integer>", params[i], name)
		}
		switch name {
		case "m":
			if n > maxHashMemoryKiB {
				return h, fmt.Errorf("memory m=%d KiB is over the limit of %d", n, maxHashMemoryKiB)
			}
			h.Memory = uint32(n)
		case "t":
			if n > maxHashTime {
				return h, fmt.Errorf("time t=%d is over the limit of %d", n, maxHashTime)
			}
			h.Time = uint32(n)
		case "p":
			if n > 255 {
				return h, fmt.Errorf("parallelism p=%d is over the limit of 255", n)
			}
			h.Threads = uint8(n)
		}
	}
	if h.Memory < 8*uint32(h.Threads) {
		return h, fmt.Errorf("memory m=%d KiB is below 8 KiB per lane (p=%d)", h.Memory, h.Threads)
	}
	var err error
	if h.Salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(h.Salt) < minSaltLen || len(h.Salt) > maxSaltKeyLen {
		return SecretHash{}, fmt.Errorf("salt: expected unpadded base64 of %d to %d bytes", minSaltLen, maxSaltKeyLen)
	}
	if h.Key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(h.Key) < minKeyLen || len(h.Key) > maxSaltKeyLen {
		return SecretHash{}, fmt.Errorf("hash: expected unpadded base64 of %d to %d bytes", minKeyLen, maxSaltKeyLen)
	}
	return h, nil
}

// loadAccess reads access.json (or .yaml). A file with errors contributes
// nothing of its own: the previous snapshot's clients stay.
func (l *loader) loadAccess(paths []string) []Client {
	var fallback []Client
	if l.opts.Previous != nil {
		fallback = l.opts.Previous.Clients
	}
	if len(paths) == 0 {
		return nil
	}
	rel, data, ok := l.readSingle("access", paths)
	if !ok {
		return fallback
	}
	c := &fileCtx{file: l.display(rel)}
	clients := parseAccessFile(c, data, !strings.HasSuffix(rel, ".json"))
	l.addFile(rel, c.errs, c.warns)
	if len(c.errs) > 0 {
		if fallback != nil {
			l.log.Info("access file has errors; keeping its last good version", "file", c.file)
		}
		return fallback
	}
	return clients
}

// readSingle reads the file of a kind the directory may hold once
// (scheduler, access, managed), given its candidates (at least one). ok is false,
// with the errors recorded, when there are several or it cannot be read.
func (l *loader) readSingle(kind string, paths []string) (rel string, data []byte, ok bool) {
	if len(paths) > 1 {
		for _, p := range paths {
			l.addFile(p, []error{&FileError{File: l.display(p), Err: errorf(ErrDuplicateID, "several %s files: %s; keep one", kind, strings.Join(paths, ", "))}}, nil)
		}
		return "", nil, false
	}
	rel = paths[0]
	data, err := l.read(rel, nil)
	if err != nil {
		l.addFile(rel, []error{readFailure(l.display(rel), err)}, nil)
		return "", nil, false
	}
	l.fileHash[rel] = hashBytes(data)
	return rel, data, true
}

// parseAccessFile reads an access file's clients. Property references are
// not substituted: a hash is written as it is.
func parseAccessFile(c *fileCtx, data []byte, isYAML bool) []Client {
	root := c.decode(data, isYAML, nil, nil)
	if root == nil {
		if len(c.errs) == 0 {
			c.errs = append(c.errs, &FileError{File: c.file, Line: 1, Col: 1, Err: errorf(ErrEmpty, "empty access file: list the clients, or delete it")})
		}
		return nil
	}
	c.validateSchema("access", root)
	list := root.get("clients")
	if list == nil || list.kind != kindArray {
		sortErrors(c.errs)
		return nil
	}
	clients := make([]Client, 0, len(list.items))
	firstLine := map[string]int{}
	for i, item := range list.items {
		ptr := fmt.Sprintf("/clients/%d", i)
		idNode, hashNode := item.get("id"), item.get("secretHash")
		id := str(idNode)
		if id == "" {
			continue // the schema reported it
		}
		if at, dup := firstLine[id]; dup {
			c.errAt(idNode, ptr+"/id", errorf(ErrDuplicateID, "clients.%d.id: duplicate client id %q: also at line %d", i, id, at))
			continue
		}
		firstLine[id] = idNode.line
		if hashNode == nil || hashNode.kind != kindString {
			continue
		}
		h, err := ParseSecretHash(hashNode.s)
		if err != nil {
			msg := fmt.Sprintf("clients.%d.secretHash: %v", i, err)
			if !strings.HasPrefix(hashNode.s, "$") {
				msg = fmt.Sprintf("clients.%d.secretHash: this looks like a secret in clear, which must never be in a file: put its hash instead, made by `sundial hash-secret`", i)
			}
			c.errAt(hashNode, ptr+"/secretHash", errorf(ErrInvalidValue, "%s", msg))
			continue
		}
		clients = append(clients, Client{ID: id, Secret: h, Role: str(item.get("role")), File: c.file, Line: item.line})
	}
	sortErrors(c.errs)
	return clients
}
