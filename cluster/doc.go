// Package cluster owns how msixguard talks to a Kafka cluster: broker
// addresses, TLS and SASL settings turned into kafka-go dialers, transports
// and clients, and the topic administration done at start (checking and
// creating topics). Stages (consumer, producer) take a *Conn; nothing else
// builds Kafka connections.
//
// Admin calls go through kafka.Client, which negotiates protocol versions;
// the legacy kafka.Conn admin methods speak versions Kafka 4 removed.
package cluster
