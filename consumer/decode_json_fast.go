package consumer

import (
	"bytes"
	"unicode/utf8"

	"github.com/msixguard/msixguard/event"
)

// The fast path for normalized JSON: most normalized records are one flat
// object of strings and numbers, and for those fastjson's tree, its lazy
// unescaping and the generic mapping cost two thirds of the decode. The
// fast path scans such a record once and maps it with the same rules as
// jsonDecoder.normalized, and declines everything else - nested values,
// escapes in a key or in a kept string, anything that would be an error -
// to the fastjson path, which stays the reference: FuzzJSONFastPath fails
// if the fast path accepts a record the reference rejects or reads it
// differently.

// flatMember is one member of a flat object: a raw key (no escapes) and a
// raw value.
type flatMember struct {
	key, val []byte
	kind     byte // flatString (val is the text between the quotes), flatEscaped, flatNumber, flatTrue, flatFalse, flatNull
}

const (
	flatString  = 's'
	flatEscaped = 'e' // a string with escapes: fine to skip, declined if kept
	flatNumber  = 'n'
	flatTrue    = 't'
	flatFalse   = 'f'
	flatNull    = 'z'
)

// maxFlatMembers bounds the members the fast path takes; larger records
// go the reference way.
const maxFlatMembers = 64

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipJSONSpace(b []byte, i int) int {
	for i < len(b) && isJSONSpace(b[i]) {
		i++
	}
	return i
}

// scanFlatObject splits b, a whole record, into the members of one flat
// JSON object, appended to out. ok is false for anything else, and for
// anything it does not read exactly as fastjson would.
func scanFlatObject(b []byte, out []flatMember) (_ []flatMember, ok bool) {
	i := skipJSONSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return out, false
	}
	i = skipJSONSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return out, skipJSONSpace(b, i+1) == len(b)
	}
	for {
		if len(out) == maxFlatMembers || i >= len(b) || b[i] != '"' {
			return out, false
		}
		// The key: declined when it has an escape.
		n := bytes.IndexByte(b[i+1:], '"')
		if n < 0 {
			return out, false
		}
		key := b[i+1 : i+1+n]
		if bytes.IndexByte(key, '\\') >= 0 {
			return out, false
		}
		i = skipJSONSpace(b, i+2+n)
		if i >= len(b) || b[i] != ':' {
			return out, false
		}
		i = skipJSONSpace(b, i+1)
		if i >= len(b) {
			return out, false
		}
		m := flatMember{key: key}
		switch c := b[i]; {
		case c == '"':
			end, escaped, ok := scanJSONString(b, i+1)
			if !ok {
				return out, false
			}
			m.val, m.kind = b[i+1:end], flatString
			if escaped {
				m.kind = flatEscaped
			}
			i = end + 1
		case c == '-' || c >= '0' && c <= '9':
			j := i
			for j < len(b) && (b[j] >= '0' && b[j] <= '9' || b[j] == '.' || b[j] == '-' || b[j] == '+' || b[j] == 'e' || b[j] == 'E') {
				j++
			}
			if !validJSONNumber(b[i:j]) {
				return out, false
			}
			m.val, m.kind = b[i:j], flatNumber
			i = j
		case bytes.HasPrefix(b[i:], []byte("true")):
			m.val, m.kind = b[i:i+4], flatTrue
			i += 4
		case bytes.HasPrefix(b[i:], []byte("false")):
			m.val, m.kind = b[i:i+5], flatFalse
			i += 5
		case bytes.HasPrefix(b[i:], []byte("null")):
			m.val, m.kind = b[i:i+4], flatNull
			i += 4
		default: // an object, an array, or not JSON
			return out, false
		}
		out = append(out, m)
		i = skipJSONSpace(b, i)
		if i >= len(b) {
			return out, false
		}
		switch b[i] {
		case ',':
			i = skipJSONSpace(b, i+1)
		case '}':
			return out, skipJSONSpace(b, i+1) == len(b)
		default:
			return out, false
		}
	}
}

// scanJSONString finds the closing quote of a string whose text starts at
// b[start]: the first quote after an even number of backslashes, as
// fastjson reads it. escaped tells whether the text holds any backslash.
func scanJSONString(b []byte, start int) (end int, escaped, ok bool) {
	i := start
	for {
		n := bytes.IndexByte(b[i:], '"')
		if n < 0 {
			return 0, false, false
		}
		end = i + n
		k := end
		for k > start && b[k-1] == '\\' {
			k--
		}
		if (end-k)%2 == 0 {
			return end, bytes.IndexByte(b[start:end], '\\') >= 0, true
		}
		i = end + 1
	}
}

