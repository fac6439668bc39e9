package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/msixguard/msixguard/cluster"
)

func createTopic(ctx context.Context, c *cluster.Conn, name string, partitions int) error {
	_, err := c.EnsureTopics(ctx, []cluster.TopicSpec{{Name: name, Partitions: partitions}}, true)
	return err
}

func deleteTopics(c *cluster.Conn, names ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c.Client().DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: names})
}

func listTopics(ctx context.Context, c *cluster.Conn) ([]string, error) {
	md, err := c.Client().Metadata(ctx, &kafka.MetadataRequest{})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range md.Topics {
		out = append(out, t.Name)
	}
	return out, nil
}

// endOffsets returns the next offset of every partition of topic.
func endOffsets(ctx context.Context, c *cluster.Conn, topic string) (map[int]int64, error) {
	parts, err := c.Partitions(ctx, topic)
	if err != nil {
		return nil, err
	}
	n := parts[topic]
	if n == 0 {
		return map[int]int64{}, nil
	}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for p := 0; p < n; p++ {
		req.Topics[topic] = append(req.Topics[topic], kafka.LastOffsetOf(p))
	}
	resp, err := c.Client().ListOffsets(ctx, req)
	if err != nil {
		return nil, err
	}
	out := map[int]int64{}
	for _, po := range resp.Topics[topic] {
		if po.Error != nil {
			return nil, po.Error
		}
		out[po.Partition] = po.LastOffset
	}
	return out, nil
}

func sumOffsets(m map[int]int64) int64 {
	var s int64
	for _, v := range m {
		s += v
	}
	return s
}

// committedAll reports whether group has committed end on every partition.
func committedAll(ctx context.Context, c *cluster.Conn, group, topic string, end map[int]int64) (bool, error) {
	var ps []int
	for p := range end {
		ps = append(ps, p)
	}
	resp, err := c.Client().OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: ps}})
	if err != nil {
		return false, err
	}
	got := map[int]int64{}
	for _, p := range resp.Topics[topic] {
		got[p.Partition] = p.CommittedOffset
	}
	for p, e := range end {
		if got[p] < e {
			return false, nil
		}
	}
	return true, nil
}

// waitUntil polls cond every 50 ms and returns the time it first held.
func waitUntil(ctx context.Context, timeout time.Duration, cond func() (bool, error)) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err == nil && ok {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return time.Time{}, err
			}
			return time.Time{}, fmt.Errorf("timed out after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// newProducer writes generated data: big batches, leader acks, no
// compression (none of the measured consumers pays for decompression).
func newProducer(c *cluster.Conn, topic string, bal kafka.Balancer) *kafka.Writer {
	return &kafka.Writer{
		Addr: kafka.TCP(c.Brokers...), Topic: topic, Transport: c.Transport(), Balancer: bal,
		RequiredAcks: kafka.RequireOne, BatchSize: 1000, BatchBytes: 900 << 10, BatchTimeout: 5 * time.Millisecond,
	}
}

// riskMsg is what the harness reads of an output message.
type riskMsg struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	Dest       string    `json:"dest"`
	DetectedAt time.Time `json:"detected_at"`
}

type arrival struct {
	msg   riskMsg
	value []byte
	at    time.Time
}

// collector reads every partition of an output topic from the start and
// keeps what arrives, with the wall clock of its arrival.
type collector struct {
	mu      sync.Mutex
	got     []arrival
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	onMatch func(arrival)
}

func collect(ctx context.Context, c *cluster.Conn, topic string, partitions int, onMsg func(arrival)) *collector {
	ctx, cancel := context.WithCancel(ctx)
	col := &collector{cancel: cancel, onMatch: onMsg}
	for p := 0; p < partitions; p++ {
		col.wg.Add(1)
		go func() {
			defer col.wg.Done()
			next := kafka.FirstOffset
			for ctx.Err() == nil {
				// A reader that fails (a broker starved by other work can
				// drop leadership for a moment) is made again at the next
				// offset rather than given up on.
				r := kafka.NewReader(kafka.ReaderConfig{
					Brokers: c.Brokers, Topic: topic, Partition: p, MinBytes: 1, MaxBytes: 16 << 20,
					MaxWait: 100 * time.Millisecond, ReadBackoffMin: 10 * time.Millisecond, ReadBackoffMax: 100 * time.Millisecond,
				})
				r.SetOffset(next)
				for {
					m, err := r.FetchMessage(ctx)
					if err != nil {
						break
					}
					next = m.Offset + 1
					a := arrival{at: time.Now(), value: m.Value}
					json.Unmarshal(m.Value, &a.msg)
					col.mu.Lock()
					col.got = append(col.got, a)
					col.mu.Unlock()
					if col.onMatch != nil {
						col.onMatch(a)
					}
				}
				r.Close()
				select {
				case <-ctx.Done():
				case <-time.After(300 * time.Millisecond):
				}
			}
		}()
	}
	return col
}

func (c *collector) snapshot() []arrival {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]arrival(nil), c.got...)
}

func (c *collector) stop() []arrival {
	c.cancel()
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]arrival(nil), c.got...)
}

// finals counts distinct ids of final messages whose dest passes keep, and
// the arrival time of the last new one.
func (c *collector) finals(keep func(string) bool) (int, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[string]bool{}
	var last time.Time
	for _, a := range c.got {
		if a.msg.Kind != "final" || !keep(a.msg.Dest) || seen[a.msg.ID] {
			continue
		}
		seen[a.msg.ID] = true
		if a.at.After(last) {
			last = a.at
		}
	}
	return len(seen), last
}
