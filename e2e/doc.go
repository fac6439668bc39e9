// Package e2e holds end-to-end tests that run the msixguard binary as
// separate processes (so a replica can really be killed with SIGKILL)
// against the embedded broker, or against the real Kafka named by
// KAFKA_BROKERS. It has no production code.
package e2e
