package consumer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"

	"github.com/msixguard/msixguard/cluster"
	"github.com/msixguard/msixguard/metrics"
)

// PartitionFetcher reads one partition in order with kafka-go's
// Client.Fetch, one fetch ahead of its reader.
//
// It replaced kafka-go's Reader in both stages. The Reader allocates every
// record's key and value and hands each record through a channel: in the
// benchmark (docs/BENCHMARKS.md) that was 1.8 CPU µs per record before
// msixguard did anything, and a steady stream of garbage that kept the
// collector (and its write barriers, which the JSON decoder's reused tree
// pays for) running. A fetcher copies a whole fetch response into a reused
// buffer instead: records cost no allocation, and while the reader works
// through one response the next is already being fetched.
//
// A record's Key and Value are valid until the next call to Fetch; keep a
// copy to hold them longer.
type PartitionFetcher struct {
	topic     string
	partition int
	ready     chan *fetchBatch // filled, in offset order
	free      chan *fetchBatch // read through, for the fetch loop to refill
	cur       *fetchBatch
	i         int
	delivered int64        // offset after the last record handed out; -1: none yet
	fetchAt   atomic.Int64 // offset the fetch loop asks for next; -1: not known yet
	high      atomic.Int64 // high watermark in the latest response; -1: none yet
	cancel    context.CancelFunc
	done      chan struct{}
}

// FetchConfig configures a PartitionFetcher.
type FetchConfig struct {
	Conn      *cluster.Conn
	Topic     string
	Partition int
	Offset    int64 // first offset to read; negative: the partition's first
	MaxBytes  int   // bytes per fetch response at most (the first record batch always comes whole)
	MaxWait   time.Duration
	Log       zerolog.Logger
	Metrics   *metrics.Metrics // nil: none
	Now       func() time.Time // nil: time.Now; paces the warnings of a failing fetch
}

// fetchBatch is one fetch response, copied: records and their bytes.
type fetchBatch struct {
	recs []fetchRecord
	data []byte
}

type fetchRecord struct {
	offset     int64
	time       time.Time
	key, value span
	headers    []kafka.Header
	control    bool // a transaction marker
}

// span locates a key or value in fetchBatch.data; start < 0 is null.
type span struct{ start, end int }

// NewPartitionFetcher starts fetching; Close stops it.
func NewPartitionFetcher(cfg FetchConfig) *PartitionFetcher {
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 200 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &PartitionFetcher{
		topic: cfg.Topic, partition: cfg.Partition,
		ready: make(chan *fetchBatch, 1), free: make(chan *fetchBatch, 2),
		delivered: -1, cancel: cancel, done: make(chan struct{}),
	}
	f.fetchAt.Store(-1)
	f.high.Store(-1)
	// Two batches: the reader's and the one being filled (the channels
	// hold each at most once, so neither send blocks).
	f.free <- &fetchBatch{}
	f.free <- &fetchBatch{}
	go f.run(ctx, cfg)
	return f
}

// Close stops the fetch loop and waits for it.
func (f *PartitionFetcher) Close() {
	f.cancel()
	<-f.done
}

// Fetch returns the next record, or ctx's error when none came before ctx
// ended. control tells a transaction marker (commit or abort) that a
// transactional producer left in the partition: it has an offset but is no
// event. Fetch never fails otherwise: fetch errors are retried (logged and
// counted) until ctx ends, as kafka-go's Reader did.
func (f *PartitionFetcher) Fetch(ctx context.Context) (msg kafka.Message, control bool, err error) {
	for f.cur == nil || f.i >= len(f.cur.recs) {
		if f.cur != nil {
			f.free <- f.cur
			f.cur = nil
		}
		if err := ctx.Err(); err != nil {
			return kafka.Message{}, false, err
		}
		select {
		case b := <-f.ready:
			f.cur, f.i = b, 0
		case <-ctx.Done():
			return kafka.Message{}, false, ctx.Err()
		}
	}
	r := &f.cur.recs[f.i]
	f.i++
	f.delivered = r.offset + 1
	return kafka.Message{
		Topic: f.topic, Partition: f.partition, Offset: r.offset, Time: r.time,
		Key: f.cur.bytes(r.key), Value: f.cur.bytes(r.value), Headers: r.headers,
	}, r.control, nil
}

