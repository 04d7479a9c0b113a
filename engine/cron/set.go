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
	span  *[spanWords]uint64 // years spanBase.., allocated for the year field only
	large []int              // sorted, distinct, each < 0 or >= 128 and outside span
}

// The year field keeps 1970..2993 in a bitmap: "*" alone is 157 years.
const (
	spanBase  = 1970
	spanWords = 16
	spanEnd   = spanBase + spanWords*64
)

func (s *intSet) add(v int) {
	if v >= 0 && v < 128 {
		s.small[v>>6] |= 1 << (uint(v) & 63)
		return
	}
	if s.span != nil && v >= spanBase && v < spanEnd {
		o := v - spanBase
		s.span[o>>6] |= 1 << (uint(o) & 63)
		return
	}
	if n := len(s.large); n == 0 || s.large[n-1] < v {
		s.large = append(s.large, v) // ranges add in increasing order
		return
	}
	i := sort.SearchInts(s.large, v)
	if i < len(s.large) && s.large[i] == v {
		return
	}
	s.large = append(s.large, 0)
	copy(s.large[i+1:], s.large[i:])
	s.large[i] = v
}

func (s *intSet) contains(v int) bool {
	if v >= 0 && v < 128 {
		return s.small[v>>6]&(1<<(uint(v)&63)) != 0
	}
	if s.span != nil && v >= spanBase && v < spanEnd {
		o := v - spanBase
		return s.span[o>>6]&(1<<(uint(o)&63)) != 0
	}
	i := sort.SearchInts(s.large, v)
	return i < len(s.large) && s.large[i] == v
}

func (s *intSet) empty() bool {
	if s.span != nil {
		for _, w := range s.span {
			if w != 0 {
				return false
			}
		}
	}
	return s.small[0] == 0 && s.small[1] == 0 && len(s.large) == 0
}

// ceil returns the smallest element >= v (TreeSet.tailSet(v).first()).
func (s *intSet) ceil(v int) (int, bool) {
	if v < 128 {
		if len(s.large) > 0 && s.large[0] < 0 {
			// negative values exist only in the year set; fall back to a scan
			for _, x := range s.large {
				if x >= v && x < 0 {
					return x, true
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
	best, found := 0, false
	if i := sort.SearchInts(s.large, v); i < len(s.large) {
		best, found = s.large[i], true
	}
	if s.span != nil && v < spanEnd {
		o := max(v-spanBase, 0)
		for w := o >> 6; w < spanWords; w++ {
			m := s.span[w]
			if w == o>>6 {
				m = m >> (uint(o) & 63) << (uint(o) & 63)
			}
			if m != 0 {
				x := spanBase + w*64 + bits.TrailingZeros64(m)
				if !found || x < best {
					return x, true
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
	for _, x := range s.large {
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
	if s.span != nil {
		for w, m := range s.span {
			for m != 0 {
				b := bits.TrailingZeros64(m)
				rest = append(rest, spanBase+w*64+b)
				m &= m - 1
			}
		}
	}
	for _, x := range s.large {
		if x >= 128 {
			rest = append(rest, x)
		}
	}
	sort.Ints(rest)
	return append(out, rest...)
}

// last returns the largest element (TreeSet.last()).
func (s *intSet) last() (int, bool) {
	if n := len(s.large); n > 0 && s.large[n-1] >= 128 {
		return s.large[n-1], true
	}
	if s.span != nil {
		for w := spanWords - 1; w >= 0; w-- {
			if m := s.span[w]; m != 0 {
				return spanBase + w*64 + 63 - bits.LeadingZeros64(m), true
			}
		}
	}
	for w := 1; w >= 0; w-- {
		if m := s.small[w]; m != 0 {
			return w*64 + 63 - bits.LeadingZeros64(m), true
		}
	}
	if n := len(s.large); n > 0 {
		return s.large[n-1], true
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
		case s.span != nil && v >= spanBase && v < spanEnd:
			o := v - spanBase
			hi := min(to-spanBase, o|63)
			s.span[o>>6] |= bitsBetween(o&63, hi&63)
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
