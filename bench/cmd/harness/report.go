package main

import (
	"encoding/json"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// find returns the throughput row whose name starts with prefix.
func (res *results) find(prefix string) *throughput {
	for i := range res.Throughput {
		if strings.HasPrefix(res.Throughput[i].Name, prefix) && res.Throughput[i].RecPerSec > 0 {
			return &res.Throughput[i]
		}
	}
	return nil
}

// ceilingRate is the mean of the kafka-go loop runs (one before, one after
// the others, to show drift on a shared machine).
func (res *results) ceilingRate() float64 {
	var s float64
	n := 0
	for _, t := range res.Throughput {
		if strings.HasPrefix(t.Name, "kafka-go group loop") && t.RecPerSec > 0 {
			s += t.RecPerSec
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return s / float64(n)
}

// localCeiling is the mean of the ceiling runs next to row i (the one
// before and the one after it), or the mean of all when it has none.
func (res *results) localCeiling(i int) float64 {
	isC := func(t throughput) bool { return strings.HasPrefix(t.Name, "kafka-go group loop") && t.RecPerSec > 0 }
	var s float64
	n := 0
	for j := i - 1; j >= 0; j-- {
		if isC(res.Throughput[j]) {
			s += res.Throughput[j].RecPerSec
			n++
			break
		}
	}
	for j := i + 1; j < len(res.Throughput); j++ {
		if isC(res.Throughput[j]) {
			s += res.Throughput[j].RecPerSec
			n++
			break
		}
	}
	if n == 0 {
		return res.ceilingRate()
	}
	return s / float64(n)
}

// local is localCeiling of a row found by name.
func (res *results) local(t *throughput) float64 {
	for i := range res.Throughput {
		if &res.Throughput[i] == t {
			return res.localCeiling(i)
		}
	}
	return res.ceilingRate()
}

func ratio(a, b float64) string {
	if a == 0 || b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func summary(res *results) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("## Run %s: %d records, msixguard %s\n\n", res.RunID, res.Records, res.Machine["commit"])
	p("Machine: %s, %s CPUs, %s RAM, Linux %s, %s, %s; Kafka %s. Load average (1/5/15 min) at start %s, at end %s.\n\n",
		res.Machine["cpu"], res.Machine["cpus"], res.Machine["memory"], res.Machine["kernel"], res.Machine["go"], res.Machine["java"], res.Machine["kafka"],
		res.Machine["loadavg_start"], res.LoadEnd)
	var fm []string
	for _, f := range formatNames {
		if n := res.FormatMix[f]; n > 0 {
			fm = append(fm, fmt.Sprintf("%s %d (avg %.0f B)", f, n, res.AvgBytes[f]))
		}
	}
	p("Input: %d records + %d closing records, %d MiB, %d partitions, event time spanning %s; %s; %d counted matches; %d expected final risk messages.\n\n",
		res.Records, res.Partitions, res.Bytes>>20, res.Partitions, res.Span, strings.Join(fm, ", "), res.Matches, res.Finals)

	ceil := res.ceilingRate()
	p("### Throughput (records/s from group joined to done; ratios inside this run)\n\n")
	p("| consumer | records/s | ÷ mean ceiling | ÷ neighbouring ceilings | CPU s per 1M records | peak RSS | load before | note |\n|---|---|---|---|---|---|---|---|\n")
	for i, t := range res.Throughput {
		if t.RecPerSec == 0 {
			p("| %s | — | — | — | — | — | %s | %s |\n", t.Name, t.Load, t.Note)
			continue
		}
		p("| %s | %.0f | %s | %s | %.2f | %d MiB | %s | %s |\n", t.Name, t.RecPerSec, ratio(t.RecPerSec, ceil), ratio(t.RecPerSec, res.localCeiling(i)), t.CPUPerM, t.PeakRSS>>20, t.Load, t.Note)
	}
	p("\n")
	s1, pl, ks, perf := res.find("msixguard stage 1"), res.find("msixguard whole"), res.find("Kafka Streams"), res.find("Kafka ConsumerPerformance")
	p("### Ratios against the targets of issue 5\n\n| ratio | value | target |\n|---|---|---|\n")
	get := func(t *throughput) float64 {
		if t == nil {
			return 0
		}
		return t.RecPerSec
	}
	p("| msixguard stage 1 ÷ kafka-go ceiling (neighbouring runs) | %s | ≥ 0.80× |\n", ratio(get(s1), res.local(s1)))
	p("| msixguard stage 1 ÷ kafka-go ceiling (mean of all runs) | %s | ≥ 0.80× |\n", ratio(get(s1), ceil))
	if s1 != nil {
		if c := res.find("kafka-go group loop"); c != nil {
			p("| CPU per record: msixguard stage 1 ÷ kafka-go loop | %s | — |\n", ratio(s1.CPUPerM, c.CPUPerM))
		}
	}
	p("| msixguard stage 1 ÷ ConsumerPerformance | %s | — |\n", ratio(get(s1), get(perf)))
	if fl := res.find("msixguard fetcher loop"); fl != nil && s1 != nil {
		p("| msixguard stage 1 ÷ msixguard fetcher loop (same read path, counting only) | %s | — |\n", ratio(get(s1), get(fl)))
		if c := res.find("kafka-go group loop"); c != nil {
			p("| CPU per record: msixguard fetcher loop ÷ kafka-go loop | %s | — |\n", ratio(fl.CPUPerM, c.CPUPerM))
		}
	}
	p("| msixguard whole pipeline ÷ kafka-go ceiling (neighbouring runs) | %s | — |\n", ratio(get(pl), res.local(pl)))
	p("| msixguard whole pipeline ÷ Kafka Streams | %s | ≥ 2× |\n", ratio(get(pl), get(ks)))
	p("| Kafka Streams ÷ kafka-go ceiling (neighbouring runs) | %s | — |\n", ratio(get(ks), res.local(ks)))
	if pl != nil && ks != nil {
		p("| (msixguard ÷ its ceilings) ÷ (Kafka Streams ÷ its ceilings) | %s | ≥ 2× |\n", ratio(get(pl)/res.local(pl), get(ks)/res.local(ks)))
	}
	if pl != nil && ks != nil {
		p("| CPU per record: Kafka Streams ÷ msixguard pipeline | %s | — |\n", ratio(ks.CPUPerM, pl.CPUPerM))
		p("| peak RSS: Kafka Streams ÷ msixguard pipeline | %s | — |\n", ratio(float64(ks.PeakRSS), float64(pl.PeakRSS)))
	}
	if pl != nil && res.Stage1InPipeline > 0 {
		p("| stage 1 inside the pipeline: records/s ÷ kafka-go ceiling | %s | — |\n", ratio(float64(res.Records)/res.Stage1InPipeline, ceil))
	}
	p("\n")
	if len(res.Compare) > 0 {
		p("### Output comparison (final messages, contract fields; `pipeline.DiffMessages`)\n\n| comparison | want | got | missing | extra |\n|---|---|---|---|---|\n")
		for _, c := range res.Compare {
			p("| %s | %d | %d | %d | %d |\n", c.Name, c.Want, c.Got, c.Missing, c.Extra)
		}
		if res.KStreams != "" {
			p("\nKafka Streams peer counters: %s.\n", res.KStreams)
		}
		p("\n")
	}
	if len(res.Latency) > 0 {
		p("### Early-alert latency (`--emit early`), produce → risk message at the reader\n\n")
		p("| load | early messages back | p50 | p90 | p99 | p99 after the first seconds | max | target |\n|---|---|---|---|---|---|---|---|\n")
		for _, l := range res.Latency {
			steady := "—"
			if l.WarmupS > 0 {
				steady = fmt.Sprintf("%.0f ms (after %.0f s)", l.P99Steady, l.WarmupS)
			}
			p("| %.0f records/s (asked %d = %.2f × the pipeline's measured max) | %d of %d | %.0f ms | %.0f ms | %.0f ms | %s | %.0f ms | p99 < 500 ms at ½ max |\n",
				l.AchievedRate, l.TargetRate, l.Fraction, l.Received, l.Sent, l.P50, l.P90, l.P99, steady, l.Max)
		}
		p("\n")
		for _, l := range res.Latency {
			if l.P99Built > 0 {
				p("At %.2f × max, split at the message's `detected_at`: p99 produce → built by msixguard %.0f ms, built → at the harness's reader %.0f ms; slowest per second of the phase: produce → built %v ms, built → reader %v ms.\n\n",
					l.Fraction, l.P99Built, l.P99Delivered, l.MaxBuiltPerS, l.MaxDelivPerS)
			}
		}
	}
	if len(res.Memory) > 0 {
		p("### Memory per open group (`aggregate.Engine`, live heap after GC)\n\n| open groups | bytes per group | heap | process RSS | target |\n|---|---|---|---|---|\n")
		for _, m := range res.Memory {
			p("| %d | %.0f | %.1f MiB | %.1f MiB | < 1024 B/group; 1M < 1 GiB RSS |\n", m.Groups, m.BytesPerGroup, float64(m.HeapBytes)/(1<<20), float64(m.RSS)/(1<<20))
		}
		p("\n")
	}
	p("Harness wall time: %.0f s.\n", res.Seconds)
	return b.String()
}

// plot draws throughput and CPU bars and the latency of every early
// message over time, as a self-contained SVG.
func plot(res *results) string {
	const W, H = 960, 560
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", W, H, W, H)
	p(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	p(`<text x="16" y="24" font-size="16" font-weight="bold">msixguard benchmark, run %s: %d records, %d partitions (shared 2-core machine: compare ratios, not absolutes)</text>`+"\n", res.RunID, res.Records, res.Partitions)

	var rows []throughput
	for _, t := range res.Throughput {
		if t.RecPerSec > 0 {
			rows = append(rows, t)
		}
	}
	ceil := res.ceilingRate()
	colors := map[string]string{"kafka-go": "#9e9e9e", "Kafka Con": "#bdbdbd", "msixguard": "#1f77b4", "Kafka Str": "#d62728"}
	color := func(name string) string {
		for k, c := range colors {
			if strings.HasPrefix(name, k) {
				return c
			}
		}
		return "#555"
	}
	bars := func(x0, y0, w int, title string, val func(throughput) float64, label func(throughput) string) {
		p(`<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", x0, y0, html.EscapeString(title))
		max := 0.0
		for _, t := range rows {
			max = math.Max(max, val(t))
		}
		if max == 0 {
			return
		}
		labelW, bh := 250, 22
		for i, t := range rows {
			y := y0 + 12 + i*(bh+6)
			bw := int(float64(w-labelW-130) * val(t) / max)
			p(`<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", x0+labelW-6, y+bh-7, html.EscapeString(t.Name))
			p(`<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>`+"\n", x0+labelW, y, bw, bh, color(t.Name))
			p(`<text x="%d" y="%d">%s</text>`+"\n", x0+labelW+bw+4, y+bh-7, html.EscapeString(label(t)))
		}
	}
	bars(16, 56, 560, "Throughput, records/s (÷ mean kafka-go ceiling)", func(t throughput) float64 { return t.RecPerSec },
		func(t throughput) string { return fmt.Sprintf("%.0f (%s)", t.RecPerSec, ratio(t.RecPerSec, ceil)) })
	bars(16, 300, 560, "CPU seconds per million records (lower is better)", func(t throughput) float64 { return t.CPUPerM },
		func(t throughput) string { return fmt.Sprintf("%.2f s", t.CPUPerM) })

	// Latency panel.
	x0, y0, pw, ph := 610, 70, 320, 400
	p(`<text x="%d" y="%d" font-weight="bold">Early-alert latency (ms) vs time in the run</text>`+"\n", x0-20, y0-14)
	p(`<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>`+"\n", x0, y0, pw, ph)
	if len(res.Latency) > 0 && len(res.Latency[0].Series) > 0 {
		l := res.Latency[0]
		maxT, maxL := 0.0, 600.0
		for _, s := range l.Series {
			maxT = math.Max(maxT, s[0])
			maxL = math.Max(maxL, s[1])
		}
		maxL = math.Ceil(maxL/100) * 100
		X := func(t float64) float64 { return float64(x0) + float64(pw)*t/math.Max(maxT, 1) }
		Y := func(ms float64) float64 { return float64(y0+ph) - float64(ph)*ms/maxL }
		for v := 0.0; v <= maxL; v += maxL / 5 {
			p(`<text x="%d" y="%.0f" text-anchor="end" font-size="10">%.0f</text>`+"\n", x0-4, Y(v)+3, v)
		}
		p(`<text x="%d" y="%d" text-anchor="middle" font-size="10">seconds since the load started (0 – %.0f)</text>`+"\n", x0+pw/2, y0+ph+16, maxT)
		step := 1
		if len(l.Series) > 2000 {
			step = len(l.Series) / 2000
		}
		for i := 0; i < len(l.Series); i += step {
			s := l.Series[i]
			p(`<circle cx="%.1f" cy="%.1f" r="1.3" fill="#1f77b4" fill-opacity="0.5"/>`+"\n", X(s[0]), Y(s[1]))
		}
		line := func(v float64, c, name string) {
			p(`<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="%s" stroke-dasharray="4 3"/>`+"\n", x0, x0+pw, Y(v), Y(v), c)
			p(`<text x="%d" y="%.1f" font-size="10" fill="%s" text-anchor="end">%s %.0f ms</text>`+"\n", x0+pw-2, Y(v)-3, c, html.EscapeString(name), v)
		}
		line(500, "#d62728", "target p99 <")
		line(l.P99, "#ff7f0e", "p99")
		line(l.P50, "#2ca02c", "p50")
		p(`<text x="%d" y="%d" font-size="11">at %.0f records/s (%.2f × max), %d early messages; max %.0f ms</text>`+"\n", x0, y0+ph+34, l.AchievedRate, l.Fraction, l.Received, l.Max)
	} else {
		p(`<text x="%d" y="%d">not measured</text>`+"\n", x0+20, y0+40)
	}
	if len(res.Memory) > 0 {
		ms := append([]memResult(nil), res.Memory...)
		sort.Slice(ms, func(i, j int) bool { return ms[i].Groups < ms[j].Groups })
		var parts []string
		for _, m := range ms {
			parts = append(parts, fmt.Sprintf("%d groups: %.0f B/group", m.Groups, m.BytesPerGroup))
		}
		p(`<text x="16" y="%d" font-size="11">Memory per open group: %s</text>`+"\n", H-14, html.EscapeString(strings.Join(parts, "; ")))
	}
	p("</svg>\n")
	return b.String()
}

// render rewrites summary.md and plot.svg of a run directory from its
// results.json (harness -render DIR).
func render(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		return err
	}
	var res results
	if err := json.Unmarshal(b, &res); err != nil {
		return err
	}
	for _, l := range res.Latency {
		l.Series = thin(l.Series, 2000)
		if l.P50 == 0 && l.Percentiles != nil {
			l.P50, l.P90, l.P99, l.Max = l.Percentiles["p50"], l.Percentiles["p90"], l.Percentiles["p99"], l.Percentiles["max"]
		}
	}
	b, _ = json.MarshalIndent(&res, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "results.json"), b, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "summary.md"), []byte(summary(&res)), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "plot.svg"), []byte(plot(&res)), 0o644)
}
