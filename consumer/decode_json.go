package consumer

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/msixguard/msixguard/event"
)

// jsonDecoder decodes normalized JSON (FormatJSON), ECS JSON (FormatECS),
// or, with FormatAuto, either one, told apart from the parsed object.
//
// fastjson parses into a reusable tree, so after warm-up a record costs no
// allocation but the one string of kept values (see eventBuilder). fastjson
// is lenient in places (unknown string escapes are kept verbatim, numbers
// are scanned loosely); every number a decoder reads is checked against the
// JSON grammar, and every kept string for valid UTF-8.
type jsonDecoder struct {
	format  Format
	p       fastjson.Parser
	b       eventBuilder
	scratch []byte
	flat    []flatMember // the fast path's members, reused
}

func (d *jsonDecoder) Decode(value []byte, ev *event.Event) error {
	ev.Reset()
	d.b.reset()
	f := d.format
	if f == FormatAuto {
		f = FormatJSON // until the parsed object says ECS
	}
	value = trimRecord(value)
	if len(value) == 0 {
		return decodeErr(f, ReasonEmptyRecord, "record has no content")
	}
	if d.format != FormatECS {
		if d.fastNormalized(value) {
			d.b.flush(ev)
			ev.Time = d.b.time
			return nil
		}
		d.b.reset() // the fast path declined: start over on the reference
	}
	return d.decodeTree(value, ev, f)
}

// decodeTree decodes value with fastjson: the reference path, taken by
// every record the fast path declines (decode_json_fast.go).
func (d *jsonDecoder) decodeTree(value []byte, ev *event.Event, f Format) error {
	if jsonTooDeep(value) {
		return decodeErr(f, ReasonInvalidJSON, "nested deeper than %d levels", maxJSONDepth)
	}
	root, err := d.p.ParseBytes(value)
	if err != nil {
		return decodeErr(f, ReasonInvalidJSON, "%s", jsonSyntaxDetail(err))
	}
	if root.Type() != fastjson.TypeObject {
		return decodeErr(f, ReasonNotAnEvent, "top level is a JSON %s, not an object", root.Type())
	}
	o, _ := root.Object()
	var derr *DecodeError
	switch d.format {
	case FormatECS:
		derr = d.ecs(o)
	case FormatAuto:
		if isECS(o) {
			derr = d.ecs(o)
		} else {
			derr = d.normalized(o)
		}
	default:
		derr = d.normalized(o)
	}
	if derr != nil {
		return derr
	}
	d.b.flush(ev)
	ev.Time = d.b.time
	return nil
}

// maxJSONDepth caps nesting. fastjson's own limit (300) comes too late:
// on a syntax error it wraps its error once per level while unwinding, so a
// record of a few hundred '[' costs milliseconds, and even 64 levels cost
// about 100 µs. Events nest about 5 deep.
const maxJSONDepth = 32

var openBrace, openBracket = []byte{'{'}, []byte{'['}

// jsonTooDeep reports whether value nests objects and arrays deeper than
// maxJSONDepth. Counting the opening bytes (a vectorized scan) settles
// almost every record; only one with more than maxJSONDepth of them is
// walked, skipping strings.
func jsonTooDeep(value []byte) bool {
	if bytes.Count(value, openBrace)+bytes.Count(value, openBracket) <= maxJSONDepth {
		return false
	}
	depth, inString := 0, false
	for i := 0; i < len(value); i++ {
		c := value[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			if depth++; depth > maxJSONDepth {
				return true
			}
		case '}', ']':
			depth--
		}
	}
	return false
}

// jsonSyntaxDetail shortens a fastjson error, which wraps its cause once
// per nesting level ("cannot parse object: cannot parse object value: …"),
// to the innermost cause and the unparsed tail.
func jsonSyntaxDetail(err error) string {
	msg := err.Error()
	head, tail, hasTail := strings.Cut(msg, "; unparsed tail: ")
	for strings.HasPrefix(head, "cannot parse ") {
		_, rest, ok := strings.Cut(head, ": ")
		if !ok {
			break
		}
		head = rest
	}
	if hasTail {
		return head + " at " + tail
	}
	return head
}

