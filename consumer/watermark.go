package consumer

import (
	"encoding/json"
	"fmt"
	"sort"
)

// InputState is what stage 1 knows about one input partition it owns: the
// largest event time among records whose offsets are committed, and whether
// the partition has been idle for --idle-timeout.
type InputState struct {
	Topic     string `json:"t"`
	Partition int    `json:"p"`
	// Watermark is unix nanoseconds; nil until a committed record had a time.
	Watermark *int64 `json:"wm,omitempty"`
	Idle      bool   `json:"idle,omitempty"`
}

func (s InputState) key() string { return fmt.Sprintf("%s/%d", s.Topic, s.Partition) }

// Marker is the watermark record stage 1 writes to every repartition
// partition about once a second.
type Marker struct {
	// Inputs is the number of input partitions of the job (all topics), so
	// stage 2 knows when every one has reported.
	Inputs int          `json:"n"`
	States []InputState `json:"s"`
	Wall   int64        `json:"wall"` // stage 1 wall clock, unix nanoseconds
}

// inputMark is the tracker's view of one input partition.
type inputMark struct {
	WM   int64 `json:"w"`
	Has  bool  `json:"h,omitempty"`
	Idle bool  `json:"i,omitempty"`
}

// Tracker computes the watermark of one repartition partition from the
// markers read on that partition only: in one partition a marker always
// follows the records it covers, so this never labels an on-time record late.
type Tracker struct {
	Inputs int                  `json:"n"`
	Marks  map[string]inputMark `json:"m"`
	Wall   int64                `json:"wall"` // wall clock of the latest marker
	WM     int64                `json:"wm"`   // last watermark returned; never moves back
	HasWM  bool                 `json:"has,omitempty"`
}

// NewTracker returns an empty tracker.
func NewTracker() *Tracker { return &Tracker{Marks: map[string]inputMark{}} }

// Observe folds a marker in. A partition's own watermark never moves back:
// a new owner of an input partition may report a lower one.
func (t *Tracker) Observe(m Marker) {
	if m.Inputs > t.Inputs {
		t.Inputs = m.Inputs
	}
	if m.Wall > t.Wall {
		t.Wall = m.Wall
	}
	for _, s := range m.States {
		k := s.key()
		cur := t.Marks[k]
		cur.Idle = s.Idle
		if s.Watermark != nil && (!cur.Has || *s.Watermark > cur.WM) {
			cur.WM, cur.Has = *s.Watermark, true
		}
		t.Marks[k] = cur
	}
}

// Watermark returns the event time through which every input partition has
// been read, and false until it is known: the minimum over input partitions
// that are not idle; when all are idle, the wall clock of the latest marker,
// so the last window of a quiet stream still closes.
func (t *Tracker) Watermark() (int64, bool) {
	if t.Inputs == 0 || len(t.Marks) < t.Inputs {
		return t.WM, t.HasWM
	}
	var min int64
	active := 0
	for _, m := range t.Marks {
		if m.Idle {
			continue
		}
		if !m.Has {
			return t.WM, t.HasWM // a busy partition with no time yet holds everything
		}
		if active == 0 || m.WM < min {
			min = m.WM
		}
		active++
	}
	if active == 0 {
		min = t.Wall
	}
	if !t.HasWM || min > t.WM {
		t.WM, t.HasWM = min, true
	}
	return t.WM, t.HasWM
}

// InputWatermarks returns the known watermark of each input partition, for metrics.
func (t *Tracker) InputWatermarks() map[string]int64 {
	out := map[string]int64{}
	keys := make([]string, 0, len(t.Marks))
	for k := range t.Marks {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if m := t.Marks[k]; m.Has {
			out[k] = m.WM
		}
	}
	return out
}

// clone deep-copies the tracker for a commit snapshot.
func (t *Tracker) clone() *Tracker {
	c := *t
	c.Marks = make(map[string]inputMark, len(t.Marks))
	for k, v := range t.Marks {
		c.Marks[k] = v
	}
	return &c
}

func decodeMarker(b []byte) (Marker, error) {
	var m Marker
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("decode watermark marker: %w", err)
	}
	return m, nil
}
