package query

import (
	"math"
	"math/big"
	"math/bits"
	"strconv"
	"strings"
	"unicode"
)

// digitValue is Character.digit(r, 10): the value of any Unicode decimal
// digit (Nd), or -1. Nd characters come in runs of ten from zero, so the
// value is the distance from the start of the run, modulo ten.
func digitValue(r rune) int {
	if r >= '0' && r <= '9' {
		return int(r - '0')
	}
	if !unicode.IsDigit(r) {
		return -1
	}
	first := r
	for unicode.IsDigit(first - 1) {
		first--
	}
	return int(r-first) % 10
}

// parseJavaInt is Integer.parseInt / Long.parseLong: an optional sign, then
// one or more Unicode decimal digits, within [min, max].
func parseJavaInt(s string, bits int) (int64, bool) {
	if s == "" {
		return 0, false
	}
	neg := false
	switch s[0] {
	case '-':
		neg = true
		s = s[1:]
	case '+':
		s = s[1:]
	}
	if s == "" {
		return 0, false
	}
	limit := uint64(1) << (bits - 1) // magnitude of the minimum
	var n uint64
	for _, r := range s {
		d := digitValue(r)
		if d < 0 {
			return 0, false
		}
		n = n*10 + uint64(d)
		if n > limit {
			return 0, false
		}
	}
	if !neg && n == limit {
		return 0, false
	}
	if neg {
		return -int64(n), true
	}
	return int64(n), true
}

func parseJavaLong(s string) (int64, bool) { return parseJavaInt(s, 64) }

// parseJavaDouble is Double.parseDouble: surrounding characters up to U+0020
// trimmed, an optional sign, then a decimal (digits with at most one point,
// at least one digit, an optional exponent) or a hexadecimal form
// (0x1.8p1, binary exponent required), and an optional f, F, d or D. It
// returns Java's NumberFormatException message on failure.
func parseJavaDouble(token string) (float64, string) {
	fail := "for input string: " + strconv.Quote(token)
	s := strings.TrimFunc(token, func(r rune) bool { return r <= ' ' })
	if s == "" {
		return 0, fail
	}
	var clean strings.Builder
	i := 0
	if s[0] == '+' || s[0] == '-' {
		clean.WriteByte(s[0])
		i++
	}
	if i+1 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') {
		return parseJavaHexDouble(s[i+2:], clean.String(), fail)
	}
	digits, points := 0, 0
	for ; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			digits++
		} else if c == '.' {
			points++
			if points > 1 {
				return 0, "multiple points"
			}
		} else {
			break
		}
		clean.WriteByte(c)
	}
	if digits == 0 {
		return 0, fail
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		clean.WriteByte('e')
		var ok bool
		if i, ok = readExponent(s, i+1, &clean); !ok {
			return 0, fail
		}
	}
	if !atJavaDoubleEnd(s, i) {
		return 0, fail
	}
	return parseFloatClean(clean.String()), ""
}

// parseJavaHexDouble reads the rest of a hexadecimal double after "0x".
func parseJavaHexDouble(s, sign, fail string) (float64, string) {
	var clean strings.Builder
	clean.WriteString(sign)
	clean.WriteString("0x")
	i, digits, points := 0, 0, 0
	for ; i < len(s); i++ {
		c := s[i]
		if isHex(c) {
			digits++
		} else if c == '.' && points == 0 {
			points++
		} else {
			break
		}
		clean.WriteByte(c)
	}
	if digits == 0 || i == len(s) || (s[i] != 'p' && s[i] != 'P') {
		return 0, fail
	}
	clean.WriteByte('p')
	i, ok := readExponent(s, i+1, &clean)
	if !ok || !atJavaDoubleEnd(s, i) {
		return 0, fail
	}
	return parseFloatClean(clean.String()), ""
}

// readExponent copies an exponent's optional sign and its ASCII digits from
// s[i:] and returns where it ends; ok is false without digits.
func readExponent(s string, i int, clean *strings.Builder) (int, bool) {
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		clean.WriteByte(s[i])
		i++
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		clean.WriteByte(s[i])
		i++
	}
	return i, i > start
}

// atJavaDoubleEnd reports whether s ends at i, or at i+1 with a type suffix.
func atJavaDoubleEnd(s string, i int) bool {
	if i == len(s) {
		return true
	}
	if i == len(s)-1 {
		switch s[i] {
		case 'f', 'F', 'd', 'D':
			return true
		}
	}
	return false
}