// isECS tells an ECS document from a normalized one. A winlog object is
// ECS (Winlogbeat puts the Windows fields there). Otherwise @timestamp means
// ECS only when there is no normalized time: Logstash adds @timestamp to
// every document it ships, normalized ones included, and reading those as
// ECS would lose their EventCode without an error.
func isECS(o *fastjson.Object) bool {
	if w := o.Get("winlog"); w != nil && w.Type() == fastjson.TypeObject {
		return true
	}
	if o.Get(keyTime) != nil || o.Get(aliasTime) != nil {
		return false
	}
	return o.Get("@timestamp") != nil
}

// Normalized JSON keys and their aliases (the raw Windows names).
const (
	keyTime, aliasTime           = "_time", "TimeCreated"
	keyEventCode, aliasEventCode = event.FieldEventCode, "EventID"
	keyDvc, aliasDvc             = event.FieldDvc, "Computer"
	keyUserID, aliasUserID       = event.FieldUserID, "UserID"
)

func (d *jsonDecoder) normalized(o *fastjson.Object) *DecodeError {
	const f = FormatJSON
	// Collect the canonical keys first, so that a canonical name wins over
	// its alias wherever each appears; other keys are kept as they come.
	var (
		tm, tmAlias     *fastjson.Value
		code, codeAlias *fastjson.Value
		dvc, dvcAlias   *fastjson.Value
		uid, uidAlias   *fastjson.Value
		moniker         *fastjson.Value
		err             *DecodeError
	)
	o.Visit(func(key []byte, v *fastjson.Value) {
		if err != nil || v.Type() == fastjson.TypeNull {
			return // null is missing
		}
		switch string(key) {
		case keyTime:
			first(&tm, v)
		case aliasTime:
			first(&tmAlias, v)
		case keyEventCode:
			first(&code, v)
		case aliasEventCode:
			first(&codeAlias, v)
		case keyDvc:
			first(&dvc, v)
		case aliasDvc:
			first(&dvcAlias, v)
		case keyUserID:
			first(&uid, v)
		case aliasUserID:
			first(&uidAlias, v)
		case event.FieldPackageMoniker:
			first(&moniker, v)
		default:
			err = d.other(f, key, v)
		}
	})
	if err != nil {
		return err
	}
	name, tv := keyTime, tm
	if tv == nil {
		name, tv = aliasTime, tmAlias
	}
	if err := d.time(f, name, tv); err != nil {
		return err
	}
	if err := d.canonical(f, slotEventCode, pick(keyEventCode, code, aliasEventCode, codeAlias)); err != nil {
		return err
	}
	if err := d.canonical(f, slotDvc, pick(keyDvc, dvc, aliasDvc, dvcAlias)); err != nil {
		return err
	}
	if err := d.canonical(f, slotUserID, pick(keyUserID, uid, aliasUserID, uidAlias)); err != nil {
		return err
	}
	return d.canonical(f, slotPackageMoniker, namedValue{event.FieldPackageMoniker, moniker})
}

// first keeps the first non-null value of a key that appears more than once.
func first(dst **fastjson.Value, v *fastjson.Value) {
	if *dst == nil {
		*dst = v
	}
}

// namedValue is a value and the key it came from, for error details.
type namedValue struct {
	key string
	v   *fastjson.Value
}

func pick(key string, v *fastjson.Value, alias string, av *fastjson.Value) namedValue {
	if v != nil {
		return namedValue{key, v}
	}
	return namedValue{alias, av}
}

