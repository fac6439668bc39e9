package main

// End-to-end operations tests of the msixguard binary, as an operator runs
// it: `run` as a subprocess on a broker (an embedded kfake one, or the real
// Kafka named by KAFKA_BROKERS), its /readyz, /healthz and /metrics, a
// `replay`, SIGTERM; and the configuration errors and masking of `run`.

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/msixguard/msixguard/cluster"
	"github.com/msixguard/msixguard/internal/kafkatest"
)

// TestOpsBinary builds the binary once and runs the operations checks on it.
func TestOpsBinary(t *testing.T) {
	bin := buildMsixguard(t)
	t.Run("RunReplayMetricsSIGTERM", func(t *testing.T) { testRunReplayMetricsSIGTERM(t, bin) })
	t.Run("PrintConfigMasksSecrets", func(t *testing.T) { testPrintConfigMasksSecrets(t, bin) })
	t.Run("InvalidSettingsExit2", func(t *testing.T) { testInvalidSettingsExit2(t, bin) })
	t.Run("KubernetesConfigAccepted", func(t *testing.T) { testKubernetesConfigAccepted(t, bin) })
}

// testRunReplayMetricsSIGTERM: `run` not ready before the join, ready after;
// a replay of a conformance data set shows in /metrics with real values;
// SIGTERM drains and exits 0.
func testRunReplayMetricsSIGTERM(t *testing.T, bin string) {
	if testing.Short() {
		t.Skip("end-to-end: runs the binary on a broker")
	}
	root := repoRoot(t)
	dataset := filepath.Join(root, "testdata", "conformance", "08_many_windows_and_hosts")
	events := filepath.Join(dataset, "events.ndjson")
	expected, err := os.ReadFile(filepath.Join(dataset, "expected.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	wantFinals := float64(bytes.Count(bytes.TrimSpace(expected), []byte{'\n'}) + 1)
	brokers := kafkatest.Brokers(t)

	prefix := fmt.Sprintf("ops%d-%d", time.Now().UnixNano()%1e9, rand.IntN(1e6))
	input := prefix + "-input"
	conn, err := cluster.New(strings.Split(brokers, ","), nil, nil, "msixguard-ops-test")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := conn.EnsureTopics(ctx, []cluster.TopicSpec{{Name: input, Partitions: 3}}, true); err != nil {
		t.Fatal(err)
	}

	// The replica's bootstrap broker is a gate that forwards nothing until
	// /readyz has been seen answering 503: "not ready before the join" is
	// then observed every time, not only when the join happens to be slow.
	gate := startGateProxy(t, strings.Split(brokers, ",")[0])
	metricsAddr := freeAddr(t)
	base := "http://" + metricsAddr
	var stderr syncBuffer
	cmd := exec.Command(bin, "run",
		"--brokers", gate.addr(), "--input-topic", input, "--group", prefix,
		"--risk-topic", prefix+"-risk", "--dlq-topic", prefix+"-dlq", "--repartition-topic", prefix+"-repartition",
		"--repartition-partitions", "3", "--topic-partitions", "1",
		"--create-topics", "--metrics-addr", metricsAddr, "--idle-timeout", "2s", "--log-level", "info")
	cmd.Env = cleanEnv()
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("msixguard run stderr:\n%s", stderr.String())
		}
	}()

	// Before the join: /healthz 200, /readyz 503, msixguard_ready 0.
	var code int
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, _, err := httpGet(base + "/readyz")
		if err == nil {
			code = c
			break
		}
		select {
		case err := <-exited:
			stopped = true
			t.Fatalf("msixguard run exited before serving /readyz: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never answered: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code != 503 {
		t.Fatalf("/readyz before the groups were joined: %d, want 503", code)
	}
	if c, body, err := httpGet(base + "/healthz"); err != nil || c != 200 {
		t.Fatalf("/healthz: %d %q %v", c, body, err)
	}
	if v, ok := scrapeMetrics(t, base).sum("msixguard_ready", nil); !ok || v != 0 {
		t.Fatalf("msixguard_ready before the join = %v (present %v), want 0", v, ok)
	}

	// Let the replica reach the broker; it must turn ready.
	gate.open()
	deadline = time.Now().Add(45 * time.Second)
	for {
		c, body, err := httpGet(base + "/readyz")
		if err == nil && c == 200 {
			break
		}
		select {
		case err := <-exited:
			stopped = true
			t.Fatalf("msixguard run exited while joining: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz not 200 after 45s: %d %q %v", c, body, err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	res := runMsixguard(t, bin, nil, 60*time.Second, "replay", events, "--topic", input, "--brokers", brokers, "--no-progress")
	if res.code != 0 || !strings.Contains(res.stdout, "replayed 400 records") {
		t.Fatalf("replay: exit %d\nstdout: %s\nstderr: %s", res.code, res.stdout, res.stderr)
	}

	// Every record read, every window of the data set closed (the input goes
	// idle after 2s, and the idle watermark follows the wall clock).
	var s scrape
	deadline = time.Now().Add(60 * time.Second)
	for {
		s = scrapeMetrics(t, base)
		consumed, _ := s.sum("msixguard_records_consumed_total", map[string]string{"topic": input})
		finals, _ := s.sum("msixguard_risk_messages_total", map[string]string{"kind": "final"})
		if consumed >= 400 && finals >= wantFinals {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60s: %v records consumed (want 400), %v final risk messages (want %v)", consumed, finals, wantFinals)
		}
		time.Sleep(250 * time.Millisecond)
	}
	val := func(name string, labels map[string]string) float64 {
		v, ok := s.sum(name, labels)
		if !ok {
			t.Errorf("/metrics has no %s%v", name, labels)
		}
		return v
	}
	if v := val("msixguard_records_consumed_total", map[string]string{"topic": input}); v != 400 {
		t.Errorf("records consumed = %v, want 400", v)
	}
	matched := val("msixguard_records_matched_total", nil)
	if matched <= 0 {
		t.Errorf("records matched = %v, want > 0", matched)
	}
	if v := val("msixguard_risk_messages_total", map[string]string{"kind": "final"}); v != wantFinals {
		t.Errorf("final risk messages = %v, want %v (testdata expected.ndjson)", v, wantFinals)
	}
	if v, _ := s.sum("msixguard_risk_messages_total", map[string]string{"kind": "late"}); v != 0 {
		t.Errorf("late risk messages = %v, want 0", v)
	}
	if v := val("msixguard_ready", nil); v != 1 {
		t.Errorf("msixguard_ready = %v, want 1", v)
	}
	if _, ok := s.sum("msixguard_open_groups", nil); !ok {
		t.Error("msixguard_open_groups absent")
	}
	for _, stage := range []string{"1", "2"} {
		if v := val("msixguard_rebalances_total", map[string]string{"stage": stage}); v < 1 {
			t.Errorf("stage %s rebalances = %v, want >= 1", stage, v)
		}
	}
	if _, ok := s.sum("msixguard_consumer_lag_records", map[string]string{"stage": "1", "topic": input}); !ok {
		t.Error("msixguard_consumer_lag_records of stage 1 absent")
	}
	if _, ok := s.sum("msixguard_watermark_age_seconds", nil); !ok {
		t.Error("msixguard_watermark_age_seconds absent")
	}
	// docs/operations.md: consumed = matched + unmatched + decode errors +
	// dropped before decoding.
	unmatched, _ := s.sum("msixguard_records_unmatched_total", nil)
	decodeErrs, _ := s.sum("msixguard_decode_errors_total", nil)
	tomb, _ := s.sum("msixguard_records_dropped_total", map[string]string{"reason": "tombstone"})
	future, _ := s.sum("msixguard_records_dropped_total", map[string]string{"reason": "future_time"})
	if sum := matched + unmatched + decodeErrs + tomb + future; sum != 400 {
		t.Errorf("matched %v + unmatched %v + decode errors %v + tombstones %v + future %v = %v, want 400 (consumed)",
			matched, unmatched, decodeErrs, tomb, future, sum)
	}

	// SIGTERM: drain and exit 0 within 10s.
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Fatalf("msixguard run after SIGTERM: %v (want exit 0)", err)
		}
		t.Logf("exited 0 %s after SIGTERM", time.Since(start).Round(time.Millisecond))
	case <-time.After(10 * time.Second):
		t.Fatal("msixguard run still running 10s after SIGTERM")
	}
	if !strings.Contains(stderr.String(), `"drained"`) {
		t.Errorf("no drained log line after SIGTERM")
	}
}

// scrapeMetrics reads and parses /metrics.
func scrapeMetrics(t *testing.T, base string) scrape {
	t.Helper()
	code, body, err := httpGet(base + "/metrics")
	if err != nil || code != 200 {
		t.Fatalf("/metrics: %d %v", code, err)
	}
	s, err := parseExposition(body)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testPrintConfigMasksSecrets: a password from the environment, the config
// file or a flag is never printed by --print-config.
func testPrintConfigMasksSecrets(t *testing.T, bin string) {
	const secret = "hunter2-do-not-print"
	config := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(config, []byte("sasl-password: "+secret+"-file\nsasl-username: alice\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
	}{
		{"env", []string{"MSIXGUARD_SASL_PASSWORD=" + secret, "MSIXGUARD_SASL_USERNAME=alice"}, nil},
		{"file", nil, []string{"--config", config}},
		{"flag", nil, []string{"--sasl-password", secret, "--sasl-username", "alice"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := runMsixguard(t, bin, tc.env, 30*time.Second, append([]string{"run", "--print-config"}, tc.args...)...)
			if res.code != 0 {
				t.Fatalf("exit %d\n%s", res.code, res.stderr)
			}
			if strings.Contains(res.stdout+res.stderr, secret) {
				t.Fatalf("the password is printed:\n%s%s", res.stdout, res.stderr)
			}
			if !strings.Contains(res.stdout, `sasl-password: "********"`) {
				t.Errorf("sasl-password not shown masked:\n%s", res.stdout)
			}
			if !strings.Contains(res.stdout, `sasl-username: "alice"`) {
				t.Errorf("sasl-username not shown:\n%s", res.stdout)
			}
		})
	}
}

// testInvalidSettingsExit2: a bad value or key stops `run` at start with
// exit 2 and names the setting, before any broker is contacted.
func testInvalidSettingsExit2(t *testing.T, bin string) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badValue := write("bad-value.yaml", "idle-timeout: soon\n")
	badKey := write("bad-key.yaml", "input_topic: wineventlog\n")
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"env duration", []string{"MSIXGUARD_IDLE_TIMEOUT=abc"}, nil, "MSIXGUARD_IDLE_TIMEOUT"},
		{"env int", []string{"MSIXGUARD_MAX_OPEN_GROUPS=many"}, nil, "MSIXGUARD_MAX_OPEN_GROUPS"},
		{"env bool", []string{"MSIXGUARD_CREATE_TOPICS=perhaps"}, nil, "MSIXGUARD_CREATE_TOPICS"},
		{"file value", nil, []string{"--config", badValue}, "idle-timeout"},
		{"file key", nil, []string{"--config", badKey}, `"input_topic"`},
		{"missing file", nil, []string{"--config", filepath.Join(dir, "nope.yaml")}, "nope.yaml"},
		{"flag", nil, []string{"--idle-timeout", "abc"}, "idle-timeout"},
		{"zero idle timeout", []string{"MSIXGUARD_IDLE_TIMEOUT=0s"}, nil, "idle-timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// An unreachable broker: a start that got past the settings
			// would hang or fail differently, not exit 2 at once.
			args := append([]string{"run", "--brokers", "127.0.0.1:1", "--metrics-addr", ""}, tc.args...)
			res := runMsixguard(t, bin, tc.env, 30*time.Second, args...)
			if res.code != 2 {
				t.Fatalf("exit %d, want 2\nstderr: %s", res.code, res.stderr)
			}
			if !strings.Contains(res.stderr, tc.want) {
				t.Errorf("stderr does not name %s:\n%s", tc.want, res.stderr)
			}
		})
	}
}
