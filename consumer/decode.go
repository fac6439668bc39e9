package consumer

import (
	"bytes"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/msixguard/msixguard/event"
)

// Format names an input encoding.
type Format string

// The input formats. FormatAuto sniffs every record; the others decode one
// encoding only.
const (
	FormatAuto Format = "auto"
	FormatJSON Format = "json" // normalized JSON (_time, EventCode, dvc, user_id, PackageMoniker)
	FormatXML  Format = "xml"  // XmlWinEventLog as Splunk indexes it
	FormatECS  Format = "ecs"  // Winlogbeat / Elastic Agent JSON
	FormatAvro Format = "avro" // Confluent wire format with schemas/event.avsc
)

// ParseFormat returns the Format named by s (case-insensitive).
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case FormatAuto, FormatJSON, FormatXML, FormatECS, FormatAvro:
		return f, nil
	}
	return "", fmt.Errorf("unknown input format %q (want auto, json, xml, ecs or avro)", s)
}

// Decoder turns one record value into an Event.
//
// Decode resets ev and fills it. It never panics: a record it cannot turn
// into an event yields a *DecodeError and leaves ev holding no fields. The
// strings Decode puts into ev are its own (they share no memory with value
// or with the decoder), so ev, or strings taken from it, may be kept after
// the next call. All the values of one record share one backing string, so
// keeping any one of them keeps that record's kept text alive.
//
// A Decoder is not safe for concurrent use; make one per goroutine.
type Decoder interface {
	Decode(value []byte, ev *event.Event) error
}

// DecoderOptions tune a Decoder.
type DecoderOptions struct {
	// Fields the rules read, by canonical name (EventCode, dvc, user_id,
	// PackageMoniker, Channel, Provider, or any EventData name such as
	// HasFullTrust). Nil keeps every scalar field found; an empty non-nil
	// slice keeps none. The event time is always decoded.
	Fields []string
	// AvroSchemaIDs are the Confluent schema registry ids accepted for the
	// embedded event schema (schemas/event.avsc). Empty means {1}.
	AvroSchemaIDs []int
}

// NewDecoder returns a Decoder for format f.
func NewDecoder(f Format, opts DecoderOptions) (Decoder, error) {
	filter := newFieldFilter(opts.Fields)
	switch f {
	case FormatJSON:
		return &jsonDecoder{format: FormatJSON, b: eventBuilder{filter: filter}}, nil
	case FormatECS:
		return &jsonDecoder{format: FormatECS, b: eventBuilder{filter: filter}}, nil
	case FormatXML:
		return &xmlDecoder{b: eventBuilder{filter: filter}}, nil
	case FormatAvro:
		return newAvroDecoder(filter, opts.AvroSchemaIDs)
	case FormatAuto:
		avro, err := newAvroDecoder(filter, opts.AvroSchemaIDs)
		if err != nil {
			return nil, err
		}
		return &autoDecoder{
			json: jsonDecoder{format: FormatAuto, b: eventBuilder{filter: filter}},
			xml:  xmlDecoder{b: eventBuilder{filter: filter}},
			avro: avro,
		}, nil
	}
	return nil, fmt.Errorf("unknown input format %q", string(f))
}

