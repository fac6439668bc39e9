package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/msixguard/msixguard/metrics"
	"github.com/msixguard/msixguard/pipeline"
	"github.com/msixguard/msixguard/rules"
)

func newRulesCmd() *cobra.Command {
	c := &cobra.Command{Use: "rules", Short: "List, validate, test and import detection rules"}
	c.AddCommand(newRulesListCmd(), newRulesValidateCmd(), newRulesTestCmd(), newRulesImportCmd())
	return c
}

func newRulesListCmd() *cobra.Command {
	var paths []string
	var noBuiltin bool
	c := &cobra.Command{
		Use:   "list",
		Short: "List the rules that would run",
		RunE: func(cmd *cobra.Command, _ []string) error {
			set, err := pipeline.LoadRules(paths, noBuiltin)
			if err != nil {
				return usageErr("%w", err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tBY\tWINDOW\tOFFSET\tLAG\tSCORE\tSOURCE")
			for _, r := range set.Rules {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", r.ID, strings.Join(r.By, ","), r.Window.Size, r.Window.Offset, r.Window.Lag, r.Risk.Score, r.Source)
			}
			return tw.Flush()
		},
	}
	c.Flags().StringSliceVar(&paths, "rules", nil, "extra rule files or directories, or pack:NAME (rule packs: pack:appx)")
	c.Flags().BoolVar(&noBuiltin, "no-builtin", false, "do not load the built-in rules")
	return c
}

func newRulesValidateCmd() *cobra.Command {
	var tuning []string
	c := &cobra.Command{
		Use:   "validate [--tuning FILE] [RULE_FILE|DIR...]",
		Short: "Check rule and tuning files; print file:line: reason for the first error",
		RunE: func(cmd *cobra.Command, args []string) error {
			set, err := pipeline.LoadRules(args, false)
			if err != nil {
				return usageErr("%w", err)
			}
			for _, t := range tuning {
				if _, err := rules.LoadAllowlist(t); err != nil {
					return usageErr("%w", err)
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ok: %d rules, %d tuning files\n", len(set.Rules), len(tuning))
			return nil
		},
	}
	c.Flags().StringSliceVar(&tuning, "tuning", nil, "tuning allowlist files to validate")
	return c
}

func newRulesTestCmd() *cobra.Command {
	var (
		ef             engineFlags
		events, expect string
	)
	c := &cobra.Command{
		Use:   "test RULE --events FILE --expect FILE",
		Short: "Run one rule (id or file) over events and compare with expected risk messages",
		Long: `test runs one rule over an events file, like check, and compares the risk
messages with an expected NDJSON file as sets, ignoring detected_at. It exits 1
and prints the difference when they differ.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if events == "" || expect == "" {
				return usageErr("rules test needs --events and --expect")
			}
			if _, err := os.Stat(args[0]); err == nil {
				ef.rules = append(ef.rules, args[0])
			}
			eng, err := ef.build()
			if err != nil {
				return err
			}
			id := args[0]
			if r, err := rules.LoadFile(args[0]); err == nil {
				id = r.ID
			}
			r, ok := eng.rules.Rule(id)
			if !ok {
				return usageErr("no rule %q (see msixguard rules list)", id)
			}
			if eng.rules, err = rules.NewSet([]*rules.Rule{r}); err != nil {
				return err
			}
			f, err := os.Open(events)
			if err != nil {
				return fmt.Errorf("open events: %w", err)
			}
			defer f.Close()
			var got bytes.Buffer
			m := metrics.NewUnregistered()
			if err := pipeline.Check([]pipeline.Input{{Name: events, R: f}}, &got, pipeline.CheckOptions{
				Format: eng.format, Rules: eng.rules, Engine: eng.opts, Emitter: eng.emitter, MaxBytes: ef.maxRecord, Metrics: m,
				BadRecord: func(src string, line int, err error) {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s:%d: skipped: %v\n", src, line, err)
				},
			}); err != nil {
				return err
			}
			want, err := os.ReadFile(expect)
			if err != nil {
				return fmt.Errorf("read expected: %w", err)
			}
			missing, extra, err := pipeline.DiffMessages(want, got.Bytes())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, s := range missing {
				fmt.Fprintln(out, "missing:   ", s)
			}
			for _, s := range extra {
				fmt.Fprintln(out, "unexpected:", s)
			}
			if len(missing)+len(extra) > 0 {
				return fmt.Errorf("rule %s: %d missing, %d unexpected risk messages", id, len(missing), len(extra))
			}
			fmt.Fprintf(out, "ok: rule %s gives the %d expected risk messages (%s)\n", id, bytes.Count(got.Bytes(), []byte{'\n'}), pipeline.Summary(m))
			return nil
		},
	}
	ef.register(c, "final")
	c.Flags().StringVar(&events, "events", "", "events file (NDJSON, XML, ECS)")
	c.Flags().StringVar(&expect, "expect", "", "expected risk messages (NDJSON)")
	return c
}
