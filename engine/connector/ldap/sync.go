package ldap

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"sundial/engine/connector"
)

// generalizedTime is the timestamp strategy's token format (GMT).
const generalizedTime = "20060102150405Z"

// changelog returns the root DSE's changelog base and last change
// number, or "" when the server has none (or timestamps are asked for).
func (s *Set) changelog(ctx context.Context) (base string, last int64, err error) {
	if s.c.cfg.UseTimestampsForSync {
		return "", 0, nil
	}
	dse, err := s.c.rootDSE(ctx)
	if err != nil {
		return "", 0, err
	}
	base = dse.GetAttributeValue("changelog")
	if base == "" {
		return "", 0, nil
	}
	last, err = strconv.ParseInt(dse.GetAttributeValue("lastChangeNumber"), 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("%s: the root DSE's lastChangeNumber %q: %v", s.resource, dse.GetAttributeValue("lastChangeNumber"), err)
	}
	return base, last, nil
}

// LatestToken returns the last change number, or now as a generalized
// time without a changelog.
func (s *Set) LatestToken(ctx context.Context) (connector.Token, error) {
	base, last, err := s.changelog(ctx)
	if err != nil {
		return connector.Token{}, err
	}
	if base != "" {
		return connector.Token{Value: strconv.FormatInt(last, 10), NativeType: "integer"}, nil
	}
	return timeToken(time.Now()), nil
}

func timeToken(t time.Time) connector.Token {
	return connector.Token{Value: t.UTC().Format(generalizedTime), NativeType: "string"}
}

// Sync reports the changes after since (see the package doc).
func (s *Set) Sync(ctx context.Context, since connector.Token, fn func(connector.Delta) error) (connector.Token, error) {
	base, last, err := s.changelog(ctx)
	if err != nil {
		return since, err
	}
	tok := fmt.Sprint(since.Value)
	if base != "" {
		n, err := strconv.ParseInt(tok, 10, 64)
		if err != nil {
			return since, fmt.Errorf("%s: sync token %q is not a change number", s.resource, tok)
		}
		return s.syncChangelog(ctx, base, n, last, since, fn)
	}
	t, err := time.Parse(generalizedTime, tok)
	if err != nil {
		return since, fmt.Errorf("%s: sync token %q is not a generalized time (yyyyMMddHHmmssZ)", s.resource, tok)
	}
	return s.syncTimestamps(ctx, t, since, fn)
}

// syncTimestamps reports, oldest first, the entries created or modified at
// or after t.
func (s *Set) syncTimestamps(ctx context.Context, t time.Time, since connector.Token, fn func(connector.Delta) error) (connector.Token, error) {
	start := time.Now()
	ts := t.UTC().Format(generalizedTime)
	var classes strings.Builder
	for _, oc := range s.syncClasses {
		fmt.Fprintf(&classes, "(objectClass=%s)", goldap.EscapeFilter(oc))
	}
	filter := fmt.Sprintf("(&(|%s)(|(modifyTimestamp>=%s)(createTimestamp>=%s)))", classes.String(), ts, ts)
	type change struct {
		at  string
		obj connector.Object
	}
	var changes []change
	err := s.search(ctx, s.c.cfg.BaseContextsToSynchronize, filter, s.attributes(), func(e *goldap.Entry) error {
		at := e.GetAttributeValue("modifyTimestamp")
		if c := e.GetAttributeValue("createTimestamp"); c > at {
			at = c
		}
		changes = append(changes, change{at: at, obj: s.toObject(e)})
		return nil
	})
	if err != nil {
		return since, err
	}
	sort.SliceStable(changes, func(i, j int) bool { return changes[i].at < changes[j].at })
	accepted := since
	for _, c := range changes {
		// The token of a change is its second: a pass resumed from it
		// reports that change again, never one after it lost.
		d := connector.Delta{Type: connector.DeltaCreateOrUpdate, UID: c.obj["_id"].(string), Object: c.obj,
			Token: connector.Token{Value: c.at, NativeType: "string"}}
		if err := fn(d); err != nil {
			return accepted, err
		}
		accepted = d.Token
	}
	return timeToken(start), nil
}

