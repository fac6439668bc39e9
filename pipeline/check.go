package pipeline

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/msixguard/msixguard/aggregate"
	"github.com/msixguard/msixguard/consumer"
	"github.com/msixguard/msixguard/event"
	"github.com/msixguard/msixguard/metrics"
	"github.com/msixguard/msixguard/producer"
	"github.com/msixguard/msixguard/rules"
)

// CheckOptions configure an offline run.
type CheckOptions struct {
	Format   consumer.Format
	Rules    *rules.Set
	Engine   aggregate.Options
	Emitter  *producer.Emitter // Kinds, Allow, Loc, Now; Metrics is set by Check
	MaxBytes int               // largest record accepted
	Strict   bool              // a bad record stops the run
	// BadRecord is told about each record that could not be used.
	BadRecord func(source string, line int, err error)
	// Progress is told how many input bytes were consumed so far.
	Progress func(bytes int64)
	Metrics  *metrics.Metrics
}

// Input is one named input stream.
type Input struct {
	Name string
	R    io.Reader
}

// ErrBadRecord wraps the first bad record of a --strict run.
var ErrBadRecord = errors.New("bad record")

// Check runs the engine over inputs and writes risk messages as NDJSON to
// out. End of input closes every window, as a Splunk search over the same
// data would see it.
func Check(inputs []Input, out io.Writer, o CheckOptions) error {
	dec, err := consumer.NewDecoder(o.Format, consumer.DecoderOptions{Fields: o.Rules.Fields()})
	if err != nil {
		return err
	}
	m := o.Metrics
	em := *o.Emitter
	em.Metrics = m
	eng := aggregate.New(o.Rules.Rules, o.Engine)
	write := func(rs []aggregate.Result) error {
		for _, ev := range em.Messages(rs) {
			b, err := ev.MarshalJSON() // not json.Marshal: it would re-escape HTML characters
			if err != nil {
				return err
			}
			if _, err := out.Write(append(b, '\n')); err != nil {
				return fmt.Errorf("write output: %w", err)
			}
		}
		return nil
	}
	var ev event.Event
	for _, in := range inputs {
		cr := &countingReader{r: in.R, progress: o.Progress}
		rr := NewRecordReader(cr, o.MaxBytes)
		for {
			rec, err := rr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("%s: %w", in.Name, err)
			}
			m.RecordsConsumed.WithLabelValues(in.Name).Inc()
			if rec.TooLarge {
				m.DecodeErrors.WithLabelValues(string(o.Format), "record_too_large").Inc()
				bad := fmt.Errorf("record larger than %d bytes", o.MaxBytes)
				if err := o.bad(in.Name, rec.Line, bad); err != nil {
					return err
				}
				continue
			}
			if err := dec.Decode(rec.Value, &ev); err != nil {
				var de *consumer.DecodeError
				if errors.As(err, &de) {
					m.DecodeErrors.WithLabelValues(string(de.Format), de.Reason).Inc()
				} else {
					m.DecodeErrors.WithLabelValues(string(o.Format), "other").Inc()
				}
				if err := o.bad(in.Name, rec.Line, err); err != nil {
					return err
				}
				continue
			}
			var werr error
			matched := o.Rules.Detect(&ev, func(r *rules.Rule, match rules.Match, drop rules.DropReason) {
				m.Matched.WithLabelValues(r.ID).Inc()
				if drop != "" {
					m.Dropped.WithLabelValues(string(drop)).Inc()
					return
				}
				results, dropped := eng.Add(match)
				if dropped != "" {
					m.Dropped.WithLabelValues(dropped).Inc()
				}
				if werr == nil {
					werr = write(results)
				}
			})
			if werr != nil {
				return werr
			}
			if !matched {
				m.Unmatched.Inc()
			}
		}
	}
	return write(eng.Flush())
}

func (o CheckOptions) bad(source string, line int, err error) error {
	if o.BadRecord != nil {
		o.BadRecord(source, line, err)
	}
	if o.Strict {
		return fmt.Errorf("%s:%d: %w: %w", source, line, ErrBadRecord, err)
	}
	return nil
}

type countingReader struct {
	r        io.Reader
	n        int64
	progress func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.progress != nil && n > 0 {
		c.progress(int64(n))
	}
	return n, err
}

// Summary renders the one-line account of a run from its metrics:
// records in, what happened to them, and what came out.
func Summary(m *metrics.Metrics) string {
	var b strings.Builder
	fmt.Fprintf(&b, "records=%d matched=%d unmatched=%d decode_errors=%d",
		int64(metrics.Sum(m.RecordsConsumed)), int64(metrics.Sum(m.Matched)), int64(metrics.Sum(m.Unmatched)), int64(metrics.Sum(m.DecodeErrors)))
	dropped := metrics.ByLabel(m.Dropped, "reason")
	reasons := make([]string, 0, len(dropped))
	for r := range dropped {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		fmt.Fprintf(&b, " dropped_%s=%d", r, int64(dropped[r]))
	}
	fmt.Fprintf(&b, " suppressed=%d late=%d risk_messages=%d",
		int64(metrics.Sum(m.Suppressed)), int64(metrics.Sum(m.LateEvents)), int64(metrics.Sum(m.RiskMessages)))
	return b.String()
}
