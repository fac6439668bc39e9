package main

// Helpers of the operations tests (ops_e2e_test.go, deploy_test.go): build
// the real binary, run it with a clean environment, scrape its metrics, and
// the names metrics.New registers.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/msixguard/msixguard/metrics"
)

// repoRoot is the module root, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", root, err)
	}
	return root
}

// buildMsixguard compiles ./cmd/msixguard into a temporary directory and
// returns the binary's path.
func buildMsixguard(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "msixguard")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// cleanEnv is the test process's environment without MSIXGUARD_* variables
// (they would change the settings under test), plus extra.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envPrefix) {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// runResult is the outcome of a finished msixguard process.
type runResult struct {
	code           int
	stdout, stderr string
}

// runMsixguard runs bin with args and env (on top of cleanEnv) to completion,
// killing it after timeout.
func runMsixguard(t *testing.T, bin string, env []string, timeout time.Duration, args ...string) runResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = cleanEnv(env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := runResult{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	default:
		t.Fatalf("msixguard %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		t.Fatalf("msixguard %s: still running after %s\nstderr:\n%s", strings.Join(args, " "), timeout, res.stderr)
	}
	return res
}

// syncBuffer is an io.Writer safe to read while a process writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// freeAddr returns a 127.0.0.1 address with a port nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// gateProxy accepts TCP connections at once but forwards them to target only
// after open is called: a process given the gate as its bootstrap broker
// cannot get anywhere (join its groups) until the test says so.
type gateProxy struct {
	ln     net.Listener
	target string
	gate   chan struct{}
	once   sync.Once
	mu     sync.Mutex
	conns  []net.Conn
	closed bool
}

func startGateProxy(t *testing.T, target string) *gateProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gateProxy{ln: ln, target: target, gate: make(chan struct{})}
	go g.serve()
	t.Cleanup(g.close)
	return g
}

func (g *gateProxy) addr() string { return g.ln.Addr().String() }

func (g *gateProxy) open() { g.once.Do(func() { close(g.gate) }) }

func (g *gateProxy) track(c net.Conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		c.Close()
		return false
	}
	g.conns = append(g.conns, c)
	return true
}

func (g *gateProxy) serve() {
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		if !g.track(c) {
			return
		}
		go func() {
			<-g.gate
			u, err := net.DialTimeout("tcp", g.target, 5*time.Second)
			if err != nil {
				c.Close()
				return
			}
			if !g.track(u) {
				c.Close()
				return
			}
			go func() { io.Copy(u, c); u.Close(); c.Close() }()
			io.Copy(c, u)
			c.Close()
			u.Close()
		}()
	}
}

func (g *gateProxy) close() {
	g.open()
	g.ln.Close()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	for _, c := range g.conns {
		c.Close()
	}
}

// httpGet returns the status and body of url, or an error when nothing
// answers.
func httpGet(url string) (int, string, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// sample is one line of the Prometheus text format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

var (
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$`)
	labelPair  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
)

// parseExposition reads the Prometheus text format (what /metrics serves).
func parseExposition(text string) ([]sample, error) {
	var out []sample
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("unparsable metrics line %q", line)
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: %w", line, err)
		}
		s := sample{name: m[1], labels: map[string]string{}, value: v}
		for _, lp := range labelPair.FindAllStringSubmatch(m[2], -1) {
			s.labels[lp[1]] = lp[2]
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

// scrape is one read of /metrics.
type scrape []sample

// sum adds the samples of name whose labels include want.
func (s scrape) sum(name string, want map[string]string) (float64, bool) {
	var total float64
	found := false
next:
	for _, x := range s {
		if x.name != name {
			continue
		}
		for k, v := range want {
			if x.labels[k] != v {
				continue next
			}
		}
		total += x.value
		found = true
	}
	return total, found
}

// registeredNames returns the metric family names metrics.New registers,
// and those of the Go and process collectors `msixguard run` adds, with
// whether each is a histogram (whose series are NAME_bucket, _sum, _count).
func registeredNames(t *testing.T) map[string]bool {
	t.Helper()
	rec := &descRecorder{names: map[string]bool{}}
	metrics.New(rec)
	rec.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if len(rec.names) == 0 {
		t.Fatal("metrics.New registered nothing")
	}
	return rec.names
}

// descRecorder is a prometheus.Registerer that only notes the names of the
// collectors registered on it.
type descRecorder struct {
	names map[string]bool // name → histogram
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (r *descRecorder) Register(c prometheus.Collector) error {
	_, hist := c.(prometheus.Histogram)
	ch := make(chan *prometheus.Desc, 16)
	go func() { c.Describe(ch); close(ch) }()
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			r.names[m[1]] = hist
		}
	}
	return nil
}

func (r *descRecorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		r.Register(c)
	}
}

func (r *descRecorder) Unregister(prometheus.Collector) bool { return false }

var promName = regexp.MustCompile(`\b((?:msixguard|process|go)_[a-zA-Z0-9_]+)\b`)

// unknownMetrics returns the metric names in a PromQL expression that no
// collector of `msixguard run` registers.
func unknownMetrics(expr string, known map[string]bool) []string {
	var bad []string
	for _, m := range promName.FindAllString(expr, -1) {
		if _, ok := known[m]; ok {
			continue
		}
		base := m
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			base = strings.TrimSuffix(base, suf)
		}
		if hist, ok := known[base]; ok && hist && base != m {
			continue
		}
		bad = append(bad, m)
	}
	return bad
}
