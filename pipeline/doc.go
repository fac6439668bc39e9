// Package pipeline wires the stages into runnable jobs: `check` (files in,
// risk messages out, no Kafka), and the two-stage Kafka job. It owns the
// wiring only: decoding lives in consumer, matching in rules, windows in
// aggregate, output in producer. cmd/msixguard is its only importer.
package pipeline
