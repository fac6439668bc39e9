package consumer

import (
	"bytes"
	"unicode/utf8"

	"github.com/msixguard/msixguard/event"
)

// xmlScanner is the fast path of the XML decoder. encoding/xml costs about
// 20 µs and a hundred allocations for a 1 KB Windows event (a token, a name
// string and an attribute slice per tag), twenty times the JSON decoder.
// The scanner reads the same records from the bytes, with no allocation,
// for the plain subset real XmlWinEventLog records use: ASCII names without
// namespace prefixes, quoted attributes, text with the predefined entities
// and character references, no CR, no declaration, comment, CDATA or
// DOCTYPE. Anything else, and every record that would be an error, makes it
// decline; the encoding/xml walk then decides, so the fast path never has
// to reproduce an error. FuzzXMLFastPath holds it to the walk's result.
type xmlScanner struct {
	stack [maxXMLDepth][]byte
	elem  xmlElem
	vals  []byte // decoded attribute values of the current tag
}

// decode fills ev from value (trimmed, non-empty) and returns true, or
// returns false for the encoding/xml walk to decide; d.b and ev are then
// to be reset.
func (x *xmlScanner) decode(d *xmlDecoder, v []byte, ev *event.Event) bool {
	if !plainXMLChars(v) {
		return false
	}
	st := xmlState{d: d}
	depth, tokens := 0, 0
	seenEvent, doneEvent := false, false
	// end closes the innermost element (an end tag, or "/>").
	end := func() bool {
		tokens++
		if st.end(depth) != nil {
			return false
		}
		depth--
		doneEvent = depth == 0
		return true
	}
	for i := 0; i < len(v); {
		// Two below the limit: the walk counts a little differently
		// around the end, and declining is always safe.
		if tokens > maxXMLTokens-2 {
			return false
		}
		if v[i] != '<' {
			j := bytes.IndexByte(v[i:], '<')
			if j < 0 {
				j = len(v)
			} else {
				j += i
			}
			text := v[i:j]
			tokens++
			switch {
			case depth == 0:
				if !xmlSpaceOnly(text) {
					return false
				}
			case depth == st.collectDepth:
				var ok bool
				if d.b.buf, ok = appendXMLText(d.b.buf, text, false); !ok {
					return false
				}
			default:
				if !x.validText(text) {
					return false
				}
			}
			i = j
			continue
		}
		if i+1 >= len(v) {
			return false
		}
		switch v[i+1] {
		case '?', '!':
			return false
		case '/':
			name, k := scanXMLName(v, i+2)
			if name == nil {
				return false
			}
			k = skipXMLSpace(v, k)
			if k >= len(v) || v[k] != '>' || depth == 0 || !bytes.Equal(x.stack[depth-1], name) || !end() {
				return false
			}
			i = k + 1
		default:
			name, k := scanXMLName(v, i+1)
			if name == nil || doneEvent || depth == maxXMLDepth {
				return false
			}
			k, empty, ok := x.attrs(v, k)
			if !ok {
				return false
			}
			x.elem.local = name
			tokens++
			x.stack[depth] = name
			depth++
			if depth == 1 {
				if string(name) != "Event" {
					return false
				}
				seenEvent = true
			} else if st.start(depth, &x.elem) != nil {
				return false
			}
			if empty && !end() {
				return false
			}
			i = k
		}
	}
	if depth > 0 || !seenEvent {
		return false
	}
	return st.finish(ev) == nil
}

// attrs reads the attributes of a start tag from v[k:] up to its '>' into
// x.elem.attrs, and returns where the tag ends and whether it was "/>".
func (x *xmlScanner) attrs(v []byte, k int) (end int, empty, ok bool) {
	x.elem.attrs = x.elem.attrs[:0]
	x.vals = x.vals[:0]
	for {
		k = skipXMLSpace(v, k)
		if k >= len(v) {
			return 0, false, false
		}
		switch v[k] {
		case '>':
			return k + 1, false, true
		case '/':
			if k+1 < len(v) && v[k+1] == '>' {
				return k + 2, true, true
			}
			return 0, false, false
		}
		name, n := scanXMLName(v, k)
		if name == nil {
			return 0, false, false
		}
		k = skipXMLSpace(v, n)
		if k >= len(v) || v[k] != '=' {
			return 0, false, false
		}
		k = skipXMLSpace(v, k+1)
		if k >= len(v) || v[k] != '"' && v[k] != '\'' {
			return 0, false, false
		}
		e := bytes.IndexByte(v[k+1:], v[k])
		if e < 0 {
			return 0, false, false
		}
		raw := v[k+1 : k+1+e]
		k += e + 2
		if bytes.IndexByte(raw, '<') >= 0 {
			return 0, false, false
		}
		val := raw
		if bytes.IndexByte(raw, '&') >= 0 {
			off := len(x.vals)
			if x.vals, ok = appendXMLText(x.vals, raw, true); !ok {
				return 0, false, false
			}
			// A later append may move x.vals; this slice keeps the old
			// array, whose bytes stay as written.
			val = x.vals[off:len(x.vals):len(x.vals)]
		}
		x.elem.attrs = append(x.elem.attrs, xmlAttr{local: name, value: val})
	}
}

