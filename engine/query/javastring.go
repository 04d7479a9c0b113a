package query

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// foldRune is the key Java's compareToIgnoreCase compares:
// toLowerCase(toUpperCase(c)). So ı, İ, i and I are all i; ſ is s; the
// Kelvin sign is k; ς, σ and Σ are σ; ẞ is ß.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	return unicode.ToLower(unicode.ToUpper(r))
}

// compareIgnoreCase is Java's String.compareToIgnoreCase (OpenJDK 17,
// which compares supplementary characters by code point): the first
// characters that differ after folding decide, by their folded values;
// otherwise the shorter string is less.
func compareIgnoreCase(a, b string) int {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		ca, cb := a[i], b[j]
		if ca < utf8.RuneSelf && cb < utf8.RuneSelf {
			i++
			j++
			if ca == cb {
				continue
			}
			fa, fb := foldRune(rune(ca)), foldRune(rune(cb))
			if fa != fb {
				return int(fa - fb)
			}
			continue
		}
		ra, na := utf8.DecodeRuneInString(a[i:])
		rb, nb := utf8.DecodeRuneInString(b[j:])
		i += na
		j += nb
		if ra == rb {
			continue
		}
		if fa, fb := foldRune(ra), foldRune(rb); fa != fb {
			return int(fa - fb)
		}
	}
	switch {
	case i < len(a):
		return 1
	case j < len(b):
		return -1
	}
	return 0
}

// lowerEnglish is Java's String.toLowerCase(Locale.ENGLISH): simple
// lower-case mappings, plus İ → i + U+0307 and a final Σ → ς.
func lowerEnglish(s string) string {
	if isASCII(s) {
		return strings.ToLower(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for i, r := range s {
		switch r {
		case 'İ':
			b.WriteString("i\u0307")
		case 'Σ':
			if finalSigma(s, i) {
				b.WriteRune('ς')
			} else {
				b.WriteRune('σ')
			}
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// finalSigma is Java's final-cased condition for the Σ at byte i of s: a
// cased letter before it within the same word, and none after it within the
// word. Words are runs of letters, marks and digits.
func finalSigma(s string, i int) bool {
	casedBefore := false
	for j := i; j > 0; {
		r, n := utf8.DecodeLastRuneInString(s[:j])
		if !isWordRune(r) {
			break
		}
		if isCased(r) {
			casedBefore = true
			break
		}
		j -= n
	}
	if !casedBefore {
		return false
	}
	for _, r := range s[i+len("Σ"):] {
		if !isWordRune(r) {
			break
		}
		if isCased(r) {
			return false
		}
	}
	return true
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsDigit(r)
}

func isCased(r rune) bool {
	return unicode.IsUpper(r) || unicode.IsLower(r) || unicode.IsTitle(r) ||
		unicode.In(r, unicode.Other_Lowercase, unicode.Other_Uppercase)
}

// containsLowerASCII reports whether lowerEnglish(s) contains sub, for an
// ASCII s, without allocating. sub is already lower-cased.
func containsLowerASCII(s, sub string) bool {
	n := len(sub)
	for i := 0; i+n <= len(s); i++ {
		if hasPrefixLowerASCII(s[i:], sub) {
			return true
		}
	}
	return false
}

// hasPrefixLowerASCII reports whether lowerEnglish(s) starts with sub, for
// an ASCII s. sub is already lower-cased.
func hasPrefixLowerASCII(s, sub string) bool {
	if len(sub) > len(s) {
		return false
	}
	for k := 0; k < len(sub); k++ {
		c := s[k]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != sub[k] {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
