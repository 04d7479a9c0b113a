// Package query owns the CREST _queryFilter language that ForgeRock IDM
// speaks in task scanners, scheduler REST queries and managed-object queries:
// its parser, its canonical form, its in-memory matcher and the ${…} macros
// of task-scan configurations. It follows ForgeRock's code exactly, quirks
// included (commons QueryFilterParser and JsonPointer for the syntax, OpenIDM's
// JsonValueFilterVisitor for matching).
//
// # Syntax
//
// Parse reads a filter into a Filter tree whose nodes carry their character
// offset; Filter.String gives ForgeRock's canonical form. The rules:
//
//   - Only the space character separates tokens; '(' and ')' are tokens of
//     their own, and a quoted string ends at its closing quote. TAB, newline
//     and NBSP are part of a token.
//   - or < and < ! < primary. "!" must stand alone before a primary, so
//     "!/a pr" is a field named "!/a". and, or, true, false, pr and the
//     operators are case-insensitive (Java equalsIgnoreCase).
//   - Operators: eq co sw gt ge lt le pr, and any other [a-zA-Z_0-9.]+ token
//     is an extended operator, kept as written.
//   - Values: "…" or '…' strings (a backslash keeps the next character
//     literally), true/false, a Java double if the token contains '.',
//     otherwise a Java long. There is no null literal; 1e5 is invalid.
//   - Fields are ForgeRock JSON pointers: split on '/', a leading '/'
//     optional, one trailing '/' dropped, each token percent-decoded as a URI
//     fragment (not RFC 6901: ~0 and ~1 are literal).
//   - At most 63 nested parentheses.
//
// Errors are *SyntaxError values naming the character offset (in Unicode
// code points from 0) and what was expected.
//
// # Matching
//
// Compile turns a Filter into a Program: one expr-lang/expr program per
// filter, compiled once, whose environment is the object. The VM reads the
// object's members; custom functions follow the rest of each field and do
// the CREST comparisons; the and/or/not structure is expr's, but for a
// group of tests of one field (!(/inactiveDate pr) or /inactiveDate ge …),
// which is one function of that field's value. A member that several tests
// read (/sunset of /sunset/date and /sunset/task-completed) is read once
// per object, into an expr variable. A Program is safe for concurrent use;
// a Matcher (one per goroutine) evaluates it without allocating.
//
// Objects are map[string]any as decoded by encoding/json: map[string]any,
// []any, string, bool, nil, and numbers as float64 or json.Number (decode
// with Decoder.UseNumber to keep IDM's view of numbers that float64 cannot
// hold: the JSON integer -0 is 0 and 1e400 is Infinity; plain float64
// decoding turns -0 into -0.0). Other Go integer and float types are read as
// numbers too. The semantics are IDM's:
//
//   - an array value matches if any element matches (one level deep);
//   - the types must agree (string/string, number/number, boolean/boolean);
//   - eq, gt, ge, lt and le compare strings with Java's compareToIgnoreCase,
//     numbers as doubles with Double.compareTo (-0.0 < 0), false < true;
//   - co and sw lower-case both strings with Java's toLowerCase(Locale.ENGLISH)
//     (İ becomes i + U+0307, a final Σ becomes ς); on numbers and booleans
//     they mean equality;
//   - pr is true when the value exists and is not null;
//   - extended operators are false.
//
// # Macros
//
// ExpandMacros resolves ${Time.now}, ${Time.now ± N<unit>},
// ${Time.nowWithOffset} and ${taskState.started|completed} against one
// instant, the way IDM expands a task-scan configuration before it parses
// the filter.
package query
