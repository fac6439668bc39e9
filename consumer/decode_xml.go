package consumer

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"

	"github.com/msixguard/msixguard/event"
)

// Limits that keep a hostile XML record cheap. Real Windows events nest
// five levels deep and have a few hundred tokens.
const (
	maxXMLDepth  = 64
	maxXMLTokens = 10000
)

// xmlDecoder decodes one XmlWinEventLog <Event> element:
//
//	System/EventID               -> EventCode (text; a Qualifiers attribute is ignored)
//	System/TimeCreated@SystemTime -> time
//	System/Computer              -> dvc (left missing when absent or empty)
//	System/Security@UserID       -> user_id
//	System/Channel               -> Channel
//	System/Provider@Name         -> Provider
//	EventData/Data[@Name=X]      -> X (text exactly as written, entities decoded)
//	UserData/*/X                 -> X (leaf elements only)
//
// It uses encoding/xml in strict mode without an entity map, so only the
// five predefined entities and character references are expanded. Any
// <!DOCTYPE> or other declaration is rejected before it could define an
// entity, so no entity expansion or external reference is ever followed;
// depth and token count are capped.
//
// Most records take a fast path (decode_xml_fast.go) that scans the bytes
// itself and is about ten times cheaper; whatever it is not sure about
// (declarations, comments, CDATA, namespace prefixes, carriage returns,
// unusual entities, any error) it hands to this encoding/xml walk, which
// stays the reference: a differential fuzz test holds the two to the same
// result on every record the fast path accepts.
type xmlDecoder struct {
	b    eventBuilder
	r    bytes.Reader
	elem xmlElem // the slow path's start tag, reused
	fast xmlScanner
	time []byte // SystemTime text, reused
}

// xmlElem is a start tag as xmlState sees it, from either parser.
type xmlElem struct {
	local []byte
	attrs []xmlAttr
}

type xmlAttr struct{ local, value []byte }

// attr returns the value of the first attribute whose local name is local.
func (e *xmlElem) attr(local string) ([]byte, bool) {
	for _, a := range e.attrs {
		if string(a.local) == local {
			return a.value, true
		}
	}
	return nil, false
}

// Sections of an Event (children at depth 2).
const (
	sectionOther = iota
	sectionSystem
	sectionEventData
	sectionUserData
)

// xmlState is the walk through one record.
type xmlState struct {
	d       *xmlDecoder
	section int
	// The element whose text is being collected, when collectDepth > 0.
	collectDepth   int
	collectOff     int
	collectName    string // field name, "" when it is buf[collectNameOff:collectOff]
	collectNameOff int
	collectKind    int
	collectBad     bool // it had a child element: not a simple value
	// Seen single-value fields: the first occurrence wins.
	seenCode, seenDvc, seenUser, seenChannel, seenProvider bool
	seenTime                                               bool
}

// What a collected text becomes.
const (
	collectField = iota
	collectEventCode
	collectDvc
)

func (d *xmlDecoder) Decode(value []byte, ev *event.Event) error {
	ev.Reset()
	d.b.reset()
	const f = FormatXML
	value = trimRecord(value)
	if len(value) == 0 {
		return decodeErr(f, ReasonEmptyRecord, "record has no content")
	}
	if d.fast.decode(d, value, ev) {
		return nil
	}
	ev.Reset()
	d.b.reset()
	return d.decodeSlow(value, ev)
}

