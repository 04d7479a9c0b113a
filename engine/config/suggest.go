package config

import "strings"

// suggest returns the candidate closest to s when it is close enough to be
// a likely typo ("persistd" → "persisted", "scirpt" → "script"), else "".
// Distance is the optimal string alignment distance (Levenshtein plus
// transpositions), compared case-insensitively; a case-only difference
// always counts as close.
func suggest(s string, candidates []string) string {
	if len(s) > 64 {
		return "" // no typo is that long; and distance is quadratic
	}
	best, bestD := "", -1
	ls := strings.ToLower(s)
	for _, c := range candidates {
		lc := strings.ToLower(c)
		if lc == ls {
			return c
		}
		d := osaDistance(ls, lc)
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	if bestD < 0 || bestD > typoBudget(len([]rune(s))) {
		return ""
	}
	return best
}

// typoBudget is how many edits a word of n characters may have and still
// be a typo of a known word.
func typoBudget(n int) int {
	switch {
	case n <= 3:
		return 1
	case n <= 8:
		return 2
	}
	return 3
}

// osaDistance is the optimal string alignment distance between a and b.
func osaDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Three rolling rows: i-2, i-1, i.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