// Reasons of a DecodeError. They are stable: metrics use them as a label and
// the dead-letter writer as a header value.
const (
	ReasonEmptyRecord       = "empty_record"        // empty or whitespace-only value
	ReasonUnknownFormat     = "unknown_format"      // auto could not tell the encoding
	ReasonInvalidJSON       = "invalid_json"        // not well-formed JSON
	ReasonInvalidXML        = "invalid_xml"         // not well-formed XML, or a DTD
	ReasonXMLTooDeep        = "xml_too_deep"        // elements nested deeper than maxXMLDepth
	ReasonXMLTooLarge       = "xml_too_large"       // more than maxXMLTokens tokens
	ReasonNotAnEvent        = "not_an_event"        // well-formed, but not an event object/element
	ReasonMissingTime       = "missing_time"        // no event time
	ReasonBadTime           = "bad_time"            // event time present but not a valid time
	ReasonBadFieldType      = "bad_field_type"      // e.g. an object where a string belongs
	ReasonInvalidUTF8       = "invalid_utf8"        // a kept string is not valid UTF-8
	ReasonTooManyFields     = "too_many_fields"     // more than maxFieldValues kept values
	ReasonAvroBadMagic      = "avro_bad_magic"      // first byte is not the Confluent magic 0
	ReasonAvroUnknownSchema = "avro_unknown_schema" // schema id not in AvroSchemaIDs
	ReasonAvroDecode        = "avro_decode"         // truncated or invalid Avro binary
)

// DecodeError says why a record could not be decoded. A record that yields
// one belongs in the dead-letter topic; the processor goes on.
type DecodeError struct {
	// Format is the format the record was decoded as; under FormatAuto it is
	// the sniffed one (json, ecs, xml, avro), or auto when sniffing failed.
	Format Format
	// Reason is one of the Reason* constants.
	Reason string
	// Detail is for humans: what was wrong, and where.
	Detail string
}

func (e *DecodeError) Error() string {
	return "decode " + string(e.Format) + " record: " + e.Reason + ": " + e.Detail
}

// maxDetail caps DecodeError.Detail: it becomes a dead-letter header, and
// some parser errors grow with the input (fastjson wraps its error once per
// nesting level).
const maxDetail = 256

// decodeErr builds a DecodeError. The detail is made valid UTF-8 (encoding/xml
// quotes offending bytes raw) and cut to maxDetail bytes.
func decodeErr(f Format, reason, format string, args ...any) *DecodeError {
	detail := strings.ToValidUTF8(fmt.Sprintf(format, args...), "\ufffd")
	if len(detail) > maxDetail {
		cut := maxDetail
		for cut > 0 && !utf8.RuneStart(detail[cut]) {
			cut--
		}
		detail = detail[:cut] + "…"
	}
	return &DecodeError{Format: f, Reason: reason, Detail: detail}
}

// maxFieldValues caps the values one record may contribute. Event.Add scans
// the fields linearly, so an unbounded count would make a hostile record
// cost quadratic time; real events carry a few dozen.
const maxFieldValues = 4096

// Canonical field slots, in the order an Event lists them.
const (
	slotEventCode = iota
	slotDvc
	slotUserID
	slotPackageMoniker
	numSlots
)

var slotNames = [numSlots]string{
	event.FieldEventCode, event.FieldDvc, event.FieldUserID, event.FieldPackageMoniker,
}

// reservedField reports whether name is a single-value field that only the
// record's own mapping may set: an EventData item called "dvc" must not add
// a second dvc. With system, Channel and Provider are reserved too (XML and
// ECS take them from the System section).
func reservedField(name []byte, system bool) bool {
	switch string(name) {
	case event.FieldEventCode, event.FieldDvc, event.FieldUserID:
		return true
	case "Channel", "Provider":
		return system
	}
	return false
}

// fieldFilter says which fields a decoder keeps.
type fieldFilter struct {
	all   bool
	canon [numSlots]bool
	other map[string]string // wanted name -> the same name, so lookups by []byte reuse it
}

func newFieldFilter(fields []string) fieldFilter {
	if fields == nil {
		return fieldFilter{all: true, canon: [numSlots]bool{true, true, true, true}}
	}
	f := fieldFilter{other: make(map[string]string, len(fields))}
	for _, name := range fields {
		canonical := false
		for i, c := range slotNames {
			if name == c {
				f.canon[i], canonical = true, true
			}
		}
		if !canonical && name != "" {
			f.other[name] = name
		}
	}
	return f
}

// wantName reports whether the field with this fixed name is kept.
func (f *fieldFilter) wantName(name string) bool {
	_, ok := f.other[name]
	return ok || f.all
}

