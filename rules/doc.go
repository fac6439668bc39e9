// Package rules owns detections: the YAML rule format, the built-in rule
// (Windows Developer-Signed MSIX Package Installation), compiled matching of
// events against a rule's search filter, extraction of the group key and the
// stats inputs of a matching event, and the tuning allowlist (the SPL
// `*_filter` macro).
//
// A rule maps 1:1 to the SPL of a Splunk security_content detection of the
// shape `search … | stats count min(_time) max(_time) values(X) by A B C |
// rename | ctime | filter macro`. See docs/rules.md for the format.
//
// Semantics follow SPL, not Go string comparison: `field=value` is
// case-insensitive with `*` wildcards and numeric when both sides are
// numbers; `NOT field IN (…)` is true when the field is missing; a multivalue
// field matches when any of its values does.
//
// rules reads events (package event) and must not know about Kafka, windows
// or output encodings.
package rules