// decodeSlow is the encoding/xml walk: the reference, and the path of every
// record the fast one declines. value is trimmed and non-empty.
func (d *xmlDecoder) decodeSlow(value []byte, ev *event.Event) error {
	const f = FormatXML
	d.r.Reset(value)
	dec := xml.NewDecoder(&d.r)
	dec.Strict = true
	st := xmlState{d: d}
	var stack [maxXMLDepth]xml.Name
	depth, tokens := 0, 0
	seenEvent, doneEvent := false, false
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return xmlError(err)
		}
		if tokens++; tokens > maxXMLTokens {
			return decodeErr(f, ReasonXMLTooLarge, "more than %d XML tokens", maxXMLTokens)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if doneEvent {
				return decodeErr(f, ReasonInvalidXML, "element <%s> after </Event>", t.Name.Local)
			}
			if depth == maxXMLDepth {
				return decodeErr(f, ReasonXMLTooDeep, "elements nested deeper than %d", maxXMLDepth)
			}
			stack[depth] = t.Name
			depth++
			if depth == 1 {
				if t.Name.Local != "Event" {
					return decodeErr(f, ReasonNotAnEvent, "root element is <%s>, want <Event>", t.Name.Local)
				}
				seenEvent = true
				continue
			}
			d.elem.local = append(d.elem.local[:0], t.Name.Local...)
			d.elem.attrs = d.elem.attrs[:0]
			for _, a := range t.Attr {
				d.elem.attrs = append(d.elem.attrs, xmlAttr{local: []byte(a.Name.Local), value: []byte(a.Value)})
			}
			if err := st.start(depth, &d.elem); err != nil {
				return err
			}
		case xml.EndElement:
			if depth == 0 || stack[depth-1] != t.Name {
				return decodeErr(f, ReasonInvalidXML, "unexpected </%s>", t.Name.Local)
			}
			if err := st.end(depth); err != nil {
				return err
			}
			depth--
			if depth == 0 {
				doneEvent = true
			}
		case xml.CharData:
			if depth == 0 {
				if len(bytes.TrimSpace(t)) != 0 {
					return decodeErr(f, ReasonInvalidXML, "text outside <Event>")
				}
				continue
			}
			if depth == st.collectDepth {
				d.b.buf = append(d.b.buf, t...)
			}
		case xml.Directive:
			return decodeErr(f, ReasonInvalidXML, "<!%s…> declarations are not allowed", firstWord(t))
		case xml.Comment, xml.ProcInst:
			// The XML declaration (checked by encoding/xml: UTF-8 only) and
			// comments carry nothing we need.
		}
	}
	if depth > 0 {
		return decodeErr(f, ReasonInvalidXML, "record ends inside <%s>", stack[depth-1].Local)
	}
	if !seenEvent {
		return decodeErr(f, ReasonNotAnEvent, "no <Event> element")
	}
	return st.finish(ev)
}

// finish checks the time and hands the fields to ev.
func (st *xmlState) finish(ev *event.Event) error {
	if !st.seenTime {
		return decodeErr(FormatXML, ReasonMissingTime, "no System/TimeCreated/@SystemTime")
	}
	text := string(bytes.TrimSpace(st.d.time))
	t, err := parseTime(text)
	if err != nil {
		return decodeErr(FormatXML, ReasonBadTime, "SystemTime %s: %s", quoteDetail(st.d.time), err)
	}
	st.d.b.flush(ev)
	ev.Time = t
	return nil
}

func (st *xmlState) start(depth int, t *xmlElem) *DecodeError {
	if st.collectDepth > 0 {
		// A child inside a value: that value is not a simple text.
		st.collectBad = true
		return nil
	}
	switch depth {
	case 2:
		switch string(t.local) {
		case "System":
			st.section = sectionSystem
		case "EventData":
			st.section = sectionEventData
		case "UserData":
			st.section = sectionUserData
		default:
			st.section = sectionOther
		}
	case 3:
		switch st.section {
		case sectionSystem:
			return st.system(depth, t)
		case sectionEventData:
			if string(t.local) == "Data" {
				if name, ok := t.attr("Name"); ok {
					return st.field(depth, name)
				}
			}
		}
	case 4:
		if st.section == sectionUserData {
			return st.field(depth, t.local)
		}
	}
	return nil
}

