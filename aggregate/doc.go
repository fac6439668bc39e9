// Package aggregate owns event-time windows and group state: it folds
// matches (rules.Match) into per-(rule, window, by-fields) groups, keeps
// values() distinct, byte-sorted and capped, and finalizes windows when the
// watermark it is given passes their end plus the rule's lag.
//
// The engine never reads a clock: event time comes with each match, and the
// watermark is pushed in by the caller (stage 2 from watermark markers,
// `check` at end of input). That keeps it deterministic, so a replay after a
// crash produces the same groups and the same message ids.
//
// It must not know about Kafka, decoding or output encodings; an Engine is
// not safe for concurrent use (stage 2 runs one per repartition partition).
package aggregate
