package consumer

import (
	"context"
	"sync"
)

// orderedWriter runs one partition's writes on a goroutine of their own, in
// the order they were handed over, so that the read loop does not stop for
// every acknowledgement. A commit calls wait first: an offset is committed
// only once every write before it is acknowledged. After a failed write the
// later ones are skipped and every call returns that error; the partition
// loop then ends, and the next owner re-reads from the last commit.
type orderedWriter[B any] struct {
	write   func(B) error
	ch      chan B
	done    chan struct{}
	pending sync.WaitGroup
	mu      sync.Mutex
	err     error
}

// newOrderedWriter starts the goroutine; depth batches may wait for it
// before send blocks (back-pressure from a slow broker).
func newOrderedWriter[B any](depth int, write func(B) error) *orderedWriter[B] {
	w := &orderedWriter[B]{write: write, ch: make(chan B, depth), done: make(chan struct{})}
	go w.run()
	return w
}

func (w *orderedWriter[B]) run() {
	defer close(w.done)
	for b := range w.ch {
		if w.failed() == nil {
			if err := w.write(b); err != nil {
				w.mu.Lock()
				w.err = err
				w.mu.Unlock()
			}
		}
		w.pending.Done()
	}
}

func (w *orderedWriter[B]) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// send queues b after every batch sent before it.
func (w *orderedWriter[B]) send(ctx context.Context, b B) error {
	if err := w.failed(); err != nil {
		return err
	}
	w.pending.Add(1)
	select {
	case w.ch <- b:
		return nil
	case <-ctx.Done():
		w.pending.Done()
		return ctx.Err()
	}
}

// wait returns once every batch sent so far is written, with the first
// write error if any.
func (w *orderedWriter[B]) wait() error {
	w.pending.Wait()
	return w.failed()
}

// close stops the goroutine after the queued batches (whose writes end
// quickly once their context is done).
func (w *orderedWriter[B]) close() {
	close(w.ch)
	<-w.done
}
