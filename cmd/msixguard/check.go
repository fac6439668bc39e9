package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/msixguard/msixguard/aggregate"
	"github.com/msixguard/msixguard/consumer"
	"github.com/msixguard/msixguard/metrics"
	"github.com/msixguard/msixguard/pipeline"
	"github.com/msixguard/msixguard/producer"
	"github.com/msixguard/msixguard/rules"
)

// engineFlags are the detection settings shared by check, run and demo.
type engineFlags struct {
	rules       []string
	noBuiltin   bool
	tuning      string
	tz          string
	emit        string
	maxGroups   int
	inputFormat string
	maxRecord   int
}

func (f *engineFlags) register(c *cobra.Command, defaultEmit string) {
	c.Flags().StringVar(&f.inputFormat, "input-format", "auto", "input encoding: auto, json, xml, ecs, avro")
	c.Flags().StringSliceVar(&f.rules, "rules", nil, "extra rule files, directories, or pack:NAME (pack:appx) (repeatable); a rule with a built-in id replaces it")
	c.Flags().BoolVar(&f.noBuiltin, "no-builtin", false, "do not load the built-in rules")
	c.Flags().StringVar(&f.tuning, "tuning", "", "tuning allowlist file (the detection's _filter macro)")
	c.Flags().StringVar(&f.tz, "tz", "UTC", "time zone of firstTime/lastTime (IANA name)")
	c.Flags().StringVar(&f.emit, "emit", defaultEmit, "risk message kinds to emit: early, final, late (comma-separated)")
	c.Flags().IntVar(&f.maxGroups, "max-open-groups", aggregate.DefaultMaxGroups, "cap on open (window, group) states; matches beyond it are dropped and counted")
	c.Flags().IntVar(&f.maxRecord, "max-record-bytes", 1<<20, "largest record accepted; larger ones are bad records")
}

// engine is the compiled detection configuration.
type engine struct {
	format  consumer.Format
	rules   *rules.Set
	emitter *producer.Emitter
	opts    aggregate.Options
}

func (f *engineFlags) build() (*engine, error) {
	format, err := consumer.ParseFormat(f.inputFormat)
	if err != nil {
		return nil, usageErr("--input-format: %w", err)
	}
	loc, err := time.LoadLocation(f.tz)
	if err != nil {
		return nil, usageErr("--tz %q: %w", f.tz, err)
	}
	kinds, err := producer.ParseKinds(f.emit)
	if err != nil {
		return nil, usageErr("--%w", err)
	}
	if f.maxGroups < 1 {
		return nil, usageErr("--max-open-groups must be at least 1")
	}
	if f.maxRecord < 1 {
		return nil, usageErr("--max-record-bytes must be at least 1")
	}
	set, err := pipeline.LoadRules(f.rules, f.noBuiltin)
	if err != nil {
		return nil, usageErr("%w", err)
	}
	var allow *rules.Allowlist
	if f.tuning != "" {
		if allow, err = rules.LoadAllowlist(f.tuning); err != nil {
			return nil, usageErr("%w", err)
		}
	}
	return &engine{
		format: format, rules: set,
		emitter: &producer.Emitter{Allow: allow, Loc: loc, Kinds: kinds, Now: time.Now},
		opts:    aggregate.Options{MaxGroups: f.maxGroups},
	}, nil
}

func newCheckCmd() *cobra.Command {
	var (
		ef     engineFlags
		strict bool
	)
	c := &cobra.Command{
		Use:   "check [flags] FILE...",
		Short: "Run the detection over files (NDJSON, XML, ECS; - for stdin) and print risk messages as NDJSON",
		Long: `check runs the same engine as the Kafka job over files, offline. End of input
closes every window, so the output is what the Splunk search gives over the
same events. Risk messages go to stdout as NDJSON, a one-line summary to
stderr. Bad records are reported on stderr with their line and skipped
(--strict makes them fatal).

Exit status: 0 on success, 2 on usage errors, 1 when input could not be read.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErr("check needs at least one FILE (or - for stdin)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := ef.build()
			if err != nil {
				return err
			}
			return runCheck(cmd, args, eng, ef.maxRecord, strict)
		},
	}
	ef.register(c, "final")
	c.Flags().BoolVar(&strict, "strict", false, "stop at the first bad record (exit 1)")
	return c
}

func runCheck(cmd *cobra.Command, args []string, eng *engine, maxRecord int, strict bool) error {
	stderr := cmd.ErrOrStderr()
	var inputs []pipeline.Input
	var total int64
	for _, a := range args {
		if a == "-" {
			inputs = append(inputs, pipeline.Input{Name: "stdin", R: cmd.InOrStdin()})
			continue
		}
		f, err := os.Open(a)
		if err != nil {
			return fmt.Errorf("open input: %w", err)
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil {
			total += st.Size()
		}
		inputs = append(inputs, pipeline.Input{Name: a, R: f})
	}
	var progress func(int64)
	// A progress bar only helps a person watching a large file.
	if fd, ok := stderr.(*os.File); ok && term.IsTerminal(int(fd.Fd())) && total > 32<<20 {
		bar := progressbar.DefaultBytes(total, "checking")
		defer bar.Finish()
		progress = func(n int64) { bar.Add64(n) }
	}
	m := metrics.NewUnregistered()
	err := pipeline.Check(inputs, cmd.OutOrStdout(), pipeline.CheckOptions{
		Format: eng.format, Rules: eng.rules, Engine: eng.opts, Emitter: eng.emitter,
		MaxBytes: maxRecord, Strict: strict, Metrics: m, Progress: progress,
		BadRecord: func(src string, line int, err error) {
			fmt.Fprintf(stderr, "%s:%d: skipped: %v\n", src, line, err)
		},
	})
	fmt.Fprintln(stderr, pipeline.Summary(m))
	if errors.Is(err, pipeline.ErrBadRecord) {
		return &exitError{code: 1, err: err}
	}
	return err
}
