package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/msixguard/msixguard/producer"
)

// TestSoak runs one replica under steady load for MSIXGUARD_SOAK (e.g. 60s in
// .ci/run, 10m by hand) and checks that its memory and goroutines stay flat
// and its lag stays bounded. Events are stamped with the current time, 1 in
// 100 matches, over 2,000 hosts, so windows open and groups accumulate as in
// production.
func TestSoak(t *testing.T) {
	dur, err := time.ParseDuration(os.Getenv("MSIXGUARD_SOAK"))
	if err != nil || dur <= 0 {
		t.Skip("soak: set MSIXGUARD_SOAK to a duration (see .ci/run)")
	}
	rate := 2000 // records per second
	if r, err := strconv.Atoi(os.Getenv("MSIXGUARD_SOAK_RATE")); err == nil && r > 0 {
		rate = r
	}
	d := newDeployment(t, 4)
	addr := freeAddr(t)
	i := d.startReplica("--metrics-addr", addr)
	pid := d.procs[i].Process.Pid
	waitReady(t, addr)

	w := producer.NewWriter(d.conn, d.input, &kafka.RoundRobin{})
	defer w.Close()
	type sample struct {
		at              time.Duration
		rss, goroutines float64
		lag, consumed   float64
	}
	var samples []sample
	start := time.Now()
	next := start
	sent := 0
	tick := 100 * time.Millisecond
	lastSample := start
	for time.Since(start) < dur {
		batch := make([]kafka.Message, rate/10)
		for k := range batch {
			n := sent + k
			code := 4688
			if n%100 == 0 {
				code = 855
			}
			v := fmt.Sprintf(`{"_time": %q, "EventCode": %d, "dvc": "WS-%04d", "user_id": "S-1-5-21-1-%d", "PackageMoniker": " addPackageList: Contoso.App%d_1.0.0.0_x64__z0p5db6dqbn1q"}`,
				time.Now().UTC().Format(time.RFC3339Nano), code, n%2000, n%50, n%7)
			batch[k] = kafka.Message{Value: []byte(v)}
		}
		if err := w.Write(context.Background(), batch...); err != nil {
			t.Fatal(err)
		}
		sent += len(batch)
		if time.Since(lastSample) >= 2*time.Second {
			lastSample = time.Now()
			m := scrape(t, addr)
			samples = append(samples, sample{at: time.Since(start), rss: rssBytes(t, pid), goroutines: m["go_goroutines"],
				lag: sumPrefix(m, "msixguard_consumer_lag_records"), consumed: sumPrefix(m, "msixguard_records_consumed_total")})
		}
		next = next.Add(tick)
		time.Sleep(time.Until(next))
	}
	if len(samples) < 8 {
		t.Fatalf("only %d samples", len(samples))
	}
	for _, s := range samples {
		t.Logf("t=%5.0fs rss=%6.1f MiB goroutines=%4.0f lag=%6.0f consumed=%8.0f", s.at.Seconds(), s.rss/(1<<20), s.goroutines, s.lag, s.consumed)
	}
	// Flat: the median of the last quarter of samples is within 50% (and
	// 32 MiB: a small heap's GC sawtooth) of the second quarter's; the first
	// quarter is warm-up.
	q := len(samples) / 4
	median := func(xs []sample, f func(sample) float64) float64 {
		v := make([]float64, len(xs))
		for i, x := range xs {
			v[i] = f(x)
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	early, late := samples[q:2*q], samples[len(samples)-q:]
	rssEarly, rssLate := median(early, func(s sample) float64 { return s.rss }), median(late, func(s sample) float64 { return s.rss })
	gEarly, gLate := median(early, func(s sample) float64 { return s.goroutines }), median(late, func(s sample) float64 { return s.goroutines })
	t.Logf("soak %s at %d records/s: %d records; median RSS %.1f → %.1f MiB (x%.2f), goroutines %.0f → %.0f", dur, rate, sent, rssEarly/(1<<20), rssLate/(1<<20), rssLate/rssEarly, gEarly, gLate)
	if rssLate > 1.5*rssEarly && rssLate-rssEarly > 32<<20 {
		t.Errorf("RSS grew from %.1f to %.1f MiB", rssEarly/(1<<20), rssLate/(1<<20))
	}
	if gLate > 1.5*gEarly+10 {
		t.Errorf("goroutines grew from %.0f to %.0f", gEarly, gLate)
	}
	if last := samples[len(samples)-1]; last.lag > float64(rate*10) {
		t.Errorf("lag %0.f records: more than 10 s of input behind", last.lag)
	}
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitReady(t *testing.T, addr string) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("replica not ready within 60s")
}

// scrape reads /metrics into name{labels} → value.
func scrape(t *testing.T, addr string) map[string]float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

func sumPrefix(m map[string]float64, prefix string) float64 {
	var s float64
	for k, v := range m {
		if strings.HasPrefix(k, prefix) {
			s += v
		}
	}
	return s
}

func rssBytes(t *testing.T, pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb * 1024
		}
	}
	return 0
}