// ecs maps a Winlogbeat / Elastic Agent document.
func (d *jsonDecoder) ecs(o *fastjson.Object) *DecodeError {
	const f = FormatECS
	winlog, err := childObject(f, o, "winlog", "winlog")
	if err != nil {
		return err
	}
	if err := d.time(f, "@timestamp", nonNull(o.Get("@timestamp"))); err != nil {
		return err
	}
	code := namedValue{"winlog.event_id", get(winlog, "event_id")}
	if code.v == nil {
		ev, err := childObject(f, o, "event", "event")
		if err != nil {
			return err
		}
		code = namedValue{"event.code", get(ev, "code")}
	}
	if err := d.canonical(f, slotEventCode, code); err != nil {
		return err
	}
	dvc := namedValue{"winlog.computer_name", get(winlog, "computer_name")}
	if dvc.v == nil {
		host, err := childObject(f, o, "host", "host")
		if err != nil {
			return err
		}
		dvc = namedValue{"host.name", get(host, "name")}
	}
	if err := d.canonical(f, slotDvc, dvc); err != nil {
		return err
	}
	user, err := childObject(f, winlog, "user", "winlog.user")
	if err != nil {
		return err
	}
	if err := d.canonical(f, slotUserID, namedValue{"winlog.user.identifier", get(user, "identifier")}); err != nil {
		return err
	}
	if err := d.fixed(f, "Channel", "winlog.channel", get(winlog, "channel")); err != nil {
		return err
	}
	if err := d.fixed(f, "Provider", "winlog.provider_name", get(winlog, "provider_name")); err != nil {
		return err
	}
	for _, section := range [...]struct{ key, path string }{
		{"event_data", "winlog.event_data"}, {"user_data", "winlog.user_data"},
	} {
		data, err := childObject(f, winlog, section.key, section.path)
		if err != nil {
			return err
		}
		if data == nil {
			continue
		}
		var derr *DecodeError
		data.Visit(func(key []byte, v *fastjson.Value) {
			if derr != nil || v.Type() == fastjson.TypeNull {
				return
			}
			if string(key) == event.FieldPackageMoniker {
				derr = d.canonical(f, slotPackageMoniker, namedValue{event.FieldPackageMoniker, v})
				return
			}
			if reservedField(key, true) {
				return
			}
			derr = d.other(f, key, v)
		})
		if derr != nil {
			return derr
		}
	}
	return nil
}

// childObject returns o[key] as an object: nil when o is nil or the key is
// missing or null, an error when it is something else.
func childObject(f Format, o *fastjson.Object, key, path string) (*fastjson.Object, *DecodeError) {
	v := get(o, key)
	if v == nil {
		return nil, nil
	}
	if v.Type() != fastjson.TypeObject {
		return nil, decodeErr(f, ReasonBadFieldType, "%s is a %s, want an object", path, v.Type())
	}
	c, _ := v.Object()
	return c, nil
}

// get returns o[key], or nil when o is nil or the value is missing or null.
func get(o *fastjson.Object, key string) *fastjson.Value {
	if o == nil {
		return nil
	}
	return nonNull(o.Get(key))
}

func nonNull(v *fastjson.Value) *fastjson.Value {
	if v == nil || v.Type() == fastjson.TypeNull {
		return nil
	}
	return v
}

// time sets the event time from a string (RFC 3339 or epoch text) or a
// number (epoch seconds).
func (d *jsonDecoder) time(f Format, key string, v *fastjson.Value) *DecodeError {
	if v == nil {
		return decodeErr(f, ReasonMissingTime, "no %s field", timeKeys(f))
	}
	var text []byte
	switch v.Type() {
	case fastjson.TypeString:
		text, _ = v.StringBytes()
	case fastjson.TypeNumber:
		d.scratch = v.MarshalTo(d.scratch[:0])
		text = d.scratch
		if !validJSONNumber(text) {
			return decodeErr(f, ReasonInvalidJSON, "%s: malformed number %s", key, quoteDetail(text))
		}
	default:
		return decodeErr(f, ReasonBadFieldType, "%s is a %s, want a string or number", key, v.Type())
	}
	t, err := parseTime(text)
	if err != nil {
		return decodeErr(f, ReasonBadTime, "%s %s: %s", key, quoteDetail(text), err)
	}
	d.b.time = t
	return nil
}

func timeKeys(f Format) string {
	if f == FormatECS {
		return "@timestamp"
	}
	return "_time or TimeCreated"
}

// canonical keeps a canonical field: EventCode, dvc and user_id take one
// scalar; PackageMoniker also takes an array of scalars (a multivalue
// field).
func (d *jsonDecoder) canonical(f Format, slot int, nv namedValue) *DecodeError {
	if nv.v == nil || !d.b.filter.canon[slot] {
		return nil
	}
	name, kind := slotNames[slot], valueCanonical
	if slot == slotEventCode {
		kind = valueEventCode
	}
	if nv.v.Type() == fastjson.TypeArray && slot == slotPackageMoniker {
		items, _ := nv.v.Array()
		for _, it := range items {
			if err := d.scalar(f, name, nil, nv.key, it, kind); err != nil {
				return err
			}
		}
		return nil
	}
	return d.scalar(f, name, nil, nv.key, nv.v, kind)
}

