package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/msixguard/msixguard/rules"
)

func newRulesImportCmd() *cobra.Command {
	var (
		outDir, rbaFile string
		macroFiles      []string
		sched           rules.Schedule
		force           bool
	)
	c := &cobra.Command{
		Use:   "import FILE.yml... [-o DIR]",
		Short: "Compile Splunk security_content detections into rule files",
		Long: `import reads detections in Splunk security_content's YAML format (name, id,
search, rba or the older tags risk fields, mitre_attack_id) and compiles their
SPL into msixguard rule files. The supported SPL subset is in docs/rules.md;
anything outside it is refused with the exact fragment and its byte offset in
the search, never approximated.

The schedule is the detection's own (deployment.scheduling) or ESCU's default
(cron 0 * * * *, -70m@m to -10m@m); --cron, --earliest and --latest replace it.
Source macros map through a macro table (built in: wineventlog_appxdeploymentserver);
--macros adds entries. A detection without risk annotations (a Hunting search)
needs --rba FILE with an rba block.

Without -o the rule files go to stdout, separated by ---. With -o each goes to
DIR/<id>.yml (existing files are kept unless --force). Exit 1 when any
detection could not be compiled; the others are still written.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			macros := rules.DefaultMacros()
			for _, f := range macroFiles {
				if err := macros.LoadMacros(f); err != nil {
					return usageErr("%w", err)
				}
			}
			opts := rules.ImportOptions{Macros: macros, Schedule: sched}
			if rbaFile != "" {
				data, err := os.ReadFile(rbaFile)
				if err != nil {
					return usageErr("%w", err)
				}
				if opts.RBA, err = rules.ParseRBA(rbaFile, data); err != nil {
					return usageErr("%w", err)
				}
			}
			if outDir != "" {
				if err := os.MkdirAll(outDir, 0o755); err != nil {
					return err
				}
			}
			out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
			failed, wrote := 0, 0
			for _, f := range args {
				data, err := os.ReadFile(f)
				if err == nil {
					var im *rules.Imported
					if im, err = rules.ImportDetection(f, data, opts); err == nil {
						if err = writeImported(im, f, outDir, force, wrote == 0, out, errOut); err == nil {
							wrote++
						}
					}
				}
				if err != nil {
					failed++
					fmt.Fprintln(errOut, "error:", err)
				}
			}
			if failed > 0 {
				return fmt.Errorf("%d of %d detections not imported", failed, len(args))
			}
			return nil
		},
	}
	c.Flags().StringVarP(&outDir, "output", "o", "", "write DIR/<id>.yml instead of stdout")
	c.Flags().BoolVar(&force, "force", false, "with -o, replace existing rule files")
	c.Flags().StringSliceVar(&macroFiles, "macros", nil, "macro table YAML files extending the built-in one")
	c.Flags().StringVar(&rbaFile, "rba", "", "rba block (security_content format) for detections without risk annotations")
	c.Flags().StringVar(&sched.Cron, "cron", "", "cron schedule replacing the detection's")
	c.Flags().StringVar(&sched.Earliest, "earliest", "", "earliest time replacing the detection's (e.g. -70m@m)")
	c.Flags().StringVar(&sched.Latest, "latest", "", "latest time replacing the detection's (e.g. -10m@m)")
	return c
}

func writeImported(im *rules.Imported, src, outDir string, force, first bool, out, errOut io.Writer) error {
	if outDir == "" {
		if !first {
			fmt.Fprintln(out, "---")
		}
		_, err := out.Write(im.YAML)
		return err
	}
	dst := filepath.Join(outDir, im.ID+".yml")
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if !force {
		flags |= os.O_EXCL
	}
	fh, err := os.OpenFile(dst, flags, 0o644)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s: %s exists (use --force to replace it)", src, dst)
	}
	if err != nil {
		return err
	}
	if _, err := fh.Write(im.YAML); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Close(); err != nil {
		return err
	}
	fmt.Fprintf(errOut, "%s -> %s\n", src, dst)
	return nil
}
