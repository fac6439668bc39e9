package pipeline

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/msixguard/msixguard/cluster"
	"github.com/msixguard/msixguard/metrics"
)

// saslConn connects to the SASL_SSL listener scripts/kafka opens
// (KAFKA_SASL_BROKERS, KAFKA_SASL_USER, KAFKA_SASL_PASSWORD, KAFKA_TLS_CA).
func saslConn(t *testing.T, password string) *cluster.Conn {
	t.Helper()
	brokers := os.Getenv("KAFKA_SASL_BROKERS")
	if brokers == "" {
		t.Skip("KAFKA_SASL_BROKERS not set: no SASL_SSL broker (run .ci/run)")
	}
	pem, err := os.ReadFile(os.Getenv("KAFKA_TLS_CA"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("no CA in KAFKA_TLS_CA")
	}
	mech, err := scram.Mechanism(scram.SHA512, os.Getenv("KAFKA_SASL_USER"), password)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := cluster.New([]string{brokers}, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, mech, "msixguard-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return conn
}

func TestJobOverSASLSSL(t *testing.T) {
	conn := saslConn(t, os.Getenv("KAFKA_SASL_PASSWORD"))
	want := expectedFromCheck(t, mixedCase)
	j := newTestJob(t, 3)
	j.conn = conn // the job, the producer and the reader all go over SASL_SSL
	j.start(t, metrics.NewUnregistered())
	j.produce(t, mixedCase, 0, -1)
	got, _ := j.collect(t, len(want), 60*time.Second)
	assertSameSet(t, want, got)
}

func TestWrongPasswordFailsClearly(t *testing.T) {
	conn := saslConn(t, "not-the-password")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := conn.Partitions(ctx)
	if err == nil {
		t.Fatal("a wrong SASL password was accepted")
	}
	if !strings.Contains(strings.ToLower(err.Error()), "authentication") {
		t.Fatalf("error does not say authentication failed: %v", err)
	}
	t.Logf("wrong password: %v", err)
}
