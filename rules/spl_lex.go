package rules

import (
	"fmt"
	"strings"
)

// SPLError is a part of a Splunk search outside the subset msixguard
// compiles (docs/rules.md, "SPL subset"). The importer never approximates:
// it names the exact fragment and where it starts.
type SPLError struct {
	Pos      int    // byte offset of Fragment in the search string
	Fragment string // the unsupported text, exactly as written
	Reason   string
}

func (e *SPLError) Error() string {
	return fmt.Sprintf("SPL byte %d: %q: %s", e.Pos, e.Fragment, e.Reason)
}

// splTokKind is the kind of a lexical token of a search.
type splTokKind int

const (
	tokEOF    splTokKind = iota
	tokWord              // unquoted run: field names, keywords, values
	tokQuoted            // "…": Text holds the value without quotes and escapes
	tokMacro             // `…`: Text holds the macro call without backticks
	tokLParen
	tokRParen
	tokComma
	tokEq   // =
	tokNeq  // !=
	tokCmp  // < > <= >= (never supported)
	tokPipe // |
)

// splTok is one token; Pos and End are byte offsets in the whole search.
type splTok struct {
	Kind     splTokKind
	Text     string
	Pos, End int
}

// splLex splits a search into tokens. Quotes and backticks are matched
// here, so a | inside them never separates commands.
func splLex(s string) ([]splTok, error) {
	var out []splTok
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			out = append(out, splTok{tokLParen, "(", i, i + 1})
			i++
		case c == ')':
			out = append(out, splTok{tokRParen, ")", i, i + 1})
			i++
		case c == ',':
			out = append(out, splTok{tokComma, ",", i, i + 1})
			i++
		case c == '|':
			out = append(out, splTok{tokPipe, "|", i, i + 1})
			i++
		case c == '=':
			if strings.HasPrefix(s[i:], "==") {
				return nil, &SPLError{i, "==", "== is an eval comparison; the search command uses ="}
			}
			out = append(out, splTok{tokEq, "=", i, i + 1})
			i++
		case c == '!' && strings.HasPrefix(s[i:], "!="):
			out = append(out, splTok{tokNeq, "!=", i, i + 2})
			i += 2
		case c == '<' || c == '>':
			n := 1
			if i+1 < len(s) && s[i+1] == '=' {
				n = 2
			}
			out = append(out, splTok{tokCmp, s[i : i+n], i, i + n})
			i += n
		case c == '"':
			var b strings.Builder
			j := i + 1
			closed := false
			for j < len(s) {
				if s[j] == '\\' && j+1 < len(s) && (s[j+1] == '"' || s[j+1] == '\\') {
					b.WriteByte(s[j+1])
					j += 2
					continue
				}
				if s[j] == '\\' && j+1 < len(s) && s[j+1] == '*' {
					return nil, &SPLError{j, s[j : j+2], `an escaped asterisk (literal "*") is not supported: msixguard patterns treat every * as a wildcard`}
				}
				if s[j] == '"' {
					closed = true
					break
				}
				b.WriteByte(s[j])
				j++
			}
			if !closed {
				return nil, &SPLError{i, s[i:], "unterminated quoted string"}
			}
			out = append(out, splTok{tokQuoted, b.String(), i, j + 1})
			i = j + 1
		case c == '`':
			j := strings.IndexByte(s[i+1:], '`')
			if j < 0 {
				return nil, &SPLError{i, s[i:], "unterminated macro (missing closing backtick)"}
			}
			out = append(out, splTok{tokMacro, strings.TrimSpace(s[i+1 : i+1+j]), i, i + j + 2})
			i += j + 2
		default:
			j := i
			for j < len(s) {
				d := s[j]
				if d == ' ' || d == '\t' || d == '\n' || d == '\r' || d == '(' || d == ')' || d == ',' ||
					d == '|' || d == '=' || d == '"' || d == '`' || d == '<' || d == '>' ||
					d == '!' && j+1 < len(s) && s[j+1] == '=' {
					break
				}
				j++
			}
			if k := strings.Index(s[i:j], `\*`); k >= 0 {
				return nil, &SPLError{i + k, `\*`, `an escaped asterisk (literal "*") is not supported: msixguard patterns treat every * as a wildcard`}
			}
			out = append(out, splTok{tokWord, s[i:j], i, j})
			i = j
		}
	}
	out = append(out, splTok{Kind: tokEOF, Pos: len(s), End: len(s)})
	return out, nil
}

// splSegments splits tokens at top-level pipes. Each segment ends with a
// tokEOF placed where it ends (at the next pipe or the end of the search),
// so parsers need no bounds checks; pipes[i] is the offset of the pipe
// before segs[i+1].
func splSegments(toks []splTok) (segs [][]splTok, pipes []int) {
	start := 0
	for i, t := range toks {
		if t.Kind == tokPipe || t.Kind == tokEOF {
			seg := append([]splTok(nil), toks[start:i]...)
			seg = append(seg, splTok{Kind: tokEOF, Pos: t.Pos, End: t.Pos})
			segs = append(segs, seg)
			start = i + 1
			if t.Kind == tokPipe {
				pipes = append(pipes, t.Pos)
			}
		}
	}
	return segs, pipes
}