// fastNormalized decodes a flat normalized record. handled is false when
// the record is not one the fast path takes; d.b then holds partial state
// and the caller starts over on the reference path.
func (d *jsonDecoder) fastNormalized(value []byte) (handled bool) {
	ms, ok := scanFlatObject(value, d.flat[:0])
	d.flat = ms[:0]
	if !ok {
		return false
	}
	var tm, tmAlias, code, codeAlias, dvc, dvcAlias, uid, uidAlias, moniker *flatMember
	pickFirst := func(dst **flatMember, m *flatMember) {
		if *dst == nil {
			*dst = m
		}
	}
	for i := range ms {
		m := &ms[i]
		if d.format == FormatAuto && string(m.key) == "@timestamp" {
			return false // maybe ECS: the reference decides
		}
		if m.kind == flatNull {
			continue // null is missing
		}
		switch string(m.key) {
		case keyTime:
			pickFirst(&tm, m)
		case aliasTime:
			pickFirst(&tmAlias, m)
		case keyEventCode:
			pickFirst(&code, m)
		case aliasEventCode:
			pickFirst(&codeAlias, m)
		case keyDvc:
			pickFirst(&dvc, m)
		case aliasDvc:
			pickFirst(&dvcAlias, m)
		case keyUserID:
			pickFirst(&uid, m)
		case aliasUserID:
			pickFirst(&uidAlias, m)
		case event.FieldPackageMoniker:
			pickFirst(&moniker, m)
		default:
			if !d.fastOther(m) {
				return false
			}
		}
	}
	if tm == nil {
		tm = tmAlias
	}
	if tm == nil || (tm.kind != flatString && tm.kind != flatNumber) {
		return false
	}
	t, err := parseTime(tm.val)
	if err != nil {
		return false
	}
	d.b.time = t
	for _, c := range [...]struct {
		slot int
		m    *flatMember
	}{
		{slotEventCode, firstOf(code, codeAlias)}, {slotDvc, firstOf(dvc, dvcAlias)},
		{slotUserID, firstOf(uid, uidAlias)}, {slotPackageMoniker, moniker},
	} {
		if c.m == nil || !d.b.filter.canon[c.slot] {
			continue
		}
		kind := valueCanonical
		if c.slot == slotEventCode {
			kind = valueEventCode
		}
		if !d.fastScalar(slotNames[c.slot], nil, c.m, kind) {
			return false
		}
	}
	return true
}

func firstOf(a, b *flatMember) *flatMember {
	if a != nil {
		return a
	}
	return b
}

// fastOther is jsonDecoder.other for a flat member.
func (d *jsonDecoder) fastOther(m *flatMember) bool {
	if len(m.key) == 0 {
		return true
	}
	static, ok := d.b.filter.want(m.key)
	if !ok {
		return true
	}
	var nameBytes []byte
	if static == "" {
		if !utf8.Valid(m.key) {
			return false
		}
		nameBytes = m.key
	}
	return d.fastScalar(static, nameBytes, m, valueOther)
}

// fastScalar is jsonDecoder.scalar for a flat member; it declines what
// the reference would refuse.
func (d *jsonDecoder) fastScalar(name string, nameBytes []byte, m *flatMember, kind int) bool {
	b := &d.b
	vm := b.valueStart(name, nameBytes)
	switch m.kind {
	case flatString:
		if !utf8.Valid(m.val) {
			return false
		}
		if kind == valueEventCode {
			b.buf = appendEventCode(b.buf, m.val)
		} else {
			b.buf = append(b.buf, m.val...)
		}
	case flatNumber:
		if kind == valueEventCode {
			b.buf = appendEventCode(b.buf, m.val)
		} else {
			b.buf = append(b.buf, m.val...)
		}
	case flatTrue:
		b.buf = append(b.buf, "true"...)
	case flatFalse:
		b.buf = append(b.buf, "false"...)
	default: // flatEscaped: the reference unescapes it
		return false
	}
	return b.valueEnd(vm, kind != valueOther)
}
