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
	large []int // sorted, distinct, each < 0 or >= 128
}

func (s *intSet) add(v int) {
	if v >= 0 && v < 128 {
		s.small[v>>6] |= 1 << (uint(v) & 63)
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
	i := sort.SearchInts(s.large, v)
	return i < len(s.large) && s.large[i] == v
}

func (s *intSet) empty() bool {
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
	i := sort.SearchInts(s.large, v)
	if i < len(s.large) {
		return s.large[i], true
	}
	return 0, false
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
	for _, x := range s.large {
		if x >= 128 {
			out = append(out, x)
		}
	}
	return out
}
