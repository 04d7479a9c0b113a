package query

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

func TestJavaDoubleString(t *testing.T) {
	for _, c := range []struct {
		d    float64
		want string
	}{
		{5, "5.0"}, {100000, "100000.0"}, {1e7, "1.0E7"}, {12345678, "1.2345678E7"},
		{1e-4, "1.0E-4"}, {0.001, "0.001"}, {0.5, "0.5"}, {math.Copysign(0, -1), "-0.0"}, {math.Inf(1), "Infinity"},
		{math.SmallestNonzeroFloat64, "4.9E-324"}, {1 << 60, "1.15292150460684698E18"},
		{9007199254740992, "9.007199254740992E15"}, {0.30000000000000004, "0.30000000000000004"}, {2e23, "1.9999999999999998E23"},
		{1.2345678901234567e29, "1.2345678901234568E29"}, {2, "2.0"},
	} {
		if got := javaDoubleString(c.d); got != c.want {
			t.Errorf("javaDoubleString(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}

// TestJavaDoubleStringRoundTrips checks that every printed double reads back
// to itself, across the exponent range.
func TestJavaDoubleStringRoundTrips(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		d := math.Float64frombits(r.Uint64() &^ (1 << 63))
		if math.IsNaN(d) || math.IsInf(d, 0) {
			continue
		}
		s := javaDoubleString(d)
		back, err := strconv.ParseFloat(s, 64)
		if err != nil || back != d {
			t.Fatalf("javaDoubleString(%v) = %q reads back as %v, %v", d, s, back, err)
		}
	}
}

func TestParseJavaNumbers(t *testing.T) {
	for _, c := range []struct {
		in   string
		ok   bool
		want int64
	}{
		{"+5", true, 5}, {"007", true, 7}, {"١٢", true, 12}, {"９", true, 9}, {"-0", true, 0},
		{"9223372036854775807", true, math.MaxInt64}, {"-9223372036854775808", true, math.MinInt64},
		{"9223372036854775808", false, 0}, {"1e5", false, 0}, {"+", false, 0}, {"", false, 0}, {"--1", false, 0},
	} {
		got, ok := parseJavaLong(c.in)
		if ok != c.ok || got != c.want {
			t.Errorf("parseJavaLong(%q) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
		}
	}
	for _, c := range []struct {
		in   string
		want float64
		msg  string
	}{
		{"5.", 5, ""}, {".5", 0.5, ""}, {"1.5e3", 1500, ""}, {"1.5f", 1.5, ""}, {"0x1.8p1", 3, ""},
		{"1.0e400", math.Inf(1), ""}, {"-.5", -0.5, ""}, {"1.5\t", 1.5, ""},
		{".", 0, `for input string: "."`}, {"1.2.3", 0, "multiple points"}, {"1.5e", 0, `for input string: "1.5e"`},
		{"NaN.", 0, `for input string: "NaN."`}, {"١.٥", 0, `for input string: "١.٥"`}, {"0x1.8", 0, `for input string: "0x1.8"`},
	} {
		got, msg := parseJavaDouble(c.in)
		if msg != c.msg || (msg == "" && got != c.want) {
			t.Errorf("parseJavaDouble(%q) = %v, %q; want %v, %q", c.in, got, msg, c.want, c.msg)
		}
	}
}
