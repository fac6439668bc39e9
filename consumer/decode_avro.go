package consumer

import (
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/msixguard/msixguard/event"
	"github.com/msixguard/msixguard/schemas"
)

// avroEventSchema is the Parsing Canonical Form of schemas/event.avsc that
// avroDecoder reads. NewDecoder compiles the embedded schema with goavro and
// refuses to start when its canonical form differs, so the schema cannot
// change without this decoder changing with it.
const avroEventSchema = `{"name":"msixguard.WindowsEvent","type":"record","fields":[` +
	`{"name":"_time","type":["null","string"]},` +
	`{"name":"EventCode","type":["null","long"]},` +
	`{"name":"dvc","type":["null","string"]},` +
	`{"name":"user_id","type":["null","string"]},` +
	`{"name":"PackageMoniker","type":["null",{"type":"array","items":"string"}]},` +
	`{"name":"fields","type":{"type":"map","values":"string"}}]}`

// avroDecoder reads the Confluent wire format with the event schema.
//
// It walks the Avro binary itself rather than calling goavro's
// NativeFromBinary, for two reasons: goavro preallocates arrays and maps
// from the block count it reads (up to 2^31 items), so a ten-byte hostile
// record can demand gigabytes; and it builds map[string]any trees. Here
// every length and count is checked against the bytes left, and values go
// straight into the Event. goavro still compiles and validates the schema
// (see avroEventSchema) and is the test oracle for this reader.
type avroDecoder struct {
	ids []uint32
	b   eventBuilder
	// keys of the record's fields map, to refuse duplicates as goavro (the
	// reference implementation) does; reused across records.
	keys map[string]struct{}
}

func newAvroDecoder(filter fieldFilter, ids []int) (*avroDecoder, error) {
	codec, err := schemas.EventCodec()
	if err != nil {
		return nil, err
	}
	if got := codec.CanonicalSchema(); got != avroEventSchema {
		return nil, fmt.Errorf("schemas/event.avsc changed (canonical form %s); update consumer/decode_avro.go to read it", got)
	}
	if len(ids) == 0 {
		ids = []int{1}
	}
	d := &avroDecoder{b: eventBuilder{filter: filter}}
	for _, id := range ids {
		if id < 0 || id > math.MaxUint32 {
			return nil, fmt.Errorf("avro schema id %d out of range", id)
		}
		d.ids = append(d.ids, uint32(id))
	}
	return d, nil
}

func (d *avroDecoder) Decode(value []byte, ev *event.Event) error {
	ev.Reset()
	d.b.reset()
	const f = FormatAvro
	if len(value) == 0 {
		return decodeErr(f, ReasonEmptyRecord, "record has no content")
	}
	id, payload, err := schemas.SplitConfluent(value)
	switch {
	case errors.Is(err, schemas.ErrBadMagic):
		return decodeErr(f, ReasonAvroBadMagic, "first byte is 0x%02x, want 0x00", value[0])
	case err != nil:
		return decodeErr(f, ReasonAvroDecode, "%s", err)
	}
	known := false
	for _, k := range d.ids {
		known = known || k == id
	}
	if !known {
		return decodeErr(f, ReasonAvroUnknownSchema, "schema id %d is not an accepted event schema id", id)
	}
	r := avroReader{buf: payload}
	if derr := d.record(&r); derr != nil {
		return derr
	}
	if r.err != nil {
		return decodeErr(f, ReasonAvroDecode, "%s at byte %d", r.err, len(value)-len(r.buf))
	}
	if len(r.buf) != 0 {
		return decodeErr(f, ReasonAvroDecode, "%d bytes after the record", len(r.buf))
	}
	d.b.flush(ev)
	ev.Time = d.b.time
	return nil
}