// syncChangelog reads the changelog after change number n up to last, in
// blocks of changeLogBlockSize.
func (s *Set) syncChangelog(ctx context.Context, base string, n, last int64, since connector.Token, fn func(connector.Delta) error) (connector.Token, error) {
	accepted := since
	attr := s.c.cfg.ChangeNumberAttribute
	for n < last {
		hi := min(n+int64(s.c.cfg.ChangeLogBlockSize), last)
		filter := fmt.Sprintf("(&(%s>=%d)(%s<=%d))", attr, n+1, attr, hi)
		var entries []*goldap.Entry
		err := s.c.do(func(conn *goldap.Conn) error {
			res, err := conn.Search(goldap.NewSearchRequest(base, goldap.ScopeSingleLevel, goldap.NeverDerefAliases, 0, 0, false, filter,
				[]string{attr, "targetDN", "changeType", "newRDN", "newSuperior"}, nil))
			if err != nil {
				return err
			}
			entries = res.Entries
			return nil
		})
		if err != nil {
			return accepted, fmt.Errorf("%s: read the changelog %s: %w", s.resource, base, err)
		}
		sort.Slice(entries, func(i, j int) bool { return changeNumber(entries[i], attr) < changeNumber(entries[j], attr) })
		for _, e := range entries {
			d, ok, err := s.changeDelta(ctx, e, attr)
			if err != nil {
				return accepted, err
			}
			tok := connector.Token{Value: strconv.FormatInt(changeNumber(e, attr), 10), NativeType: "integer"}
			if ok {
				d.Token = tok
				if err := fn(d); err != nil {
					return accepted, err
				}
			}
			accepted = tok
		}
		n = hi
	}
	return connector.Token{Value: strconv.FormatInt(last, 10), NativeType: "integer"}, nil
}

func changeNumber(e *goldap.Entry, attr string) int64 {
	n, _ := strconv.ParseInt(e.GetAttributeValue(attr), 10, 64)
	return n
}

// changeDelta turns a changelog entry into a delta; ok is false for a
// change outside baseContextsToSynchronize or of another object class.
func (s *Set) changeDelta(ctx context.Context, e *goldap.Entry, attr string) (d connector.Delta, ok bool, err error) {
	target := e.GetAttributeValue("targetDN")
	kind := strings.ToLower(e.GetAttributeValue("changeType"))
	if kind == "modrdn" || kind == "moddn" {
		rdn := e.GetAttributeValue("newRDN")
		parent := e.GetAttributeValue("newSuperior")
		if parent == "" {
			_, parent, _ = strings.Cut(target, ",")
		}
		prev := target
		target = rdn + "," + parent
		defer func() {
			if ok && s.byDN() {
				d.PreviousUID = prev
			}
		}()
	}
	if !s.inSyncBase(target) {
		return d, false, nil
	}
	if kind == "delete" {
		if !s.byDN() {
			// the entry's entryUUID is gone with it
			return d, false, nil
		}
		return connector.Delta{Type: connector.DeltaDelete, UID: target}, true, nil
	}
	var entry *goldap.Entry
	err = s.c.do(func(conn *goldap.Conn) error {
		res, err := conn.Search(goldap.NewSearchRequest(target, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 1, 0, false, s.classFilter(), s.attributes(), nil))
		if goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(res.Entries) > 0 {
			entry = res.Entries[0]
		}
		return nil
	})
	if err != nil || entry == nil {
		return d, false, err // gone since, or not of this type
	}
	obj := s.toObject(entry)
	t := connector.DeltaUpdate
	if kind == "add" {
		t = connector.DeltaCreate
	}
	return connector.Delta{Type: t, UID: obj["_id"].(string), Object: obj}, true, ctx.Err()
}

func (s *Set) inSyncBase(dn string) bool {
	dn = strings.ToLower(dn)
	for _, b := range s.c.cfg.BaseContextsToSynchronize {
		b = strings.ToLower(b)
		if dn == b || strings.HasSuffix(dn, ","+b) {
			return true
		}
	}
	return false
}
