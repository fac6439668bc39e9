package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/segmentio/kafka-go"
	"github.com/spf13/cobra"

	"github.com/msixguard/msixguard/cluster"
	"github.com/msixguard/msixguard/consumer"
	"github.com/msixguard/msixguard/event"
	"github.com/msixguard/msixguard/pipeline"
	"github.com/msixguard/msixguard/producer"
)

func newReplayCmd() *cobra.Command {
	var (
		sec        securityFlags
		brokers    []string
		topic      string
		rate       int
		shift      bool
		batch      int
		maxRecord  int
		noProgress bool
	)
	c := &cobra.Command{
		Use:   "replay FILE --topic T --brokers B",
		Short: "Write a data set (NDJSON, XML, ECS) to a topic, optionally shifting event times to now",
		Long: `replay writes each record of FILE to a topic, like Splunk attack_data's replay:
one Kafka record per line or XML <Event>, spread over the partitions. With
--shift-to-now every event time is moved by the same amount so the latest
event lands at the current time (so a live msixguard treats it as fresh).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := applyConfig(cmd, ""); err != nil {
				return err
			}
			if topic == "" {
				return usageErr("replay needs --topic")
			}
			tc, mech, err := sec.build()
			if err != nil {
				return err
			}
			conn, err := cluster.New(brokers, tc, mech, "msixguard-replay")
			if err != nil {
				return usageErr("%w", err)
			}
			defer conn.Close()
			data, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("read data set: %w", err)
			}
			var recs [][]byte
			rr := pipeline.NewRecordReader(bytes.NewReader(data), maxRecord)
			for {
				rec, err := rr.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					return err
				}
				recs = append(recs, rec.Value)
			}
			if shift {
				if recs, err = shiftToNow(recs, time.Now()); err != nil {
					return err
				}
			}
			if _, err := conn.EnsureTopics(cmd.Context(), []cluster.TopicSpec{{Name: topic, MustExist: true}}, false); err != nil {
				return err
			}
			w := producer.NewWriter(conn, topic, &kafka.RoundRobin{})
			defer w.Close()
			var bar *progressbar.ProgressBar
			if !noProgress {
				bar = progressbar.NewOptions(len(recs), progressbar.OptionSetWriter(cmd.ErrOrStderr()),
					progressbar.OptionSetDescription("replaying"), progressbar.OptionShowCount(), progressbar.OptionShowIts(),
					progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionOnCompletion(func() { fmt.Fprintln(cmd.ErrOrStderr()) }))
			}
			start := time.Now()
			if batch < 1 {
				batch = 1
			}
			for i := 0; i < len(recs); i += batch {
				end := min(i+batch, len(recs))
				msgs := make([]kafka.Message, 0, end-i)
				for _, v := range recs[i:end] {
					msgs = append(msgs, kafka.Message{Value: v})
				}
				if err := w.Write(cmd.Context(), msgs...); err != nil {
					return err
				}
				if bar != nil {
					bar.Add(len(msgs))
				}
				if rate > 0 {
					// Pace to the requested records per second.
					if ahead := time.Duration(float64(end)/float64(rate)*float64(time.Second)) - time.Since(start); ahead > 0 {
						time.Sleep(ahead)
					}
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "replayed %d records to %s in %s\n", len(recs), topic, time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	sec.register(c)
	c.Flags().StringSliceVar(&brokers, "brokers", []string{"127.0.0.1:9092"}, "Kafka bootstrap brokers")
	c.Flags().StringVar(&topic, "topic", "", "topic to write to (must exist)")
	c.Flags().IntVar(&rate, "rate", 0, "records per second (0: as fast as possible)")
	c.Flags().BoolVar(&shift, "shift-to-now", false, "shift event times so the latest event is now")
	c.Flags().IntVar(&batch, "batch", 500, "records per produce request")
	c.Flags().IntVar(&maxRecord, "max-record-bytes", 1<<20, "largest record read from FILE")
	c.Flags().BoolVar(&noProgress, "no-progress", false, "no progress bar")
	return c
}

var systemTime = regexp.MustCompile(`SystemTime=(['"])([^'"]+)(['"])`)

// shiftToNow moves every record's event time by one offset so the latest
// lands at now, keeping the spacing between events (and so the windows).
func shiftToNow(recs [][]byte, now time.Time) ([][]byte, error) {
	dec, err := consumer.NewDecoder("auto", consumer.DecoderOptions{})
	if err != nil {
		return nil, err
	}
	var latest time.Time
	var ev event.Event
	for _, r := range recs {
		if dec.Decode(r, &ev) == nil && ev.Time.After(latest) {
			latest = ev.Time
		}
	}
	if latest.IsZero() {
		return recs, nil
	}
	delta := now.Sub(latest)
	out := make([][]byte, len(recs))
	for i, r := range recs {
		out[i] = shiftRecord(r, delta)
	}
	return out, nil
}

func shiftRecord(r []byte, delta time.Duration) []byte {
	if bytes.HasPrefix(bytes.TrimSpace(r), []byte("<")) {
		return systemTime.ReplaceAllFunc(r, func(m []byte) []byte {
			sub := systemTime.FindSubmatch(m)
			t, err := consumer.ParseTime(string(sub[2]))
			if err != nil {
				return m
			}
			return []byte(fmt.Sprintf("SystemTime=%s%s%s", sub[1], t.Add(delta).UTC().Format(time.RFC3339Nano), sub[3]))
		})
	}
	var doc map[string]any
	d := json.NewDecoder(bytes.NewReader(r))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil {
		return r
	}
	for _, k := range []string{"_time", "TimeCreated", "@timestamp"} {
		v, ok := doc[k]
		if !ok {
			continue
		}
		var t time.Time
		var err error
		switch x := v.(type) {
		case string:
			t, err = consumer.ParseTime(x)
		case json.Number:
			t, err = consumer.ParseEpoch(x.String())
		default:
			continue
		}
		if err == nil {
			doc[k] = t.Add(delta).UTC().Format(time.RFC3339Nano)
		}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return r
	}
	return b
}