// Lag is how many records the partition holds beyond the last one handed
// out, as of the latest fetch response; 0 before the first.
func (f *PartitionFetcher) Lag() int64 {
	high := f.high.Load()
	at := f.delivered
	if at < 0 {
		at = f.fetchAt.Load()
	}
	if high < 0 || at < 0 {
		return 0
	}
	return max(high-at, 0)
}

// Position is the offset of the next record Fetch will return, or -1 while
// that is not known (before the first fetch, or while a fetched response
// waits). The idle probe compares it with the partition's end.
func (f *PartitionFetcher) Position() int64 {
	if f.cur != nil && f.i < len(f.cur.recs) {
		return f.cur.recs[f.i].offset
	}
	if len(f.ready) > 0 {
		return -1
	}
	return f.fetchAt.Load()
}

func (b *fetchBatch) bytes(s span) []byte {
	switch {
	case s.start < 0:
		return nil
	case s.start == s.end:
		return []byte{} // empty, not null (b.data may be nil); no allocation
	}
	return b.data[s.start:s.end:s.end]
}

// run is the fetch loop: fetch from at, copy the records at or after at
// into a free batch, hand it to the reader, and go on from the offset after
// its last record.
func (f *PartitionFetcher) run(ctx context.Context, cfg FetchConfig) {
	defer close(f.done)
	log := cfg.Log.With().Str("topic", cfg.Topic).Int("partition", cfg.Partition).Logger()
	client := cfg.Conn.Client()
	fails := failures{now: cfg.Now}
	at := cfg.Offset
	for ctx.Err() == nil {
		if at < 0 {
			first, _, err := cfg.Conn.Bounds(ctx, cfg.Topic, cfg.Partition)
			if err != nil {
				fails.note(ctx, err, log, cfg.Metrics, cfg.Topic)
				continue
			}
			at = first
		}
		f.fetchAt.Store(at)
		res, err := client.Fetch(ctx, &kafka.FetchRequest{
			Topic: cfg.Topic, Partition: cfg.Partition, Offset: at,
			MinBytes: 1, MaxBytes: int64(cfg.MaxBytes), MaxWait: cfg.MaxWait,
		})
		if err == nil && res.Error != nil {
			err = res.Error
		}
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, kafka.OffsetOutOfRange) {
			if at, err = outOfRange(ctx, cfg, at, log); err != nil {
				fails.note(ctx, err, log, cfg.Metrics, cfg.Topic)
			}
			continue
		}
		if err != nil {
			fails.note(ctx, err, log, cfg.Metrics, cfg.Topic)
			continue
		}
		f.high.Store(res.HighWatermark)
		var b *fetchBatch
		select {
		case b = <-f.free:
		case <-ctx.Done():
			return
		}
		next, skipped, err := b.fill(res.Records, at)
		switch {
		case err != nil:
			// A record set kafka-go could not parse: what was read of it
			// is handed on, and the rest is fetched again.
			fails.note(ctx, fmt.Errorf("read fetched records at offset %d: %w", at, err), log, cfg.Metrics, cfg.Topic)
		case len(b.recs) == 0 && skipped > 0:
			// Only records before at: a batch emptied by compaction.
			// kafka-go does not say where such a batch ends, so the
			// partition cannot move past it; say so rather than spin.
			fails.note(ctx, fmt.Errorf("the fetch at offset %d returned only earlier records (a batch emptied by log compaction?); high watermark %d", at, res.HighWatermark), log, cfg.Metrics, cfg.Topic)
		default:
			fails.recovered(log)
		}
		if len(b.recs) == 0 {
			f.free <- b
			continue
		}
		select {
		case f.ready <- b:
		case <-ctx.Done():
			return
		}
		at = next
	}
}

// outOfRange handles an offset the partition no longer (or not yet) has,
// as kafka-go's Reader did: before the log start (retention deleted records
// not yet read) it skips to the start, and says how many were lost; past
// the end (the log was truncated, an unclean leader election) it goes on
// from the end.
func outOfRange(ctx context.Context, cfg FetchConfig, at int64, log zerolog.Logger) (int64, error) {
	first, end, err := cfg.Conn.Bounds(ctx, cfg.Topic, cfg.Partition)
	switch {
	case err != nil:
		return at, err
	case at < first:
		log.Error().Int64("offset", at).Int64("log_start", first).Int64("lost", first-at).
			Msg("offset out of range: retention deleted records before they were read; going on from the log start")
		if cfg.Metrics != nil {
			cfg.Metrics.OffsetsSkipped.WithLabelValues(cfg.Topic).Add(float64(first - at))
		}
		return first, nil
	case at > end:
		log.Error().Int64("offset", at).Int64("end", end).
			Msg("offset out of range: the partition ends before it (truncated); going on from its end")
		return end, nil
	}
	return at, nil // in range by now (a leader change): fetch again
}

