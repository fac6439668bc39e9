package consumer

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestOrderedWriterKeepsOrderAndWaits(t *testing.T) {
	var mu sync.Mutex
	var got []int
	w := newOrderedWriter(2, func(b int) error {
		time.Sleep(time.Millisecond)
		mu.Lock()
		got = append(got, b)
		mu.Unlock()
		return nil
	})
	defer w.close()
	for i := 0; i < 50; i++ {
		if err := w.send(context.Background(), i); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.wait(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 50 {
		t.Fatalf("wait returned with %d of 50 written", len(got))
	}
	for i, b := range got {
		if b != i {
			t.Fatalf("written out of order: %v", got)
		}
	}
}

func TestOrderedWriterStopsAtTheFirstError(t *testing.T) {
	boom := errors.New("boom")
	var written []int
	w := newOrderedWriter(4, func(b int) error {
		if b == 2 {
			return boom
		}
		written = append(written, b) // the writer goroutine only
		return nil
	})
	for i := 0; i < 5; i++ {
		w.send(context.Background(), i)
	}
	if err := w.wait(); !errors.Is(err, boom) {
		t.Fatalf("wait: %v, want boom", err)
	}
	if err := w.send(context.Background(), 9); !errors.Is(err, boom) {
		t.Fatalf("send after the error: %v", err)
	}
	w.close()
	// Nothing after the failed batch was written: a commit past it would
	// skip its records.
	if len(written) != 2 || written[0] != 0 || written[1] != 1 {
		t.Fatalf("written %v, want [0 1]", written)
	}
}

func TestOrderedWriterSendHonoursContext(t *testing.T) {
	release := make(chan struct{})
	w := newOrderedWriter(1, func(int) error { <-release; return nil })
	ctx, cancel := context.WithCancel(context.Background())
	w.send(ctx, 1) // taken by the goroutine, which blocks
	w.send(ctx, 2) // fills the queue
	errc := make(chan error, 1)
	go func() { errc <- w.send(ctx, 3) }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("send: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("send blocked past its context")
	}
	close(release)
	if err := w.wait(); err != nil {
		t.Fatal(err)
	}
	w.close()
}