// validText tells whether text that is not kept would still pass the walk:
// its entities resolve and it has no "]]>".
func (x *xmlScanner) validText(text []byte) bool {
	if bytes.IndexByte(text, '&') < 0 {
		return !bytes.Contains(text, []byte("]]>"))
	}
	var ok bool
	x.vals, ok = appendXMLText(x.vals[:0], text, false)
	return ok
}

// plainXMLChars tells whether every byte of v is one the fast path handles
// like encoding/xml does: valid UTF-8 inside the XML character range, and
// no CR (which the walk rewrites) or other control character.
func plainXMLChars(v []byte) bool {
	high := false
	for _, c := range v {
		if c < 0x20 && c != '\t' && c != '\n' {
			return false
		}
		if c >= utf8.RuneSelf {
			high = true
		}
	}
	if !high {
		return true
	}
	// U+FFFE and U+FFFF are valid UTF-8 but not XML characters.
	return utf8.Valid(v) && !bytes.Contains(v, []byte("\xEF\xBF\xBE")) && !bytes.Contains(v, []byte("\xEF\xBF\xBF"))
}

// appendXMLText appends text with its entities decoded, or returns false
// when the walk could decode it differently or not at all: an entity other
// than the five predefined ones and character references, a reference to
// a character outside the XML range, or "]]>" outside an attribute.
func appendXMLText(dst, text []byte, attr bool) ([]byte, bool) {
	if !attr && bytes.Contains(text, []byte("]]>")) {
		return dst, false
	}
	for {
		i := bytes.IndexByte(text, '&')
		if i < 0 {
			return append(dst, text...), true
		}
		dst = append(dst, text[:i]...)
		text = text[i+1:]
		r, n := xmlEntity(text)
		if n == 0 {
			return dst, false
		}
		dst = utf8.AppendRune(dst, r)
		text = text[n:]
	}
}

// xmlEntity decodes the entity after a '&': the character and how many
// bytes it used, ';' included; n == 0 when the fast path declines it.
func xmlEntity(b []byte) (r rune, n int) {
	for _, e := range [...]struct {
		name string
		r    rune
	}{{"lt;", '<'}, {"gt;", '>'}, {"amp;", '&'}, {"apos;", '\''}, {"quot;", '"'}} {
		if bytes.HasPrefix(b, []byte(e.name)) {
			return e.r, len(e.name)
		}
	}
	if len(b) < 3 || b[0] != '#' {
		return 0, 0
	}
	i, base := 1, rune(10)
	if b[1] == 'x' { // encoding/xml knows only the lower-case x
		i, base = 2, 16
	}
	start := i
	for ; i < len(b) && b[i] != ';'; i++ {
		var d rune
		switch c := b[i]; {
		case '0' <= c && c <= '9':
			d = rune(c - '0')
		case base == 16 && 'a' <= c && c <= 'f':
			d = rune(c-'a') + 10
		case base == 16 && 'A' <= c && c <= 'F':
			d = rune(c-'A') + 10
		default:
			return 0, 0
		}
		if r = r*base + d; r > utf8.MaxRune {
			return 0, 0
		}
	}
	if i == start || i == len(b) {
		return 0, 0
	}
	// encoding/xml writes string(rune(n)): a surrogate becomes U+FFFD.
	if !utf8.ValidRune(r) {
		r = utf8.RuneError
	}
	if !xmlCharInRange(r) {
		return 0, 0
	}
	return r, i + 1
}

// xmlCharInRange is the Char production of XML 1.0, as encoding/xml checks it.
func xmlCharInRange(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// scanXMLName reads a name at v[k:] and returns it and where it ends; nil
// when there is none or it is not a plain ASCII name without a prefix
// (names with ':' or non-ASCII letters go to the walk).
func scanXMLName(v []byte, k int) ([]byte, int) {
	start := k
	for ; k < len(v); k++ {
		c := v[k]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_':
		case '0' <= c && c <= '9', c == '.', c == '-':
			if k == start {
				return nil, 0
			}
		case c == ':', c >= utf8.RuneSelf:
			return nil, 0
		default:
			if k == start {
				return nil, 0
			}
			return v[start:k], k
		}
	}
	return nil, 0 // the record ends inside a name
}

func skipXMLSpace(v []byte, k int) int {
	for k < len(v) && (v[k] == ' ' || v[k] == '\t' || v[k] == '\n') {
		k++
	}
	return k
}

func xmlSpaceOnly(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' {
			return false
		}
	}
	return true
}