// fill copies the records of rs at or after offset at into b, and returns
// the offset after the last one and how many earlier records it skipped.
// Kafka answers with whole record batches, so the first may start before at.
func (b *fetchBatch) fill(rs kafka.RecordReader, at int64) (next int64, skipped int, err error) {
	// A buffer a backlog grew is let go once the fetches are small again
	// (the last one used under a quarter of it): a partition that caught
	// up should not keep a megabyte or two for good.
	if cap(b.data) > keepFetchBuffer && len(b.data) < cap(b.data)/4 {
		b.data = nil
	}
	if cap(b.recs) > keepFetchBuffer/64 && len(b.recs) < cap(b.recs)/4 {
		b.recs = nil
	}
	b.recs, b.data = b.recs[:0], b.data[:0]
	readers := []kafka.RecordReader{rs}
	if s, ok := rs.(*protocol.RecordStream); ok {
		readers = s.Records // walked here, not through the stream: it hides transaction markers, and their offsets count
	}
	for _, r := range readers {
		_, control := r.(*protocol.ControlBatch)
		for {
			rec, err := r.ReadRecord()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return at, skipped, err
			}
			if rec.Offset < at {
				skipped++
			} else {
				hs := rec.Headers
				if len(hs) > 0 {
					hs = append([]kafka.Header(nil), hs...)
				}
				b.recs = append(b.recs, fetchRecord{
					offset: rec.Offset, time: rec.Time, control: control, headers: hs,
					key: b.copy(rec.Key), value: b.copy(rec.Value),
				})
				at = rec.Offset + 1
			}
			closeBytes(rec.Key)
			closeBytes(rec.Value)
		}
	}
	return at, skipped, nil
}

// copy appends the bytes of v to b.data.
func (b *fetchBatch) copy(v protocol.Bytes) span {
	if v == nil {
		return span{-1, -1}
	}
	n := v.Len()
	start := len(b.data)
	b.data = slices.Grow(b.data, n)[:start+n]
	if _, err := io.ReadFull(v, b.data[start:]); err != nil {
		// The bytes are in memory already; a short read cannot happen.
		panic(fmt.Sprintf("fetch: copy a record of %d bytes: %v", n, err))
	}
	return span{start, start + n}
}

// closeBytes returns a key's or value's pages to kafka-go's pool.
func closeBytes(v protocol.Bytes) {
	if v != nil {
		v.Close()
	}
}

// failures paces the retries of a failing fetch loop: a backoff from 50 ms
// to 1 s, as kafka-go's Reader used, one warning when the failures start
// and one every 30 s while they last, and a counted error each time.
type failures struct {
	now     func() time.Time
	n       int
	started time.Time
	warned  time.Time
}

func (fl *failures) note(ctx context.Context, err error, log zerolog.Logger, m *metrics.Metrics, topic string) {
	if ctx.Err() != nil {
		return
	}
	now := fl.now()
	if fl.n == 0 {
		fl.started = now
	}
	fl.n++
	if m != nil {
		m.FetchErrors.WithLabelValues(topic).Inc()
	}
	if fl.n == 1 || now.Sub(fl.warned) >= 30*time.Second {
		fl.warned = now
		log.Warn().Err(err).Int("attempts", fl.n).Dur("failing_for", now.Sub(fl.started)).Msg("fetch failed; retrying")
	}
	backoff := min(50*time.Millisecond<<min(fl.n-1, 5), time.Second)
	t := time.NewTimer(backoff)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func (fl *failures) recovered(log zerolog.Logger) {
	if fl.n > 0 {
		log.Info().Int("attempts", fl.n).Dur("failed_for", fl.now().Sub(fl.started)).Msg("fetching again")
	}
	*fl = failures{now: fl.now}
}

// DefaultFetchBytes is the most a fetch response of one partition holds
// (Kafka's own max.partition.fetch.bytes default): a fetcher keeps two such
// responses, so it bounds the memory a partition costs while catching up.
const DefaultFetchBytes = 1 << 20

// keepFetchBuffer is the size up to which a fetch buffer is kept whatever
// its use.
const keepFetchBuffer = 64 << 10