func (st *xmlState) system(depth int, t *xmlElem) *DecodeError {
	filter := &st.d.b.filter
	switch string(t.local) {
	case "EventID":
		if !st.seenCode && filter.canon[slotEventCode] {
			st.seenCode = true
			st.collect(depth, event.FieldEventCode, collectEventCode)
		}
	case "Computer":
		if !st.seenDvc && filter.canon[slotDvc] {
			st.seenDvc = true
			st.collect(depth, event.FieldDvc, collectDvc)
		}
	case "Channel":
		if !st.seenChannel && filter.wantName("Channel") {
			st.seenChannel = true
			st.collect(depth, "Channel", collectField)
		}
	case "TimeCreated":
		if v, ok := t.attr("SystemTime"); ok && !st.seenTime {
			st.seenTime = true
			st.d.time = append(st.d.time[:0], v...)
		}
	case "Security":
		if v, ok := t.attr("UserID"); ok && !st.seenUser && filter.canon[slotUserID] {
			st.seenUser = true
			return st.value(event.FieldUserID, true, v)
		}
	case "Provider":
		if v, ok := t.attr("Name"); ok && !st.seenProvider && filter.wantName("Provider") {
			st.seenProvider = true
			return st.value("Provider", false, v)
		}
	}
	return nil
}

// field starts collecting an EventData or UserData value named name.
func (st *xmlState) field(depth int, name []byte) *DecodeError {
	if len(name) == 0 || reservedField(name, true) {
		return nil
	}
	if string(name) == event.FieldPackageMoniker {
		if st.d.b.filter.canon[slotPackageMoniker] {
			st.collect(depth, event.FieldPackageMoniker, collectField)
		}
		return nil
	}
	static, ok := st.d.b.filter.want(name)
	switch {
	case !ok:
	case static != "":
		st.collect(depth, static, collectField)
	default:
		// The name goes into buf just before its value.
		b := &st.d.b
		nameOff := b.mark()
		b.buf = append(b.buf, name...)
		st.collect(depth, "", collectField)
		st.collectNameOff = nameOff
	}
	return nil
}

func (st *xmlState) collect(depth int, name string, kind int) {
	st.collectDepth, st.collectOff = depth, st.d.b.mark()
	st.collectName, st.collectKind, st.collectBad = name, kind, false
	st.collectNameOff = st.collectOff
}

func (st *xmlState) end(depth int) *DecodeError {
	if depth != st.collectDepth {
		return nil
	}
	st.collectDepth = 0
	b := &st.d.b
	off := st.collectOff
	if st.collectBad {
		b.buf = b.buf[:st.collectNameOff]
		return nil
	}
	if st.collectName == "" {
		if !b.commitNamed(st.collectNameOff, off, off) {
			return decodeErr(FormatXML, ReasonTooManyFields, "more than %d field values", maxFieldValues)
		}
		return nil
	}
	canonical := isCanonicalName(st.collectName)
	switch st.collectKind {
	case collectEventCode:
		text := bytes.TrimSpace(b.buf[off:])
		n := len(b.buf)
		b.buf = appendEventCode(b.buf, text)
		b.buf = append(b.buf[:off], b.buf[n:]...)
	case collectDvc:
		if len(b.buf) == off {
			return nil // empty Computer: dvc stays missing
		}
	}
	if !b.commit(st.collectName, canonical, off) {
		return decodeErr(FormatXML, ReasonTooManyFields, "more than %d field values", maxFieldValues)
	}
	return nil
}

// value keeps an attribute value.
func (st *xmlState) value(name string, canonical bool, v []byte) *DecodeError {
	b := &st.d.b
	off := b.mark()
	b.buf = append(b.buf, v...)
	if !b.commit(name, canonical, off) {
		return decodeErr(FormatXML, ReasonTooManyFields, "more than %d field values", maxFieldValues)
	}
	return nil
}

func isCanonicalName(name string) bool {
	for _, c := range slotNames {
		if name == c {
			return true
		}
	}
	return false
}

func firstWord(b []byte) string {
	if i := bytes.IndexAny(b, " \t\r\n["); i >= 0 {
		b = b[:i]
	}
	if len(b) > 16 {
		b = b[:16]
	}
	return string(b)
}

// xmlError classifies an encoding/xml error.
func xmlError(err error) *DecodeError {
	var se *xml.SyntaxError
	if errors.As(err, &se) && strings.Contains(se.Msg, "invalid UTF-8") {
		return decodeErr(FormatXML, ReasonInvalidUTF8, "%s", err)
	}
	return decodeErr(FormatXML, ReasonInvalidXML, "%s", err)
}