// record reads the fields in schema order. A reader error stops it; the
// caller reports r.err.
func (d *avroDecoder) record(r *avroReader) *DecodeError {
	const f = FormatAvro
	b := &d.b
	// _time
	timeText, hasTime := r.optString()
	if r.err != nil {
		return nil
	}
	if !hasTime {
		return decodeErr(f, ReasonMissingTime, "_time is null")
	}
	t, err := parseTime(timeText)
	if err != nil {
		return decodeErr(f, ReasonBadTime, "_time %s: %s", quoteDetail(timeText), err)
	}
	b.time = t
	// EventCode
	if r.union(2) == 1 {
		code := r.long()
		if r.err == nil && b.filter.canon[slotEventCode] {
			off := b.mark()
			if code < 0 {
				b.buf = append(b.buf, '-')
				b.buf = appendUint(b.buf, uint64(-(code+1))+1)
			} else {
				b.buf = appendUint(b.buf, uint64(code))
			}
			b.commit(event.FieldEventCode, true, off)
		}
	}
	// dvc, user_id
	for _, slot := range [...]int{slotDvc, slotUserID} {
		v, ok := r.optString()
		if ok && b.filter.canon[slot] {
			if derr := d.keep(slotNames[slot], true, v); derr != nil {
				return derr
			}
		}
	}
	// PackageMoniker
	if r.union(2) == 1 {
		keep := b.filter.canon[slotPackageMoniker]
		for n := r.blockCount(); n > 0 && r.err == nil; n = r.blockCount() {
			for ; n > 0 && r.err == nil; n-- {
				v := r.bytes()
				if keep && r.err == nil {
					if derr := d.keep(event.FieldPackageMoniker, true, v); derr != nil {
						return derr
					}
				}
			}
		}
	}
	// fields
	if d.keys == nil {
		d.keys = map[string]struct{}{}
	}
	clear(d.keys)
	for n := r.blockCount(); n > 0 && r.err == nil; n = r.blockCount() {
		for ; n > 0 && r.err == nil; n-- {
			k, v := r.bytes(), r.bytes()
			if r.err != nil {
				continue
			}
			if _, dup := d.keys[string(k)]; dup {
				return decodeErr(f, ReasonAvroDecode, "fields has the key %s twice", quoteDetail(k))
			}
			d.keys[string(k)] = struct{}{}
			if len(k) == 0 || reservedField(k, false) {
				continue
			}
			if string(k) == event.FieldPackageMoniker {
				if b.filter.canon[slotPackageMoniker] {
					if derr := d.keep(event.FieldPackageMoniker, true, v); derr != nil {
						return derr
					}
				}
				continue
			}
			static, ok := b.filter.want(k)
			if !ok {
				continue
			}
			if static != "" {
				if derr := d.keep(static, false, v); derr != nil {
					return derr
				}
				continue
			}
			if !utf8.Valid(k) {
				return decodeErr(f, ReasonInvalidUTF8, "field name %s is not valid UTF-8", quoteDetail(k))
			}
			nameOff := b.mark()
			b.buf = append(b.buf, k...)
			nameEnd := b.mark()
			if !utf8.Valid(v) {
				return decodeErr(f, ReasonInvalidUTF8, "fields[%s] is not valid UTF-8", quoteDetail(k))
			}
			b.buf = append(b.buf, v...)
			if !b.commitNamed(nameOff, nameEnd, nameEnd) {
				return decodeErr(f, ReasonTooManyFields, "more than %d field values", maxFieldValues)
			}
		}
	}
	return nil
}

func (d *avroDecoder) keep(name string, canonical bool, v []byte) *DecodeError {
	if !utf8.Valid(v) {
		return decodeErr(FormatAvro, ReasonInvalidUTF8, "%s is not valid UTF-8", name)
	}
	b := &d.b
	off := b.mark()
	b.buf = append(b.buf, v...)
	if !b.commit(name, canonical, off) {
		return decodeErr(FormatAvro, ReasonTooManyFields, "more than %d field values", maxFieldValues)
	}
	return nil
}

// avroReader reads Avro binary primitives from buf. The first error sticks:
// later reads return zero values, so callers check err once at the end.
type avroReader struct {
	buf []byte
	err error
}

var (
	errAvroShort    = errors.New("truncated Avro data")
	errAvroVarint   = errors.New("malformed Avro varint")
	errAvroLength   = errors.New("negative Avro length")
	errAvroUnion    = errors.New("Avro union branch out of range")
	errAvroBlockLen = errors.New("Avro block count larger than the data left")
)

func (r *avroReader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.buf = nil
}

// long reads a zigzag varint of at most 10 bytes.
func (r *avroReader) long() int64 {
	if r.err != nil {
		return 0
	}
	var u uint64
	for i := 0; i < 10; i++ {
		if i >= len(r.buf) {
			r.fail(errAvroShort)
			return 0
		}
		c := r.buf[i]
		if i == 9 && c > 1 {
			r.fail(errAvroVarint)
			return 0
		}
		u |= uint64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			r.buf = r.buf[i+1:]
			return int64(u>>1) ^ -int64(u&1)
		}
	}
	r.fail(errAvroVarint)
	return 0
}

// bytes reads a length-prefixed string; the result aliases the record.
func (r *avroReader) bytes() []byte {
	n := r.long()
	if r.err != nil {
		return nil
	}
	if n < 0 {
		r.fail(errAvroLength)
		return nil
	}
	if n > int64(len(r.buf)) {
		r.fail(errAvroShort)
		return nil
	}
	v := r.buf[:n]
	r.buf = r.buf[n:]
	return v
}

// union reads a branch index below n; -1 on error.
func (r *avroReader) union(n int64) int64 {
	i := r.long()
	if r.err != nil {
		return -1
	}
	if i < 0 || i >= n {
		r.fail(errAvroUnion)
		return -1
	}
	return i
}

// optString reads a ["null","string"] union.
func (r *avroReader) optString() ([]byte, bool) {
	if r.union(2) != 1 {
		return nil, false
	}
	v := r.bytes()
	return v, r.err == nil
}

// blockCount reads the item count of the next array or map block (0 at the
// end). A negative count is followed by the block's byte size, which we
// skip. Every item takes at least one byte, so a count larger than the
// bytes left is malformed: that check is what bounds the work of a hostile
// record.
func (r *avroReader) blockCount() int64 {
	n := r.long()
	if r.err != nil {
		return 0
	}
	if n < 0 {
		if n == math.MinInt64 {
			r.fail(errAvroVarint)
			return 0
		}
		n = -n
		if size := r.long(); r.err != nil || size < 0 {
			r.fail(errAvroLength)
			return 0
		}
	}
	if n > int64(len(r.buf)) {
		r.fail(errAvroBlockLen)
		return 0
	}
	return n
}