// want reports whether the non-canonical field name is kept; static is the
// caller-owned copy of the name when the filter has one, "" when the name
// has to be copied out of the record.
func (f *fieldFilter) want(name []byte) (static string, ok bool) {
	if s, ok := f.other[string(name)]; ok {
		return s, true
	}
	return "", f.all
}

// eventBuilder collects the kept values of one record in a single buffer and
// converts that buffer to one string at the end: one allocation per record
// however many fields it has, and nothing in the Event aliases memory the
// decoder will reuse.
type eventBuilder struct {
	filter  fieldFilter
	time    time.Time
	buf     []byte
	pending []pendingValue
}

// pendingValue is one value waiting in buf. Its name is either a static
// string or a span of buf.
type pendingValue struct {
	name             string
	nameOff, nameEnd int
	off, end         int
	canonical        bool
}

func (b *eventBuilder) reset() {
	b.time = time.Time{}
	b.buf = b.buf[:0]
	b.pending = b.pending[:0]
}

// mark returns the current end of buf, where the next value starts.
func (b *eventBuilder) mark() int { return len(b.buf) }

// commit records buf[off:] as one value of the static field name.
func (b *eventBuilder) commit(name string, canonical bool, off int) bool {
	if len(b.pending) >= maxFieldValues {
		return false
	}
	b.pending = append(b.pending, pendingValue{name: name, off: off, end: len(b.buf), canonical: canonical})
	return true
}

// valueStart begins one value: a name to copy from the record (when name
// is "") goes into buf first. Pass what it returns to valueEnd once the
// value's text is appended.
func (b *eventBuilder) valueStart(name string, nameBytes []byte) valueMark {
	var m valueMark
	if name == "" {
		m.nameOff = b.mark()
		b.buf = append(b.buf, nameBytes...)
		m.nameEnd = b.mark()
	}
	m.name, m.off = name, b.mark()
	return m
}

// valueMark is where a value (and a copied name) starts in buf.
type valueMark struct {
	name                  string
	nameOff, nameEnd, off int
}

// valueEnd records the value begun at m; false when the record has more
// values than maxFieldValues.
func (b *eventBuilder) valueEnd(m valueMark, canonical bool) bool {
	if m.name == "" {
		return b.commitNamed(m.nameOff, m.nameEnd, m.off)
	}
	return b.commit(m.name, canonical, m.off)
}

// commitNamed records buf[off:] as one value of the field whose name is
// buf[nameOff:nameEnd].
func (b *eventBuilder) commitNamed(nameOff, nameEnd, off int) bool {
	if len(b.pending) >= maxFieldValues {
		return false
	}
	b.pending = append(b.pending, pendingValue{nameOff: nameOff, nameEnd: nameEnd, off: off, end: len(b.buf)})
	return true
}

// flush hands the collected values to ev: canonical fields first, then the
// others in record order.
func (b *eventBuilder) flush(ev *event.Event) {
	if len(b.pending) == 0 {
		return
	}
	s := string(b.buf)
	for pass := 0; pass < 2; pass++ {
		for _, p := range b.pending {
			if p.canonical != (pass == 0) {
				continue
			}
			name := p.name
			if name == "" {
				name = s[p.nameOff:p.nameEnd]
			}
			ev.Add(name, s[p.off:p.end])
		}
	}
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// trimRecord drops a UTF-8 byte order mark and surrounding whitespace.
func trimRecord(b []byte) []byte {
	b = bytes.TrimPrefix(b, utf8BOM)
	return bytes.Trim(b, " \t\r\n")
}

// quoteDetail renders a value for a DecodeError detail, cut short so that a
// hostile record cannot make the dead-letter header huge.
func quoteDetail[T ~string | ~[]byte](v T) string {
	const max = 64
	if len(v) > max {
		return fmt.Sprintf("%q…", string(v[:max]))
	}
	return fmt.Sprintf("%q", string(v))
}
