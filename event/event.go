package event

import (
	"time"
)

// Canonical field names. Decoders map every input format onto these, so a
// rule written against the normalized JSON contract works on XML, ECS and
// Avro input alike.
const (
	FieldEventCode      = "EventCode"
	FieldDvc            = "dvc"
	FieldUserID         = "user_id"
	FieldPackageMoniker = "PackageMoniker"
)

// Field is one named field of an event. A field can hold several values
// (a Splunk multivalue field); a present field with no values is treated as
// missing by rules and stats, as SPL treats an empty field.
type Field struct {
	Name   string
	Values []string
}

// Event is one decoded record. Fields is a short slice rather than a map:
// records carry a handful of fields, a linear scan beats hashing at that
// size, and the slice can be reused across records without allocating.
type Event struct {
	// Time is the event time (the SPL _time). Zero when the record had none.
	Time   time.Time
	Fields []Field
}

// Reset empties e for reuse, keeping the backing arrays.
func (e *Event) Reset() {
	e.Time = time.Time{}
	for i := range e.Fields {
		e.Fields[i].Values = e.Fields[i].Values[:0]
	}
	e.Fields = e.Fields[:0]
}

// Values returns the values of the named field, or nil when it is missing.
func (e *Event) Values(name string) []string {
	for i := range e.Fields {
		if e.Fields[i].Name == name {
			return e.Fields[i].Values
		}
	}
	return nil
}

// Value returns the first non-empty value of the named field and whether
// there was one. Empty strings count as missing, as in SPL.
func (e *Event) Value(name string) (string, bool) {
	for _, v := range e.Values(name) {
		if v != "" {
			return v, true
		}
	}
	return "", false
}

// Add appends a value to the named field, creating the field when needed.
func (e *Event) Add(name, value string) {
	for i := range e.Fields {
		if e.Fields[i].Name == name {
			e.Fields[i].Values = append(e.Fields[i].Values, value)
			return
		}
	}
	// Reuse a slot left by Reset so its Values array is recycled.
	if n := len(e.Fields); n < cap(e.Fields) {
		e.Fields = e.Fields[:n+1]
		e.Fields[n].Name = name
		e.Fields[n].Values = append(e.Fields[n].Values[:0], value)
		return
	}
	e.Fields = append(e.Fields, Field{Name: name, Values: []string{value}})
}

// Set replaces the values of the named field.
func (e *Event) Set(name string, values ...string) {
	for i := range e.Fields {
		if e.Fields[i].Name == name {
			e.Fields[i].Values = append(e.Fields[i].Values[:0], values...)
			return
		}
	}
	for _, v := range values {
		e.Add(name, v)
	}
}

// Has reports whether the field exists with at least one non-empty value.
func (e *Event) Has(name string) bool {
	_, ok := e.Value(name)
	return ok
}

// Clone returns a deep copy that shares nothing with e, for callers that
// keep an event while the decoder reuses the original.
func (e *Event) Clone() Event {
	c := Event{Time: e.Time, Fields: make([]Field, len(e.Fields))}
	for i, f := range e.Fields {
		c.Fields[i] = Field{Name: f.Name, Values: append([]string(nil), f.Values...)}
	}
	return c
}