// parseFloatClean parses a syntax already checked; out-of-range values
// become ±Infinity or ±0 as in Java.
func parseFloatClean(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

// javaDoubleString is Double.toString as OpenJDK 17 writes it: "NaN",
// "Infinity", "-0.0"; digits.digits for decimal exponents 1 to 7
// ("100000.0"), 0.00digits down to 0.001, otherwise computerised scientific
// notation ("1.2345678E7", "1.0E-4", "4.9E-324").
func javaDoubleString(d float64) string {
	switch {
	case math.IsNaN(d):
		return "NaN"
	case math.IsInf(d, 1):
		return "Infinity"
	case math.IsInf(d, -1):
		return "-Infinity"
	case d == 0:
		if math.Signbit(d) {
			return "-0.0"
		}
		return "0.0"
	}
	var b strings.Builder
	if d < 0 {
		b.WriteByte('-')
		d = -d
	}
	digits, exp := jdkDigits(d) // d ≈ 0.digits × 10^exp
	switch {
	case exp > 0 && exp < 8:
		if len(digits) <= exp {
			b.WriteString(digits)
			b.WriteString(strings.Repeat("0", exp-len(digits)))
			b.WriteString(".0")
		} else {
			b.WriteString(digits[:exp])
			b.WriteByte('.')
			b.WriteString(digits[exp:])
		}
	case exp <= 0 && exp > -3:
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", -exp))
		b.WriteString(digits)
	default:
		b.WriteByte(digits[0])
		b.WriteByte('.')
		if len(digits) > 1 {
			b.WriteString(digits[1:])
		} else {
			b.WriteByte('0')
		}
		b.WriteByte('E')
		b.WriteString(strconv.Itoa(exp - 1))
	}
	return b.String()
}

// fiveBits approximates ceil(log2(5^i)), as OpenJDK's digit generator
// estimates its operands' sizes.
func fiveBits(i int) int {
	table := [...]int{0, 3, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28, 31, 33, 35, 38, 40, 42, 45, 47, 49, 52, 54, 56, 59, 61}
	if i < len(table) {
		return table[i]
	}
	return i * 3
}

// jdkDigits returns the decimal digits OpenJDK 17's Double.toString
// chooses for d > 0, and the exponent e with d ≈ 0.digits × 10^e. It is the
// free-format algorithm (Steele and White) OpenJDK used before JDK 19: the
// digits stop at the first that identifies d within half an ULP, with a
// symmetric test, and at least two digits in scientific notation. That is
// why it sometimes prints more than the shortest digits (4.9E-324, not
// 5.0E-324). Integers below 2^63 print their exact digits, the last ones
// rounded off above 2^54.
func jdkDigits(d float64) (string, int) {
	raw := math.Float64bits(d)
	fract := raw & (1<<52 - 1)
	binExp := int(raw >> 52 & 0x7ff)
	nSignificant := 53
	if binExp == 0 { // subnormal
		lz := bits.LeadingZeros64(fract)
		shift := lz - 11
		fract <<= shift
		binExp = 1 - shift
		nSignificant = 64 - lz
	} else {
		fract |= 1 << 52
	}
	binExp -= 1023
	tailZeros := bits.TrailingZeros64(fract)
	nFractBits := 53 - tailZeros
	nTinyBits := max(0, nFractBits-binExp-1)

	if binExp >= -21 && binExp <= 62 && nTinyBits == 0 {
		// An integer: its exact digits, minus those beyond the precision.
		insignificant := 0
		if p2 := binExp - nSignificant - 1; p2 > 1 {
			for p := uint64(1) << p2; p >= 10; p /= 10 {
				insignificant++
			}
		}
		var v uint64
		if binExp >= 52 {
			v = fract << (binExp - 52)
		} else {
			v = fract >> (52 - binExp)
		}
		if insignificant > 0 {
			pow := uint64(1)
			for range insignificant {
				pow *= 10
			}
			residue := v % pow
			v /= pow
			if residue >= pow/2 {
				v++
			}
		}
		s := strconv.FormatUint(v, 10)
		return strings.TrimRight(s, "0"), len(s) + insignificant
	}

	decExp := estimateDecExp(fract, binExp)
	b5 := max(0, -decExp)
	b2 := b5 + nTinyBits + binExp
	s5 := max(0, decExp)
	s2 := s5 + nTinyBits
	m5 := b5
	m2 := b2 - nSignificant
	fract >>= tailZeros
	b2 -= nFractBits - 1
	common := min(b2, s2)
	b2 -= common
	s2 -= common
	m2 -= common
	if nFractBits == 1 {
		m2-- // a power of two: the next lower double is half as far
	}
	if m2 < 0 {
		b2 -= m2
		s2 -= m2
		m2 = 0
	}
	// OpenJDK computes in int when every operand fits in 32 bits, in long
	// when they fit in 64, and in big integers otherwise; the small paths
	// test b+m > 10s where the big one tests b+m >= 10s, and their
	// overflow on long digit runs is part of the result.
	bBits := nFractBits + b2 + fiveBits(b5)
	tenSBits := s2 + 1 + fiveBits(s5+1)
	var g digitGen
	switch {
	case bBits < 32 && tenSBits < 32:
		g = genSmall[int32](fract, b5, b2, s5, s2, m5, m2, decExp)
	case bBits < 64 && tenSBits < 64:
		g = genSmall[int64](fract, b5, b2, s5, s2, m5, m2, decExp)
	default:
		g = genBig(fract, b5, b2, s5, s2, m5, m2, decExp)
	}
	digits := g.digits
	exp := g.decExp + 1
	if g.high {
		up := true
		if g.low {
			up = g.lowDigitDifference > 0 || (g.lowDigitDifference == 0 && digits[len(digits)-1]&1 != 0)
		}
		if up {
			i := len(digits) - 1
			for i > 0 && digits[i] == '9' {
				digits[i] = '0'
				i--
			}
			if digits[i] == '9' {
				digits[0] = '1'
				exp++
			} else {
				digits[i]++
			}
		}
	}
	return string(digits), exp
}

// digitGen is the outcome of the digit loop: the digits, the decimal
// exponent estimate (corrected for a leading zero), the stopping tests and
// the sign of 2b - 10s for ties.
type digitGen struct {
	digits             []byte
	decExp             int
	low, high          bool
	lowDigitDifference int
}

func pow5Int(n int) int64 {
	p := int64(1)
	for range n {
		p *= 5
	}
	return p
}

// genSmall is the digit loop in Java int or long arithmetic, wrapping as
// Java does.
func genSmall[T int32 | int64](fract uint64, b5, b2, s5, s2, m5, m2, decExp int) digitGen {
	b := (T(fract) * T(pow5Int(b5))) << b2
	s := T(pow5Int(s5)) << s2
	m := T(pow5Int(m5)) << m2
	tens := s * 10
	g := digitGen{decExp: decExp}
	q := b / s
	b = 10 * (b % s)
	m *= 10
	g.low = b < m
	g.high = b+m > tens
	if q == 0 && !g.high {
		g.decExp--
	} else {
		g.digits = append(g.digits, byte('0'+q))
	}
	if g.decExp < -3 || g.decExp >= 8 {
		g.low, g.high = false, false
	}
	for !g.low && !g.high {
		q = b / s
		b = 10 * (b % s)
		m *= 10
		if m > 0 {
			g.low = b < m
			g.high = b+m > tens
		} else {
			g.low, g.high = true, true
		}
		g.digits = append(g.digits, byte('0'+q))
	}
	switch d := (b << 1) - tens; {
	case d > 0:
		g.lowDigitDifference = 1
	case d < 0:
		g.lowDigitDifference = -1
	}
	return g
}

// genBig is the digit loop in big integers.
func genBig(fract uint64, b5, b2, s5, s2, m5, m2, decExp int) digitGen {
	pow5 := func(n int) *big.Int { return new(big.Int).Exp(big.NewInt(5), big.NewInt(int64(n)), nil) }
	b := new(big.Int).Lsh(new(big.Int).Mul(new(big.Int).SetUint64(fract), pow5(b5)), uint(b2))
	s := new(big.Int).Lsh(pow5(s5), uint(s2))
	m := new(big.Int).Lsh(pow5(m5), uint(m2))
	tens := new(big.Int).Mul(s, big.NewInt(10))
	ten := big.NewInt(10)
	q, sum := new(big.Int), new(big.Int)
	g := digitGen{decExp: decExp}
	step := func() byte {
		q.QuoRem(b, s, b)
		b.Mul(b, ten)
		m.Mul(m, ten)
		g.low = b.Cmp(m) < 0
		g.high = sum.Add(b, m).Cmp(tens) >= 0
		return byte('0' + q.Int64())
	}
	if first := step(); first == '0' && !g.high {
		g.decExp--
	} else {
		g.digits = append(g.digits, first)
	}
	if g.decExp < -3 || g.decExp >= 8 {
		g.low, g.high = false, false
	}
	for !g.low && !g.high {
		g.digits = append(g.digits, step())
	}
	if g.high && g.low {
		g.lowDigitDifference = new(big.Int).Lsh(b, 1).Cmp(tens)
	}
	return g
}

// estimateDecExp is OpenJDK's estimate of floor(log10(d)) from the
// mantissa bits and the binary exponent.
func estimateDecExp(fract uint64, binExp int) int {
	d2 := math.Float64frombits(0x3ff<<52 | fract&(1<<52-1))
	d := (d2-1.5)*0.289529654 + 0.176091259 + float64(binExp)*0.301029995663981
	return int(math.Floor(d))
}
