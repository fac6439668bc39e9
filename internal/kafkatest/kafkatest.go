// Package kafkatest gives tests a Kafka to talk to: the real Apache Kafka
// named by KAFKA_BROKERS (what .ci/run starts), or else an embedded kfake
// broker, so `go test ./...` needs nothing but Go.
package kafkatest

import (
	"os"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Brokers returns the bootstrap addresses, comma-separated. An embedded
// broker lives until the test ends.
func Brokers(tb testing.TB) string {
	tb.Helper()
	if b := os.Getenv("KAFKA_BROKERS"); b != "" {
		return b
	}
	return strings.Join(Fake(tb).ListenAddrs(), ",")
}

// Fake starts an embedded one-broker kfake cluster that lives until the
// test ends, for tests that intercept requests (ControlKey) whatever
// KAFKA_BROKERS says.
func Fake(tb testing.TB) *kfake.Cluster {
	tb.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return c
}
