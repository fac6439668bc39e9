package pipeline

import "testing"

func TestDiffMessages(t *testing.T) {
	a := `{"id":"1","count":2,"detected_at":"x","packages":[]}`
	aLater := `{"count":2,"id":"1","detected_at":"y"}` // same contract fields, other order and time
	b := `{"id":"2","count":1}`
	cases := []struct {
		name, want, got string
		missing, extra  int
	}{
		{"equal ignoring detected_at and packages", a, aLater, 0, 0},
		{"repeats are not differences", a, aLater + "\n" + aLater, 0, 0},
		{"missing message", a + "\n" + b, a, 1, 0},
		{"unexpected message", a, a + "\n" + b, 0, 1},
		{"changed count", a, `{"id":"1","count":3}`, 1, 1},
	}
	for _, c := range cases {
		missing, extra, err := DiffMessages([]byte(c.want), []byte(c.got))
		if err != nil {
			t.Fatal(err)
		}
		if len(missing) != c.missing || len(extra) != c.extra {
			t.Errorf("%s: missing %v extra %v", c.name, missing, extra)
		}
	}
	if _, _, err := DiffMessages([]byte("{"), nil); err == nil {
		t.Error("bad JSON accepted")
	}
}
