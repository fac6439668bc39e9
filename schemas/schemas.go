package schemas

import (
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/linkedin/goavro/v2"
)

//go:embed event.avsc
var eventSchema string

// EventSchemaName is the full name of the event record in event.avsc.
const EventSchemaName = "msixguard.WindowsEvent"

// EventSchema returns the text of event.avsc, e.g. to register it with a
// schema registry.
func EventSchema() string { return eventSchema }

// EventCodec compiles event.avsc. A Codec is safe for concurrent use;
// callers compile once and keep it.
func EventCodec() (*goavro.Codec, error) {
	c, err := goavro.NewCodec(eventSchema)
	if err != nil {
		return nil, fmt.Errorf("compile event.avsc: %w", err)
	}
	return c, nil
}

// The Confluent wire format: magic byte 0, the schema registry id as four
// big-endian bytes, then the Avro binary datum.
const (
	confluentMagic     = 0
	ConfluentHeaderLen = 5
)

// Errors of SplitConfluent.
var (
	ErrBadMagic    = errors.New("not the Confluent wire format: first byte is not 0")
	ErrShortRecord = errors.New("record shorter than the 5-byte Confluent header")
)

// AppendConfluentHeader appends the wire-format header for schema id to dst.
func AppendConfluentHeader(dst []byte, id uint32) []byte {
	dst = append(dst, confluentMagic)
	return binary.BigEndian.AppendUint32(dst, id)
}

// EncodeConfluent encodes native (as goavro takes it: map[string]any for a
// record, goavro.Union for a union branch) with codec c and frames it with
// schema id.
func EncodeConfluent(c *goavro.Codec, id uint32, native any) ([]byte, error) {
	buf, err := c.BinaryFromNative(AppendConfluentHeader(nil, id), native)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", c.Schema(), err)
	}
	return buf, nil
}

// SplitConfluent returns the schema id and the Avro payload of a record in
// the Confluent wire format.
//
// There is deliberately no decoding counterpart to EncodeConfluent: goavro
// preallocates arrays and maps from the block counts it reads, so a few
// hostile bytes can make it allocate gigabytes. Untrusted records are
// decoded by package consumer, which checks every count against the bytes
// left.
func SplitConfluent(value []byte) (id uint32, payload []byte, err error) {
	if len(value) > 0 && value[0] != confluentMagic {
		return 0, nil, ErrBadMagic
	}
	if len(value) < ConfluentHeaderLen {
		return 0, nil, ErrShortRecord
	}
	return binary.BigEndian.Uint32(value[1:5]), value[ConfluentHeaderLen:], nil
}