// fixed keeps a non-canonical field with a fixed name (ECS Channel,
// Provider) when the filter wants it.
func (d *jsonDecoder) fixed(f Format, name, key string, v *fastjson.Value) *DecodeError {
	if v == nil {
		return nil
	}
	if !d.b.filter.wantName(name) {
		return nil
	}
	return d.scalar(f, name, nil, key, v, valueOther)
}

// other keeps a field found under its own key, when the filter wants it. A
// scalar or an array of scalars is kept; anything else is an error when the
// field was asked for by name, and skipped when every field is kept.
func (d *jsonDecoder) other(f Format, key []byte, v *fastjson.Value) *DecodeError {
	if len(key) == 0 {
		return nil
	}
	static, ok := d.b.filter.want(key)
	if !ok {
		return nil
	}
	t := v.Type()
	if t == fastjson.TypeObject || t == fastjson.TypeArray && !scalarArray(v) {
		if static == "" {
			return nil // keeping all scalar fields: this one is not
		}
		return decodeErr(f, ReasonBadFieldType, "%s is a %s, want a scalar", static, t)
	}
	var nameBytes []byte
	if static == "" {
		if !utf8.Valid(key) {
			return decodeErr(f, ReasonInvalidUTF8, "field name %s is not valid UTF-8", quoteDetail(key))
		}
		nameBytes = key
	}
	if t == fastjson.TypeArray {
		items, _ := v.Array()
		for _, it := range items {
			if err := d.scalar(f, static, nameBytes, static, it, valueOther); err != nil {
				return err
			}
		}
		return nil
	}
	return d.scalar(f, static, nameBytes, static, v, valueOther)
}

func scalarArray(v *fastjson.Value) bool {
	items, _ := v.Array()
	for _, it := range items {
		if t := it.Type(); t == fastjson.TypeObject || t == fastjson.TypeArray {
			return false
		}
	}
	return true
}

// Kinds of value for scalar.
const (
	valueOther     = iota // any field, kept as text
	valueCanonical        // dvc, user_id, PackageMoniker
	valueEventCode        // EventCode: integers are written in canonical decimal
)

// scalar appends one value. name is the field name, or "" with nameBytes
// holding a name to copy from the record; key names the field in errors.
// A null (an array element) is skipped.
func (d *jsonDecoder) scalar(f Format, name string, nameBytes []byte, key string, v *fastjson.Value, kind int) *DecodeError {
	t := v.Type()
	if t == fastjson.TypeNull {
		return nil
	}
	if key == "" {
		key = quoteDetail(nameBytes) // error path only
	}
	b := &d.b
	vm := b.valueStart(name, nameBytes)
	off := vm.off
	switch t {
	case fastjson.TypeString:
		s, _ := v.StringBytes()
		if !utf8.Valid(s) {
			return decodeErr(f, ReasonInvalidUTF8, "%s is not valid UTF-8", key)
		}
		if kind == valueEventCode {
			b.buf = appendEventCode(b.buf, s)
		} else {
			b.buf = append(b.buf, s...)
		}
	case fastjson.TypeNumber:
		b.buf = v.MarshalTo(b.buf)
		if !validJSONNumber(b.buf[off:]) {
			return decodeErr(f, ReasonInvalidJSON, "%s: malformed number %s", key, quoteDetail(b.buf[off:]))
		}
		if kind == valueEventCode {
			d.scratch = append(d.scratch[:0], b.buf[off:]...)
			b.buf = appendEventCode(b.buf[:off], d.scratch)
		}
	case fastjson.TypeTrue:
		b.buf = append(b.buf, "true"...)
	case fastjson.TypeFalse:
		b.buf = append(b.buf, "false"...)
	default:
		return decodeErr(f, ReasonBadFieldType, "%s is a %s, want a string or number", key, t)
	}
	if !b.valueEnd(vm, kind != valueOther) {
		return decodeErr(f, ReasonTooManyFields, "more than %d field values", maxFieldValues)
	}
	return nil
}
