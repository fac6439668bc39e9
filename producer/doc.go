// Package producer owns what leaves msixguard: the risk message (its fields,
// deterministic id, rendered text, JSON and Avro encodings) and the writes to
// the risk, repartition and dead-letter topics.
//
// It turns aggregate results into RiskEvents; it must not decide what
// matches (package rules) or when a window closes (package aggregate).
package producer
