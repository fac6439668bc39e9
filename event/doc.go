// Package event holds the neutral record that flows between the stages: one
// decoded Windows event reduced to its time and the fields rules read.
//
// It owns nothing else. Decoders (package consumer) fill an Event, rules
// (package rules) read it, aggregation (package aggregate) folds it into
// window state. It must not import any other package of this module, so that
// every stage can depend on it without cycles.
package event
