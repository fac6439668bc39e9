package producer

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/msixguard/msixguard/cluster"
)

// Header names msixguard writes.
const (
	HeaderType            = "msixguard-type" // match | watermark
	HeaderDestPartition   = "msixguard-partition"
	HeaderSourceTopic     = "msixguard-source-topic"
	HeaderSourcePartition = "msixguard-source-partition"
	HeaderSourceOffset    = "msixguard-source-offset"
	HeaderError           = "msixguard-error"
	HeaderErrorReason     = "msixguard-error-reason"
	HeaderFailedAt        = "msixguard-failed-at"
	HeaderRule            = "msixguard-rule"
	HeaderKind            = "msixguard-kind"
	HeaderContentType     = "content-type"
)

// RouteBalancer puts a record on the partition named by its
// msixguard-partition header (watermark markers: one copy per partition),
// and otherwise hashes the key (matches: one group, one partition).
type RouteBalancer struct{}

// Balance implements kafka.Balancer.
func (RouteBalancer) Balance(msg kafka.Message, partitions ...int) int {
	for _, h := range msg.Headers {
		if h.Key == HeaderDestPartition {
			if p, err := strconv.Atoi(string(h.Value)); err == nil {
				for _, q := range partitions {
					if q == p {
						return p
					}
				}
			}
		}
	}
	h := fnv.New32a()
	h.Write(msg.Key)
	return partitions[int(h.Sum32()%uint32(len(partitions)))]
}

var _ kafka.Balancer = RouteBalancer{}

// Writer writes to one topic with acks from all in-sync replicas; every
// call returns only once the broker acknowledged the records (or failed),
// so callers commit input offsets only after their output is durable.
type Writer struct {
	w     *kafka.Writer
	topic string
}

// NewWriter returns a synchronous writer for topic. The balancer may be nil
// (key hash).
func NewWriter(c *cluster.Conn, topic string, bal kafka.Balancer) *Writer {
	if bal == nil {
		bal = &kafka.Hash{}
	}
	return &Writer{topic: topic, w: &kafka.Writer{
		Addr: kafka.TCP(c.Brokers...), Topic: topic, Transport: c.Transport(), Balancer: bal,
		RequiredAcks: kafka.RequireAll,
		// One WriteMessages call carries a flush; a large BatchSize keeps it
		// to one batch per partition, so a partial failure cannot leave a
		// gap that a later batch of the same partition jumps over.
		BatchSize: 100_000, BatchBytes: 64 << 20, BatchTimeout: 2 * time.Millisecond,
		MaxAttempts: 5, WriteBackoffMin: 50 * time.Millisecond, WriteBackoffMax: time.Second,
		AllowAutoTopicCreation: false,
	}}
}

// Topic is the topic written to.
func (w *Writer) Topic() string { return w.topic }

// Write sends msgs and waits for the acknowledgement.
func (w *Writer) Write(ctx context.Context, msgs ...kafka.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	if err := w.w.WriteMessages(ctx, msgs...); err != nil {
		var we kafka.WriteErrors
		if errors.As(err, &we) {
			return fmt.Errorf("write %d records to %s: %d failed: %w", len(msgs), w.topic, we.Count(), err)
		}
		return fmt.Errorf("write to %s: %w", w.topic, err)
	}
	return nil
}

// Close flushes and closes the writer.
func (w *Writer) Close() error { return w.w.Close() }

// DeadLetter builds the DLQ record of an input record that could not be
// used: original key, value and headers, plus why and where from.
func DeadLetter(src kafka.Message, reason, detail string, at time.Time) kafka.Message {
	hs := append([]kafka.Header(nil), src.Headers...)
	hs = append(hs,
		kafka.Header{Key: HeaderErrorReason, Value: []byte(reason)},
		kafka.Header{Key: HeaderError, Value: []byte(detail)},
		kafka.Header{Key: HeaderSourceTopic, Value: []byte(src.Topic)},
		kafka.Header{Key: HeaderSourcePartition, Value: []byte(strconv.Itoa(src.Partition))},
		kafka.Header{Key: HeaderSourceOffset, Value: []byte(strconv.FormatInt(src.Offset, 10))},
		kafka.Header{Key: HeaderFailedAt, Value: []byte(at.UTC().Format(time.RFC3339Nano))},
	)
	return kafka.Message{Key: src.Key, Value: src.Value, Headers: hs}
}

// RiskRecord builds the Kafka record of a risk message.
func RiskRecord(ev *RiskEvent, enc Encoder) (kafka.Message, error) {
	v, err := enc.Encode(ev)
	if err != nil {
		return kafka.Message{}, err
	}
	return kafka.Message{Key: ev.Key(), Value: v, Headers: []kafka.Header{
		{Key: HeaderRule, Value: []byte(ev.RuleID)},
		{Key: HeaderKind, Value: []byte(ev.Kind)},
		{Key: HeaderContentType, Value: []byte(enc.ContentType())},
	}}, nil
}

// Header returns the value of the named header, or nil.
func Header(hs []kafka.Header, key string) []byte {
	for _, h := range hs {
		if h.Key == key {
			return h.Value
		}
	}
	return nil
}
