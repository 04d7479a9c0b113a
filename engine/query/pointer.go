package query

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Pointer is a field: ForgeRock's JsonPointer, whose tokens are
// percent-decoded URI fragments (not RFC 6901: ~0 and ~1 stay as written).
// No tokens is the object itself.
type Pointer struct {
	Tokens []string
}

type pointerError struct {
	off int // byte offset in the field text
	msg string
}

// parsePointer reads a field as new JsonPointer(String) does: split on '/'
// (keeping empty tokens), ignore a leading and a trailing empty token, and
// decode each token as the fragment of the URI "#token".
func parsePointer(s string) (Pointer, *pointerError) {
	parts := strings.Split(s, "/")
	var p Pointer
	off := 0
	for i, part := range parts {
		partOff := off
		off += len(part) + 1
		if part == "" && (i == 0 || i == len(parts)-1) {
			continue
		}
		tok, err := decodeFragment(part)
		if err != nil {
			err.off += partOff
			return Pointer{}, err
		}
		p.Tokens = append(p.Tokens, tok)
	}
	return p, nil
}

// fragmentASCII marks the ASCII characters java.net.URI allows in a
// fragment besides '%' escapes: unreserved (alphanumerics and -_.!~*'())
// and reserved (;/?:@&=+$,[]).
var fragmentASCII = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "-_.!~*'();/?:@&=+$,[]" {
		t[c] = true
	}
	return t
}()

// isJavaSpaceOrControl is Character.isSpaceChar || Character.isISOControl:
// the non-ASCII characters java.net.URI neither allows in a fragment nor
// leaves unescaped.
func isJavaSpaceOrControl(r rune) bool {
	return r <= 0x1f || (r >= 0x7f && r <= 0x9f) || unicode.In(r, unicode.Zs, unicode.Zl, unicode.Zp)
}

// decodeFragment checks a token as java.net.URI checks a fragment and
// percent-decodes it (runs of escapes as UTF-8, malformed bytes becoming
// U+FFFD).
func decodeFragment(s string) (string, *pointerError) {
	hasEscape := false
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return "", &pointerError{off: i, msg: "malformed escape pair (% must be followed by two hex digits)"}
			}
			hasEscape = true
			i += 3
		case c < utf8.RuneSelf:
			if !fragmentASCII[c] {
				return "", &pointerError{off: i, msg: "illegal character " + strconv.QuoteRune(rune(c)) + " in a field"}
			}
			i++
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if (r == utf8.RuneError && n == 1) || isJavaSpaceOrControl(r) {
				return "", &pointerError{off: i, msg: "illegal character " + strconv.QuoteRune(r) + " in a field"}
			}
			i += n
		}
	}
	if !hasEscape {
		return s, nil
	}
	var b strings.Builder
	var run []byte
	for i := 0; i < len(s); {
		if s[i] == '%' {
			run = append(run[:0], unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 3
			for i < len(s) && s[i] == '%' {
				run = append(run, unhex(s[i+1])<<4|unhex(s[i+2]))
				i += 3
			}
			writeUTF8Replacing(&b, run)
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String(), nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// writeUTF8Replacing decodes b as UTF-8 the way Java's decoder with REPLACE
// does: each maximal ill-formed subpart becomes one U+FFFD.
func writeUTF8Replacing(out *strings.Builder, b []byte) {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r != utf8.RuneError || n > 1 {
			out.Write(b[:n])
			b = b[n:]
			continue
		}
		n = maximalSubpart(b)
		out.WriteRune(utf8.RuneError)
		b = b[n:]
	}
}

// maximalSubpart returns the length of the ill-formed sequence at the start
// of b: a lead byte and the continuation bytes that could still have made a
// character.
func maximalSubpart(b []byte) int {
	lo, hi := byte(0x80), byte(0xBF)
	var n int
	switch c := b[0]; {
	case c >= 0xC2 && c <= 0xDF:
		n = 2
	case c == 0xE0:
		n, lo = 3, 0xA0
	case c == 0xED:
		n, hi = 3, 0x9F
	case c >= 0xE1 && c <= 0xEF:
		n = 3
	case c == 0xF0:
		n, lo = 4, 0x90
	case c == 0xF4:
		n, hi = 4, 0x8F
	case c >= 0xF1 && c <= 0xF3:
		n = 4
	default:
		return 1
	}
	i := 1
	for ; i < n && i < len(b); i++ {
		c := b[i]
		if i == 1 && (c < lo || c > hi) || i > 1 && (c < 0x80 || c > 0xBF) {
			break
		}
	}
	return i
}

// String returns the pointer as JsonPointer.toString writes it: "/" and each
// token NFC-normalised and percent-encoded as a URI fragment (non-ASCII as
// upper-case UTF-8 escapes, '/' as %2F); "/" for no tokens.
func (p Pointer) String() string {
	if len(p.Tokens) == 0 {
		return "/"
	}
	var b strings.Builder
	for _, t := range p.Tokens {
		b.WriteByte('/')
		encodeFragment(&b, t)
	}
	return b.String()
}

func encodeFragment(b *strings.Builder, s string) {
	const digits = "0123456789ABCDEF"
	escape := func(c byte) {
		b.WriteByte('%')
		b.WriteByte(digits[c>>4])
		b.WriteByte(digits[c&0xf])
	}
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if !ascii {
		s = norm.NFC.String(s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '/':
			b.WriteString("%2F")
		case c < utf8.RuneSelf && fragmentASCII[c]:
			b.WriteByte(c)
		default:
			escape(c)
		}
	}
}
