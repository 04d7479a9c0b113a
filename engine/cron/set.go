package cron

import (
	"math/bits"
	"sort"
)

// Quartz keeps a field's values in a TreeSet<Integer> that may also hold the
// markers 98 (NO_SPEC, '?') and 99 (ALL_SPEC, '*'), and, through the '#', 'W'
// and year paths that skip range checks, arbitrary integers. intSet mirrors
// that: a bitmap for 0..127 and a sorted slice for anything else.
const (
	noSpec  = 98
	allSpec = 99
)

type intSet struct {
	small [2]uint64
	// ext holds the values outside 0..127: only the year field and the few
	// values that skip Quartz's range checks have any, so every other set
	// costs 24 bytes. An Expression is immutable once parsed, so sets may
	// share an ext (see defaultYears).
	ext *setExt
}

// setExt is the part of an intSet beyond 0..127.
type setExt struct {
	span    [spanWords]uint64 // years spanBase.., used when hasSpan
	hasSpan bool              // the year field's set
	large   []int             // sorted, distinct, each < 0 or >= 128 and outside span
}

// The year field keeps 1970..2993 in a bitmap: "*" alone is 157 years.
const (
	spanBase  = 1970
	spanWords = 16
	spanEnd   = spanBase + spanWords*64
)

// enableSpan gives the set a year bitmap (the year field's set).
func (s *intSet) enableSpan() {
	if s.ext == nil {
		s.ext = &setExt{}
	}
	s.ext.hasSpan = true
}

// inSpan reports whether v falls in the set's year bitmap.
func (s *intSet) inSpan(v int) bool {
	return s.ext != nil && s.ext.hasSpan && v >= spanBase && v < spanEnd
}

func (s *intSet) add(v int) {
	if v >= 0 && v < 128 {
		s.small[v>>6] |= 1 << (uint(v) & 63)
		return
	}
	if s.inSpan(v) {
		o := v - spanBase
		s.ext.span[o>>6] |= 1 << (uint(o) & 63)
		return
	}
	if s.ext == nil {
		s.ext = &setExt{}
	}
	x := s.ext
	if n := len(x.large); n == 0 || x.large[n-1] < v {
		x.large = append(x.large, v) // ranges add in increasing order
		return
	}
	i := sort.SearchInts(x.large, v)
	if i < len(x.large) && x.large[i] == v {
		return
	}
	x.large = append(x.large, 0)
	copy(x.large[i+1:], x.large[i:])
	x.large[i] = v
}

func (s *intSet) contains(v int) bool {
	if v >= 0 && v < 128 {
		return s.small[v>>6]&(1<<(uint(v)&63)) != 0
	}
	if s.ext == nil {
		return false
	}
	if s.inSpan(v) {
		o := v - spanBase
		return s.ext.span[o>>6]&(1<<(uint(o)&63)) != 0
	}
	i := sort.SearchInts(s.ext.large, v)
	return i < len(s.ext.large) && s.ext.large[i] == v
}

func (s *intSet) empty() bool {
	if x := s.ext; x != nil {
		for _, w := range x.span {
			if w != 0 {
				return false
			}
		}
		if len(x.large) > 0 {
			return false
		}
	}
	return s.small[0] == 0 && s.small[1] == 0
}

