package query

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// MacroContext is what the ${…} macros of a task scan resolve against. A scan
// resolves its filter once, when it starts, so every object sees one instant.
type MacroContext struct {
	// Now is the scan's instant, from the scheduler's clock.
	Now time.Time
	// Zone is the zone of calendar arithmetic (days, months, years) and of
	// ${Time.nowWithOffset}; nil is UTC.
	Zone *time.Location
	// TaskStateStarted and TaskStateCompleted are the scan's
	// taskState.started and taskState.completed pointers.
	TaskStateStarted, TaskStateCompleted string
}

// Macro is one resolved ${…} block.
type Macro struct {
	Offset int    // character offset of "${" in the text
	Text   string // the block as written, e.g. "${Time.now - 2h}"
	Value  string // what replaced it
	// Literal is a block that is no macro: its inside is inserted as
	// written, as IDM does (a typo, most likely).
	Literal bool
}

// MacroError is a ${…} block Sundial refuses. Offset counts characters from
// 0 in Text.
type MacroError struct {
	Text   string
	Offset int
	Msg    string
}

func (e *MacroError) Error() string {
	return fmt.Sprintf("macro at offset %d of %q: %s", e.Offset, e.Text, e.Msg)
}

// isoMillisUTC is how IDM writes instants: ISO 8601 in UTC with
// milliseconds and a literal Z.
const isoMillisUTC = "2006-01-02T15:04:05.000Z"

// ExpandMacros replaces the ${…} blocks of s as IDM's ConfigMacroUtil does:
// a block ends at the first '}', a "${" after a backslash is left alone (the
// backslash stays), a block starting inside the previous one is left alone,
// and the inside is split on single spaces, each token replaced and the
// results joined:
//
//   - Time.now, optionally followed by the tokens "+" or "-" and N<unit>
//     (s, m, h, d, M, y; N an integer): the instant, shifted, in
//     ISO 8601 UTC with milliseconds ("2024-05-01T10:15:30.123Z"). Days,
//     months and years are calendar arithmetic in c.Zone, a month end
//     clamped (Jan 31 + 1M is Feb 29 in a leap year).
//   - Time.nowWithOffset: the same, written with c.Zone's offset.
//   - taskState.started, taskState.completed: the configured pointers.
//   - any other token is inserted as written, as IDM does.
//
// Where IDM silently reads seconds or drops a token (an unknown unit, a
// missing space as in ${Time.now+1d}, a stray token), Sundial returns a
// *MacroError with the offset of the block.
func ExpandMacros(s string, c MacroContext) (string, []Macro, error) {
	zone := c.Zone
	if zone == nil {
		zone = time.UTC
	}
	var out strings.Builder
	var macros []Macro
	last := 0 // end of the previous block
	for i := 0; ; {
		k := strings.Index(s[i:], "${")
		if k < 0 {
			break
		}
		start := i + k
		i = start + 1
		if start > 0 && s[start-1] == '\\' || start < last {
			continue
		}
		end := strings.IndexByte(s[start:], '}')
		if end < 0 {
			break
		}
		end += start + 1
		block := s[start:end]
		at := utf8.RuneCountInString(s[:start])
		value, literal, msg := expandBlock(block[2:len(block)-1], c, zone)
		if msg != "" {
			return "", nil, &MacroError{Text: s, Offset: at, Msg: block + ": " + msg}
		}
		out.WriteString(s[last:start])
		out.WriteString(value)
		macros = append(macros, Macro{Offset: at, Text: block, Value: value, Literal: literal})
		last = end
		i = end
	}
	out.WriteString(s[last:])
	return out.String(), macros, nil
}

// expandBlock resolves the inside of one ${…} block, or says what is wrong;
// literal reports that no token was a macro.
func expandBlock(inner string, c MacroContext, zone *time.Location) (value string, literal bool, msg string) {
	// Java's split drops trailing empty tokens.
	tokens := strings.Split(inner, " ")
	for len(tokens) > 0 && tokens[len(tokens)-1] == "" {
		tokens = tokens[:len(tokens)-1]
	}
	var b strings.Builder
	literal = true
	for i := 0; i < len(tokens); i++ {
		tok := tokens[i]
		switch {
		case tok == "Time.now" || tok == "Time.nowWithOffset":
			t := c.Now
			if i+1 < len(tokens) {
				op := tokens[i+1]
				if op != "+" && op != "-" {
					return "", false, fmt.Sprintf("%q after %s: expected + or -", op, tok)
				}
				if i+2 >= len(tokens) {
					return "", false, fmt.Sprintf("%s %s needs an amount, e.g. 1d", tok, op)
				}
				var msg string
				if t, msg = shiftTime(t, op, tokens[i+2], zone); msg != "" {
					return "", false, msg
				}
				i += 2
			}
			if i+1 < len(tokens) {
				return "", false, fmt.Sprintf("%q after the time: a block holds one ${%s ± N<unit>}", tokens[i+1], tok)
			}
			literal = false
			if tok == "Time.now" {
				b.WriteString(t.UTC().Format(isoMillisUTC))
			} else {
				b.WriteString(t.In(zone).Format("2006-01-02T15:04:05.000Z07:00"))
			}
		case strings.HasPrefix(tok, "Time.now"):
			return "", false, fmt.Sprintf("unknown token %q: write ${Time.now}, or ${Time.now + 1d} with single spaces around + or -", tok)
		case tok == "taskState.started" || tok == "taskState.completed":
			ptr := c.TaskStateStarted
			if tok == "taskState.completed" {
				ptr = c.TaskStateCompleted
			}
			if ptr == "" {
				return "", false, tok + " is not configured (scan.taskState)"
			}
			b.WriteString(ptr)
			literal = false
		default:
			b.WriteString(tok)
		}
	}
	return b.String(), literal, ""
}

// shiftTime adds (op "+") or subtracts N<unit> to t: seconds, minutes and
// hours as durations, days as calendar days in zone, months and years with
// the day clamped to the end of the month.
func shiftTime(t time.Time, op, amount string, zone *time.Location) (time.Time, string) {
	if amount == "" {
		return t, "empty amount"
	}
	unit := amount[len(amount)-1]
	n64, ok := parseJavaInt(amount[:len(amount)-1], 32)
	if !ok {
		return t, fmt.Sprintf("amount %q: expected an integer and a unit (s, m, h, d, M, y), e.g. 1d", amount)
	}
	n := int(n64)
	if op == "-" {
		n = -n
	}
	switch unit {
	case 's':
		return t.Add(time.Duration(n) * time.Second), ""
	case 'm':
		return t.Add(time.Duration(n) * time.Minute), ""
	case 'h':
		return t.Add(time.Duration(n) * time.Hour), ""
	case 'd':
		l := t.In(zone)
		return time.Date(l.Year(), l.Month(), l.Day()+n, l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), zone), ""
	case 'M':
		return addMonths(t.In(zone), n), ""
	case 'y':
		return addMonths(t.In(zone), 12*n), ""
	}
	return t, fmt.Sprintf("unknown unit %q in %q: use s, m, h, d, M or y (IDM would read seconds)", unit, amount)
}

// addMonths is calendar month arithmetic with the day clamped to the end of
// the target month (Jan 31 + 1 month = Feb 28 or 29).
func addMonths(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	first := time.Date(y, m+time.Month(n), 1, 0, 0, 0, 0, time.UTC) // normalises the month
	last := time.Date(first.Year(), first.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
	return time.Date(first.Year(), first.Month(), min(d, last), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
}
