// Package metrics defines every Prometheus metric msixguard exports, in one
// place, registered on a registry the caller passes in (no globals), so the
// CLI, tests and `check`'s summary read the same counters.
//
// It owns names, help texts and labels only; the stages update the values.
package metrics
