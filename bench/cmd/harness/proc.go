package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one measured process: a harness child, the msixguard binary, a
// JVM. Its stdout and stderr go to a log file and are scanned line by line.
type proc struct {
	name   string
	cmd    *exec.Cmd
	start  time.Time
	kept   []string // lines that start with an upper-case keyword (DONE, STATS, …)
	exited chan struct{}
	mu     sync.Mutex
	ready  time.Time
	log    *os.File
	hwm    int64 // peak RSS seen in /proc (VmHWM)
}

// clockTick is USER_HZ, the unit of /proc/PID/stat CPU times (100 on Linux).
const clockTick = 100

func startProc(name, logPath string, isReady func(string) bool, argv ...string) (*proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	p := &proc{name: name, cmd: exec.Command(argv[0], argv[1:]...), exited: make(chan struct{}), log: f}
	p.cmd.Env = os.Environ()
	outR, outW := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = outW, outW
	if err := p.cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p.start = time.Now()
	go func() {
		sc := bufio.NewScanner(outR)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(f, line)
			p.mu.Lock()
			if p.ready.IsZero() && isReady(line) {
				p.ready = time.Now()
			}
			if k, _, ok := strings.Cut(line, " "); ok && k != "" && strings.ToUpper(k) == k && k[0] >= 'A' && k[0] <= 'Z' {
				p.kept = append(p.kept, line)
			}
			p.mu.Unlock()
		}
	}()
	// Peak RSS comes from VmHWM, sampled while the process runs: wait4's
	// ru_maxrss is useless here, since Linux seeds it at exec with the
	// RSS of the (vfork-shared) parent, the harness, which holds the input.
	go func() {
		for {
			select {
			case <-p.exited:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if v := p.status("VmHWM:"); v > 0 {
				p.mu.Lock()
				p.hwm = max(p.hwm, v)
				p.mu.Unlock()
			}
		}
	}()
	go func() {
		p.cmd.Wait()
		outW.Close()
		close(p.exited)
	}()
	return p, nil
}

// line returns the last kept line that starts with prefix.
func (p *proc) line(prefix string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.kept) - 1; i >= 0; i-- {
		if strings.HasPrefix(p.kept[i], prefix) {
			return p.kept[i], true
		}
	}
	return "", false
}

// waitReady waits for the ready line.
func (p *proc) waitReady(timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		r := p.ready
		p.mu.Unlock()
		if !r.IsZero() {
			return r, nil
		}
		select {
		case <-p.exited:
			return time.Time{}, fmt.Errorf("%s exited before it was ready (see %s)", p.name, p.log.Name())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return time.Time{}, fmt.Errorf("%s not ready after %s (see %s)", p.name, timeout, p.log.Name())
}

// cpu is the CPU time (user+system, all threads) the process used so far.
func (p *proc) cpu() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	// fields after the command: state(0) … utime(11) stime(12)
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / clockTick
}

// status reads a size field (VmRSS:, VmHWM:) of /proc/PID/status, in bytes.
func (p *proc) status(field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, field) {
			kb, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// stop sends SIGTERM, waits (SIGKILL after grace) and returns the CPU
// seconds of the whole life (rusage) and the peak RSS in bytes (VmHWM).
func (p *proc) stop(grace time.Duration) (cpu float64, maxRSS int64) {
	select {
	case <-p.exited:
	default:
		if v := p.status("VmHWM:"); v > 0 {
			p.mu.Lock()
			p.hwm = max(p.hwm, v)
			p.mu.Unlock()
		}
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(grace):
			p.cmd.Process.Kill()
			<-p.exited
		}
	}
	p.log.Close()
	if ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		cpu = float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return cpu, p.hwm
}

// waitExit waits for the process to end by itself.
func (p *proc) waitExit(timeout time.Duration) error {
	select {
	case <-p.exited:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("%s still running after %s", p.name, timeout)
	}
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
