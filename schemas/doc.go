// Package schemas owns the Avro schemas of msixguard, embedded in the binary,
// and the Confluent wire-format framing around them.
//
// event.avsc is the input event (record msixguard.WindowsEvent) that the Avro
// decoder in package consumer reads; the producer's risk message schema will
// sit beside it. This package compiles schemas into goavro codecs and frames
// payloads; it holds no connection to a schema registry, no Kafka I/O and no
// decoding into events (package consumer does that), and imports no other
// package of this module.
package schemas
