package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/msixguard/msixguard/aggregate"
	"github.com/msixguard/msixguard/cluster"
	"github.com/msixguard/msixguard/metrics"
	"github.com/msixguard/msixguard/pipeline"
	"github.com/msixguard/msixguard/producer"
)

const dataset = "../testdata/conformance/08_many_windows_and_hosts/events.ndjson"

func buildBinary(t *testing.T) string {
	bin := filepath.Join(t.TempDir(), "msixguard")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/msixguard").CombinedOutput()
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// expected is what `check` gives on the data set.
func expected(t *testing.T) []byte {
	data, err := os.ReadFile(dataset)
	if err != nil {
		t.Fatal(err)
	}
	return checkOutput(t, data)
}

// checkOutput runs the code of `msixguard check` over NDJSON records.
func checkOutput(t *testing.T, records []byte) []byte {
	set, err := pipeline.LoadRules(nil, false)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = pipeline.Check([]pipeline.Input{{Name: "input", R: bytes.NewReader(records)}}, &out, pipeline.CheckOptions{
		Format: "auto", Rules: set, MaxBytes: 1 << 20, Metrics: metrics.NewUnregistered(),
		Emitter: &producer.Emitter{Kinds: map[aggregate.Kind]bool{aggregate.KindFinal: true}, Loc: time.UTC, Now: time.Now},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// inputRecords reads back every record of the input topic. A test that
// disturbs the broker while producing can get a record written twice
// (kafka-go has no idempotent producer: a timed-out attempt may have landed
// before its retry); check must then see those same records.
func (d *deployment) inputRecords() ([]byte, int) {
	parts, err := d.conn.Partitions(context.Background(), d.input)
	if err != nil {
		d.t.Fatal(err)
	}
	var out bytes.Buffer
	n := 0
	for p := 0; p < parts[d.input]; p++ {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: d.conn.Brokers, Dialer: d.conn.Dialer(), Topic: d.input, Partition: p, MaxWait: 200 * time.Millisecond})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		for {
			msg, err := r.ReadMessage(ctx)
			if err != nil {
				break // an empty partition ends on the timeout
			}
			out.Write(msg.Value)
			out.WriteByte('\n')
			n++
			if msg.Offset+1 >= msg.HighWaterMark {
				break
			}
		}
		cancel()
		r.Close()
	}
	return out.Bytes(), n
}

type deployment struct {
	t                     *testing.T
	bin, brokers          string
	group, input, risk    string
	procs                 []*exec.Cmd
	logs                  []*bytes.Buffer
	conn                  *cluster.Conn
	killed, started, sent int
}

func (d *deployment) startReplica(extra ...string) int {
	args := append([]string{"run", "--brokers", d.brokers, "--group", d.group,
		"--input-topic", d.input, "--risk-topic", d.risk, "--dlq-topic", d.group + "-dlq",
		"--repartition-topic", d.group + "-repartition", "--repartition-partitions", "3",
		"--topic-partitions", "1", "--create-topics", "--idle-timeout", "3s",
		"--metrics-addr", "", "--log-level", "warn"}, extra...)
	cmd := exec.Command(d.bin, args...)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	d.procs = append(d.procs, cmd)
	d.logs = append(d.logs, &log)
	d.started++
	return len(d.procs) - 1
}

func (d *deployment) sigkill(i int) {
	if err := d.procs[i].Process.Signal(syscall.SIGKILL); err != nil {
		d.t.Fatal(err)
	}
	d.procs[i].Wait()
	d.killed++
}

func (d *deployment) stopAll() {
	for i, p := range d.procs {
		if p.ProcessState == nil {
			d.stop(i)
		}
	}
}

func (d *deployment) produce(lines [][]byte) {
	w := producer.NewWriter(d.conn, d.input, &kafka.RoundRobin{})
	defer w.Close()
	msgs := make([]kafka.Message, len(lines))
	for i, l := range lines {
		msgs[i] = kafka.Message{Key: []byte(fmt.Sprint(rand.Int())), Value: l}
	}
	// Like a real producer's delivery timeout: a broker that was paused
	// or restarted fences itself and its partitions have no leader for a
	// few seconds, longer than the writer's own retries. Resend what failed
	// (kafka.WriteErrors is indexed like msgs) until a minute has passed.
	deadline := time.Now().Add(time.Minute)
	for {
		err := w.Write(context.Background(), msgs...)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			d.t.Fatal(err)
		}
		var we kafka.WriteErrors
		if errors.As(err, &we) && len(we) == len(msgs) {
			var failed []kafka.Message
			for i, e := range we {
				if e != nil {
					failed = append(failed, msgs[i])
				}
			}
			msgs = failed
		}
		d.t.Logf("produce: %d records to resend: %.200s", len(msgs), err)
		time.Sleep(time.Second)
	}
	d.sent += len(lines)
}

// readRisk reads the risk topic until every expected id arrived (and a
// little longer, to count repeats).
func readRisk(t *testing.T, d *deployment, want []byte, timeout time.Duration) ([]byte, int) {
	ids := map[string]bool{}
	for _, l := range bytes.Split(bytes.TrimSpace(want), []byte{'\n'}) {
		if i := bytes.Index(l, []byte(`"id":"`)); i >= 0 {
			ids[string(l[i+6:i+38])] = true
		}
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: d.conn.Brokers, Dialer: d.conn.Dialer(), Topic: d.risk, Partition: 0, MaxWait: 200 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out bytes.Buffer
	seen := map[string]bool{}
	total := 0
	for len(seen) < len(ids) {
		msg, err := r.ReadMessage(ctx)
		if err != nil {
			for i, l := range d.logs {
				t.Logf("replica %d log:\n%s", i, l)
			}
			t.Fatalf("got %d of %d risk messages: %v", len(seen), len(ids), err)
		}
		total++
		out.Write(msg.Value)
		out.WriteByte('\n')
		if i := bytes.Index(msg.Value, []byte(`"id":"`)); i >= 0 {
			seen[string(msg.Value[i+6:i+38])] = true
		}
	}
	tail, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel2()
	for {
		msg, err := r.ReadMessage(tail)
		if err != nil {
			break
		}
		total++
		out.Write(msg.Value)
		out.WriteByte('\n')
	}
	return out.Bytes(), total
}

// stop ends replica i with SIGTERM and checks it drains and exits 0.
func (d *deployment) stop(i int) {
	p := d.procs[i]
	p.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			d.t.Errorf("replica %d exited with %v after SIGTERM\n%s", i, err, d.logs[i])
		}
	case <-time.After(15 * time.Second):
		p.Process.Kill()
		d.t.Errorf("replica %d did not drain within 15s", i)
	}
}
