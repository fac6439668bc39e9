// Package consumer owns reading: the record decoders, both stages' group
// loops (stage1.go: decode, filter, repartition, markers; stage2.go:
// per-partition windows driven by aggregate), watermarks (watermark.go) and
// commits with metadata (group.go). It must not encode risk messages
// (producer) or decide what matches (rules). docs/architecture.md explains
// the commit and watermark rules.
//
// # Decoders
//
// A Decoder turns one Kafka record value into an event.Event: its time (the
// SPL _time) and the fields rules read, under canonical names (EventCode,
// dvc, user_id, PackageMoniker; other fields keep their own names). One
// Decoder per goroutine; NewDecoder picks it by Format:
//
//   - json: the normalized contract. _time (RFC 3339, or epoch seconds as a
//     number or numeric string), EventCode, dvc, user_id, PackageMoniker
//     (string or array), with the raw Windows names TimeCreated, EventID,
//     Computer and UserID as aliases; the canonical name wins.
//   - ecs: Winlogbeat / Elastic Agent documents (@timestamp, winlog.*,
//     winlog.event_data.*, falling back to event.code and host.name).
//   - xml: XmlWinEventLog as Splunk indexes it (System/EventID,
//     System/TimeCreated/@SystemTime, System/Computer,
//     System/Security/@UserID, EventData/Data[@Name]).
//   - avro: the Confluent wire format with schemas/event.avsc.
//   - auto: sniffs each record (0x00 Avro, '<' XML, '{' JSON), with one
//     parse. A JSON object is ECS when it has a winlog object, or an
//     @timestamp but no _time/TimeCreated (Logstash adds @timestamp to
//     normalized records too).
//
// What every decoder guarantees:
//
//   - It never panics. A record it cannot turn into an event gives a
//     *DecodeError whose Reason (a Reason* constant) is the metric label and
//     dead-letter header; nothing is dropped silently.
//   - Times are exact and in UTC: RFC 3339 with any offset and up to nine
//     fraction digits, epoch seconds read from the decimal text (never via
//     float64). A record without a time is an error (missing_time).
//   - Values are kept exactly (PackageMoniker's leading space survives;
//     EventCode is normalized to decimal integer text, "0855" -> "855").
//     JSON null and absent fields are missing; empty strings are kept as
//     empty values (rules treat them as missing, as SPL does).
//   - Kept strings are valid UTF-8 (else invalid_utf8). DecoderOptions.Fields
//     limits what is kept, and fields not kept are not inspected.
//   - Hostile input costs bounded work: XML is read with encoding/xml in
//     strict mode with no entity map, any DTD is refused, depth (64) and
//     token count (10000) are capped; Avro lengths and block counts are
//     checked against the bytes left before anything is allocated; one
//     record yields at most 4096 values.
//   - On the JSON and Avro paths a record costs one allocation after
//     warm-up: the kept values are copied into one string, which the Event's
//     values share. They never alias the record or decoder buffers, so an
//     Event may be kept after the next Decode.
//
// The record size limit is the caller's (the reader's max bytes), not the
// decoders'.
//
// The decoders must not import rules, aggregate or producer, nor know about
// partitions or offsets: they map bytes to an event and nothing else.
package consumer
