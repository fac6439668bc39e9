package pipeline

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Record is one record read from a file, with where it started.
type Record struct {
	Line  int
	Value []byte
	// TooLarge is set when the record exceeded the size limit; Value then
	// holds only its first bytes.
	TooLarge bool
}

// RecordReader splits a file into records: one JSON document per line
// (NDJSON, ECS), or XML <Event> elements, one per line or concatenated,
// optionally inside a wevtutil <Events> wrapper. The mode is chosen from the
// first non-blank byte of the input.
type RecordReader struct {
	r        *bufio.Reader
	max      int
	line     int
	xml      bool
	sniffed  bool
	pending  []byte // XML bytes read but not yet consumed
	pendLine int
	eof      bool
}

// NewRecordReader reads records of at most max bytes from r.
func NewRecordReader(r io.Reader, max int) *RecordReader {
	return &RecordReader{r: bufio.NewReaderSize(r, 64<<10), max: max, line: 1}
}

// Next returns the next record, or io.EOF.
func (rr *RecordReader) Next() (Record, error) {
	if !rr.sniffed {
		rr.sniffed = true
		for {
			b, err := rr.r.Peek(1)
			if err != nil {
				if errors.Is(err, io.EOF) {
					return Record{}, io.EOF
				}
				return Record{}, fmt.Errorf("read input: %w", err)
			}
			switch b[0] {
			case ' ', '\t', '\r', '\n':
				if b[0] == '\n' {
					rr.line++
				}
				rr.r.ReadByte()
				continue
			case 0xEF: // UTF-8 byte order mark
				if bom, _ := rr.r.Peek(3); bytes.Equal(bom, []byte{0xEF, 0xBB, 0xBF}) {
					rr.r.Discard(3)
					continue
				}
			case '<':
				rr.xml = true
			}
			break
		}
	}
	if rr.xml {
		return rr.nextXML()
	}
	return rr.nextLine()
}

func (rr *RecordReader) nextLine() (Record, error) {
	for {
		start := rr.line
		var buf []byte
		tooLarge := false
		for {
			chunk, err := rr.r.ReadSlice('\n')
			if len(buf)+len(chunk) > rr.max {
				tooLarge = true
				if room := rr.max - len(buf); room > 0 {
					buf = append(buf, chunk[:room]...)
				}
			} else {
				buf = append(buf, chunk...)
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return Record{}, fmt.Errorf("read input line %d: %w", start, err)
			}
			rr.line++
			if err != nil && len(buf) == 0 {
				return Record{}, io.EOF
			}
			break
		}
		v := bytes.TrimSpace(buf)
		if len(v) == 0 && !tooLarge {
			continue // blank line
		}
		return Record{Line: start, Value: v, TooLarge: tooLarge}, nil
	}
}

var (
	eventOpen  = []byte("<Event")
	eventClose = []byte("</Event>")
)

// nextXML returns the next <Event …>…</Event> element. It scans for the
// element boundaries only; the decoder parses (and rejects) what is inside.
func (rr *RecordReader) nextXML() (Record, error) {
	for {
		// Find the start of an Event element (not <Events>).
		if i := findEventStart(rr.pending); i >= 0 {
			rr.pendLine += bytes.Count(rr.pending[:i], []byte{'\n'})
			rr.pending = rr.pending[i:]
			if j := bytes.Index(rr.pending, eventClose); j >= 0 {
				end := j + len(eventClose)
				rec := Record{Line: rr.pendLine, Value: append([]byte(nil), rr.pending[:end]...)}
				if end > rr.max {
					rec.Value, rec.TooLarge = rec.Value[:rr.max], true
				}
				rr.pendLine += bytes.Count(rr.pending[:end], []byte{'\n'})
				rr.pending = rr.pending[end:]
				return rec, nil
			}
			if len(rr.pending) > rr.max {
				// Skip past this oversized element.
				rec := Record{Line: rr.pendLine, Value: append([]byte(nil), rr.pending[:rr.max]...), TooLarge: true}
				if err := rr.skipPast(eventClose); err != nil {
					return Record{}, err
				}
				return rec, nil
			}
		} else if rr.eof {
			if len(bytes.TrimSpace(rr.pending)) > 0 && !onlyMarkup(rr.pending) {
				rec := Record{Line: rr.pendLine, Value: bytes.TrimSpace(rr.pending)}
				rr.pending = nil
				return rec, nil
			}
			return Record{}, io.EOF
		} else if len(rr.pending) > len(eventOpen) {
			// Keep a tail that could begin "<Event".
			keep := len(eventOpen)
			rr.pendLine += bytes.Count(rr.pending[:len(rr.pending)-keep], []byte{'\n'})
			rr.pending = append(rr.pending[:0], rr.pending[len(rr.pending)-keep:]...)
		}
		if rr.eof {
			if findEventStart(rr.pending) >= 0 {
				// An Event element with no end: hand it to the decoder to reject.
				rec := Record{Line: rr.pendLine, Value: append([]byte(nil), rr.pending...)}
				rr.pending = nil
				return rec, nil
			}
			continue
		}
		if rr.pending == nil {
			rr.pendLine = rr.line
		}
		if err := rr.fill(); err != nil {
			return Record{}, err
		}
	}
}

func (rr *RecordReader) skipPast(marker []byte) error {
	for {
		if j := bytes.Index(rr.pending, marker); j >= 0 {
			rr.pendLine += bytes.Count(rr.pending[:j+len(marker)], []byte{'\n'})
			rr.pending = rr.pending[j+len(marker):]
			return nil
		}
		keep := len(marker)
		if len(rr.pending) > keep {
			rr.pendLine += bytes.Count(rr.pending[:len(rr.pending)-keep], []byte{'\n'})
			rr.pending = append(rr.pending[:0], rr.pending[len(rr.pending)-keep:]...)
		}
		if rr.eof {
			rr.pending = nil
			return nil
		}
		if err := rr.fill(); err != nil {
			return err
		}
	}
}

// fill appends the next chunk of input to pending.
func (rr *RecordReader) fill() error {
	chunk := make([]byte, 64<<10)
	n, err := io.ReadFull(rr.r, chunk)
	rr.pending = append(rr.pending, chunk[:n]...)
	if err != nil {
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("read input: %w", err)
		}
		rr.eof = true
	}
	return nil
}

// findEventStart finds "<Event" followed by whitespace, '>' or '/'.
func findEventStart(b []byte) int {
	off := 0
	for {
		i := bytes.Index(b[off:], eventOpen)
		if i < 0 {
			return -1
		}
		i += off
		if k := i + len(eventOpen); k < len(b) {
			switch b[k] {
			case ' ', '\t', '\r', '\n', '>', '/':
				return i
			}
		} else {
			return -1 // need more bytes to decide
		}
		off = i + 1
	}
}

// onlyMarkup reports whether b holds nothing but a prolog, wrapper tags,
// comments and whitespace (what surrounds events in a wevtutil export).
func onlyMarkup(b []byte) bool {
	b = bytes.TrimSpace(b)
	for len(b) > 0 {
		if b[0] != '<' {
			return false
		}
		j := bytes.IndexByte(b, '>')
		if j < 0 {
			return false
		}
		b = bytes.TrimSpace(b[j+1:])
	}
	return true
}
