package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
)

// Conn is the connection settings of one cluster.
type Conn struct {
	Brokers  []string
	TLS      *tls.Config    // nil: plaintext
	SASL     sasl.Mechanism // nil: no authentication
	ClientID string
	// Timeout bounds each admin request and dial.
	Timeout time.Duration

	transport *kafka.Transport
}

// New validates the settings and prepares a shared transport.
func New(brokers []string, tlsCfg *tls.Config, mech sasl.Mechanism, clientID string) (*Conn, error) {
	var bs []string
	for _, b := range brokers {
		for _, s := range strings.Split(b, ",") {
			if s = strings.TrimSpace(s); s != "" {
				if _, _, err := net.SplitHostPort(s); err != nil {
					return nil, fmt.Errorf("broker %q: want host:port: %w", s, err)
				}
				bs = append(bs, s)
			}
		}
	}
	if len(bs) == 0 {
		return nil, errors.New("no brokers given (--brokers or MSIXGUARD_BROKERS)")
	}
	if clientID == "" {
		clientID = "msixguard"
	}
	c := &Conn{Brokers: bs, TLS: tlsCfg, SASL: mech, ClientID: clientID, Timeout: 10 * time.Second}
	c.transport = &kafka.Transport{
		DialTimeout: c.Timeout, TLS: tlsCfg, SASL: mech, ClientID: clientID,
		IdleTimeout: 30 * time.Second, MetadataTTL: 10 * time.Second,
	}
	return c, nil
}

// Transport is shared by every writer and client of the process.
func (c *Conn) Transport() *kafka.Transport { return c.transport }

// Client returns an admin/offsets client.
func (c *Conn) Client() *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(c.Brokers...), Transport: c.transport, Timeout: c.Timeout}
}

// Dialer is what kafka-go's ConsumerGroup and Reader use.
func (c *Conn) Dialer() *kafka.Dialer {
	return &kafka.Dialer{Timeout: c.Timeout, DualStack: true, TLS: c.TLS, SASLMechanism: c.SASL, ClientID: c.ClientID}
}

// Close releases idle connections.
func (c *Conn) Close() { c.transport.CloseIdleConnections() }

// TopicSpec is a topic msixguard needs.
type TopicSpec struct {
	Name       string
	Partitions int
	// Replication 0 means the broker default (-1).
	Replication int
	// Retention 0 means the broker default.
	Retention time.Duration
	// MustExist: never create it (the input topic belongs to the SIEM).
	MustExist bool
}

// Partitions returns the partition count of each existing topic.
func (c *Conn) Partitions(ctx context.Context, topics ...string) (map[string]int, error) {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	md, err := c.Client().Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return nil, fmt.Errorf("reach brokers %s: %w", strings.Join(c.Brokers, ","), err)
	}
	out := map[string]int{}
	for _, t := range md.Topics {
		if t.Error != nil {
			if errors.Is(t.Error, kafka.UnknownTopicOrPartition) {
				continue
			}
			return nil, fmt.Errorf("topic %s: %w", t.Name, t.Error)
		}
		out[t.Name] = len(t.Partitions)
	}
	return out, nil
}

// EnsureTopics checks that every topic exists, creating the missing ones
// when create is true, and returns their partition counts.
func (c *Conn) EnsureTopics(ctx context.Context, specs []TopicSpec, create bool) (map[string]int, error) {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	have, err := c.Partitions(ctx, names...)
	if err != nil {
		return nil, err
	}
	var missing []kafka.TopicConfig
	for _, s := range specs {
		if _, ok := have[s.Name]; ok {
			continue
		}
		if s.MustExist || !create {
			return nil, fmt.Errorf("topic %s does not exist (create it, or pass --create-topics for msixguard's own topics)", s.Name)
		}
		tc := kafka.TopicConfig{Topic: s.Name, NumPartitions: s.Partitions, ReplicationFactor: s.Replication}
		if tc.ReplicationFactor == 0 {
			tc.ReplicationFactor = -1
		}
		if s.Retention > 0 {
			tc.ConfigEntries = append(tc.ConfigEntries, kafka.ConfigEntry{ConfigName: "retention.ms", ConfigValue: fmt.Sprint(s.Retention.Milliseconds())})
		}
		missing = append(missing, tc)
	}
	if len(missing) > 0 {
		cctx, cancel := context.WithTimeout(ctx, c.Timeout)
		defer cancel()
		resp, err := c.Client().CreateTopics(cctx, &kafka.CreateTopicsRequest{Topics: missing})
		if err != nil {
			return nil, fmt.Errorf("create topics: %w", err)
		}
		for name, err := range resp.Errors {
			if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
				return nil, fmt.Errorf("create topic %s: %w", name, err)
			}
		}
		// Metadata can lag creation by a moment.
		for i := 0; i < 50; i++ {
			if have, err = c.Partitions(ctx, names...); err == nil && len(have) == len(specs) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if len(have) != len(specs) {
			return nil, fmt.Errorf("topics created but not visible in metadata: %v", names)
		}
	}
	return have, nil
}

// Bounds asks the leader of one partition where it starts (its log start
// offset: retention has deleted everything before) and ends (its high
// watermark). Each is asked in a request of its own: kafka-go files an
// answer by the timestamp the broker echoes, and Kafka echoes -1 ("last")
// for a "first" question too, so the two answers would collide.
func (c *Conn) Bounds(ctx context.Context, topic string, partition int) (first, end int64, err error) {
	ask := func(q kafka.OffsetRequest) (int64, error) {
		resp, err := c.Client().ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: {q}}})
		if err != nil {
			return -1, err
		}
		for _, p := range resp.Topics[topic] {
			if p.Partition != partition {
				continue
			}
			if p.Error != nil {
				return -1, p.Error
			}
			// The one question's answer, under whichever name it was filed.
			if o := max(p.FirstOffset, p.LastOffset); o >= 0 {
				return o, nil
			}
		}
		return -1, fmt.Errorf("no offset in the answer for %s/%d", topic, partition)
	}
	if first, err = ask(kafka.FirstOffsetOf(partition)); err != nil {
		return -1, -1, fmt.Errorf("list the first offset of %s/%d: %w", topic, partition, err)
	}
	if end, err = ask(kafka.LastOffsetOf(partition)); err != nil {
		return -1, -1, fmt.Errorf("list the end offset of %s/%d: %w", topic, partition, err)
	}
	return first, end, nil
}

// EndOffsets asks the partitions' leaders where each partition ends: the
// offset the next record written to it will get (its high watermark). A
// partition whose leader could not answer (none elected, fenced, not
// reachable) is left out, so callers treat it as unknown.
func (c *Conn) EndOffsets(ctx context.Context, parts map[string][]int) (map[string]map[int]int64, error) {
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for topic, ps := range parts {
		for _, p := range ps {
			// Only "last" requests: kafka-go files an answer by the timestamp
			// the broker echoes, and Kafka echoes -1 for "first" too.
			req.Topics[topic] = append(req.Topics[topic], kafka.LastOffsetOf(p))
		}
	}
	resp, err := c.Client().ListOffsets(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("list end offsets: %w", err)
	}
	out := map[string]map[int]int64{}
	for topic, ps := range resp.Topics {
		for _, p := range ps {
			if p.Error != nil || p.LastOffset < 0 {
				continue
			}
			if out[topic] == nil {
				out[topic] = map[int]int64{}
			}
			out[topic][p.Partition] = p.LastOffset
		}
	}
	return out, nil
}
