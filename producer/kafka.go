package producer

import (
	"bytes"
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
	HeaderOriginalBytes   = "msixguard-original-bytes" // set when a dead letter's value was cut
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

// maxRequestBytes bounds one produce call. Kafka's message.max.bytes
// (1 MB by default) limits a whole record batch, not one record, so bigger
// batches of small records fail as a block.
const maxRequestBytes = 900_000

// maxRequestRecords bounds the records of one produce call, so it fits one
// kafka-go batch per partition (BatchSize); kafka-go allocates a batch's
// full capacity up front, so the bound is kept small.
const maxRequestRecords = 1000

// MaxDeadLetterValue is the longest value a dead letter carries.
const MaxDeadLetterValue = 800_000

// NewWriter returns a synchronous writer for topic. The balancer may be nil
// (key hash).
func NewWriter(c *cluster.Conn, topic string, bal kafka.Balancer) *Writer {
	if bal == nil {
		bal = &kafka.Hash{}
	}
	return &Writer{topic: topic, w: &kafka.Writer{
		Addr: kafka.TCP(c.Brokers...), Topic: topic, Transport: c.Transport(), Balancer: bal,
		RequiredAcks: kafka.RequireAll,
		// Write sends at most maxRequestBytes per call, so a call is one
		// batch per partition: a partial failure cannot leave a gap that a
		// later batch of the same partition jumps over (stage 2 drops
		// matches at or below the highest source offset it has seen).
		BatchSize: maxRequestRecords, BatchBytes: 1 << 20, BatchTimeout: 2 * time.Millisecond,
		MaxAttempts: 5, WriteBackoffMin: 50 * time.Millisecond, WriteBackoffMax: time.Second,
		AllowAutoTopicCreation: false,
	}}
}

// Topic is the topic written to.
func (w *Writer) Topic() string { return w.topic }

// Write sends msgs, in order, in produce calls of at most maxRequestBytes
// and maxRequestRecords, and waits for each acknowledgement.
func (w *Writer) Write(ctx context.Context, msgs ...kafka.Message) error {
	for len(msgs) > 0 {
		n, size := 0, 0
		for n < len(msgs) {
			sz := recordSize(msgs[n])
			if n > 0 && (size+sz > maxRequestBytes || n == maxRequestRecords) {
				break
			}
			size += sz
			n++
		}
		if err := w.w.WriteMessages(ctx, msgs[:n]...); err != nil {
			var we kafka.WriteErrors
			if errors.As(err, &we) {
				return fmt.Errorf("write %d records to %s: %d failed: %w", n, w.topic, we.Count(), err)
			}
			return fmt.Errorf("write to %s: %w", w.topic, err)
		}
		msgs = msgs[n:]
	}
	return nil
}

// recordSize estimates a record's bytes in a batch.
func recordSize(m kafka.Message) int {
	n := len(m.Key) + len(m.Value) + 32
	for _, h := range m.Headers {
		n += len(h.Key) + len(h.Value) + 8
	}
	return n
}

// Close flushes and closes the writer.
func (w *Writer) Close() error { return w.w.Close() }

// DeadLetter builds the DLQ record of an input record that could not be
// used: original key, value and headers, plus why and where from. A value
// longer than maxValue (> 0) is cut to it, with its original length in a
// header: a dead letter the broker refuses would block its partition.
func DeadLetter(src kafka.Message, reason, detail string, at time.Time, maxValue int) kafka.Message {
	hs := append([]kafka.Header(nil), src.Headers...)
	value := src.Value
	if maxValue > 0 && len(value) > maxValue {
		value = value[:maxValue]
		hs = append(hs, kafka.Header{Key: HeaderOriginalBytes, Value: []byte(strconv.Itoa(len(src.Value)))})
	}
	// The key and value are copied: a consumer's fetcher reuses the memory
	// of the records it hands out, and a dead letter is written later.
	value = bytes.Clone(value)
	hs = append(hs,
		kafka.Header{Key: HeaderErrorReason, Value: []byte(reason)},
		kafka.Header{Key: HeaderError, Value: []byte(detail)},
		kafka.Header{Key: HeaderSourceTopic, Value: []byte(src.Topic)},
		kafka.Header{Key: HeaderSourcePartition, Value: []byte(strconv.Itoa(src.Partition))},
		kafka.Header{Key: HeaderSourceOffset, Value: []byte(strconv.FormatInt(src.Offset, 10))},
		kafka.Header{Key: HeaderFailedAt, Value: []byte(at.UTC().Format(time.RFC3339Nano))},
	)
	return kafka.Message{Key: bytes.Clone(src.Key), Value: value, Headers: hs}
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