// ceil returns the smallest element >= v (TreeSet.tailSet(v).first()).
func (s *intSet) ceil(v int) (int, bool) {
	x := s.ext
	if x == nil && uint(v) < 64 { // the usual case: a field of small values
		if m := s.small[0] >> uint(v); m != 0 {
			return v + bits.TrailingZeros64(m), true
		}
		if m := s.small[1]; m != 0 {
			return 64 + bits.TrailingZeros64(m), true
		}
		return 0, false
	}
	if v < 128 {
		if x != nil && len(x.large) > 0 && x.large[0] < 0 {
			// negative values exist only in the year set; fall back to a scan
			for _, y := range x.large {
				if y >= v && y < 0 {
					return y, true
				}
			}
		}
		if v < 0 {
			v = 0
		}
		if v < 64 {
			if m := s.small[0] >> uint(v); m != 0 {
				return v + bits.TrailingZeros64(m), true
			}
			v = 64
		}
		if m := s.small[1] >> uint(v-64); m != 0 {
			return v + bits.TrailingZeros64(m), true
		}
		v = 128
	}
	if x == nil {
		return 0, false
	}
	if s.inSpan(v) && len(x.large) == 0 {
		if o := v - spanBase; x.span[o>>6]&(1<<(uint(o)&63)) != 0 {
			return v, true // the usual year
		}
	}
	best, found := 0, false
	if i := sort.SearchInts(x.large, v); i < len(x.large) {
		best, found = x.large[i], true
	}
	if x.hasSpan && v < spanEnd {
		o := max(v-spanBase, 0)
		for w := o >> 6; w < spanWords; w++ {
			m := x.span[w]
			if w == o>>6 {
				m = m >> (uint(o) & 63) << (uint(o) & 63)
			}
			if m != 0 {
				y := spanBase + w*64 + bits.TrailingZeros64(m)
				if !found || y < best {
					return y, true
				}
				break
			}
		}
	}
	return best, found
}

// first returns the smallest element (TreeSet.first()).
func (s *intSet) first() (int, bool) {
	return s.ceil(-1 << 62)
}

// values lists the elements in order, for descriptions.
func (s *intSet) values() []int {
	var out []int
	var large []int
	if s.ext != nil {
		large = s.ext.large
	}
	for _, x := range large {
		if x < 0 {
			out = append(out, x)
		}
	}
	for w := 0; w < 2; w++ {
		m := s.small[w]
		for m != 0 {
			b := bits.TrailingZeros64(m)
			out = append(out, w*64+b)
			m &= m - 1
		}
	}
	var rest []int
	if s.ext != nil {
		for w, m := range s.ext.span {
			for m != 0 {
				b := bits.TrailingZeros64(m)
				rest = append(rest, spanBase+w*64+b)
				m &= m - 1
			}
		}
	}
	for _, x := range large {
		if x >= 128 {
			rest = append(rest, x)
		}
	}
	sort.Ints(rest)
	return append(out, rest...)
}

// last returns the largest element (TreeSet.last()).
func (s *intSet) last() (int, bool) {
	if x := s.ext; x != nil {
		if n := len(x.large); n > 0 && x.large[n-1] >= 128 {
			return x.large[n-1], true
		}
		for w := spanWords - 1; w >= 0; w-- {
			if m := x.span[w]; m != 0 {
				return spanBase + w*64 + 63 - bits.LeadingZeros64(m), true
			}
		}
	}
	for w := 1; w >= 0; w-- {
		if m := s.small[w]; m != 0 {
			return w*64 + 63 - bits.LeadingZeros64(m), true
		}
	}
	if x := s.ext; x != nil && len(x.large) > 0 {
		return x.large[len(x.large)-1], true
	}
	return 0, false
}

// addRange adds from, from+step, … up to to.
func (s *intSet) addRange(from, to, step int) {
	if step != 1 {
		for v := from; v <= to; v += step {
			s.add(v)
		}
		return
	}
	for v := from; v <= to; {
		switch {
		case v >= 0 && v < 128:
			hi := min(to, v|63)
			s.small[v>>6] |= bitsBetween(v&63, hi&63)
			v = hi + 1
		case s.inSpan(v):
			o := v - spanBase
			hi := min(to-spanBase, o|63)
			s.ext.span[o>>6] |= bitsBetween(o&63, hi&63)
			v = spanBase + hi + 1
		default:
			s.add(v)
			v++
		}
	}
}

// bitsBetween returns a word with bits a..b (inclusive) set, 0 <= a <= b < 64.
func bitsBetween(a, b int) uint64 {
	return (^uint64(0) >> uint(63-(b-a))) << uint(a)
}
