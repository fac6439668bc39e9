package consumer

import (
	"github.com/msixguard/msixguard/event"
)

// autoDecoder sniffs each record: a 0x00 first byte is the Confluent Avro
// framing, '<' is XML, '{' is JSON, normalized or ECS as the parsed object
// shows (one parse).
type autoDecoder struct {
	json jsonDecoder // format FormatAuto: tells ECS from normalized
	xml  xmlDecoder
	avro *avroDecoder
}

func (d *autoDecoder) Decode(value []byte, ev *event.Event) error {
	if len(value) > 0 && value[0] == 0 {
		return d.avro.Decode(value, ev)
	}
	trimmed := trimRecord(value)
	if len(trimmed) == 0 {
		ev.Reset()
		return decodeErr(FormatAuto, ReasonEmptyRecord, "record has no content")
	}
	switch trimmed[0] {
	case '<':
		return d.xml.Decode(trimmed, ev)
	case '{':
		return d.json.Decode(trimmed, ev)
	}
	ev.Reset()
	return decodeErr(FormatAuto, ReasonUnknownFormat, "record starts with %s: not JSON, XML or Confluent Avro", quoteDetail(trimmed[:min(len(trimmed), 8)]))
}
