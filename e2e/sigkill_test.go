package e2e

import (
	"math/rand"
	"testing"
	"time"
)

// TestSIGKILLReplicasMidWindow runs three `msixguard run` processes, kills
// replicas with SIGKILL while windows are open (and starts replacements),
// and checks that the final risk messages equal check's: none lost, no split
// counts, repeats identical. It runs in every `go test ./...`; the longer
// fault suite is in fault_test.go.
func TestSIGKILLReplicasMidWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	d := newDeployment(t, 4)
	want, lines := expected(t), datasetLines(t)
	for i := 0; i < 3; i++ {
		d.startReplica()
	}
	// Feed the data in four slices; after each of the first three, SIGKILL
	// a random live replica at a random moment and start a replacement.
	step := len(lines) / 4
	for s := 0; s < 4; s++ {
		end := (s + 1) * step
		if s == 3 {
			end = len(lines)
		}
		d.produce(lines[s*step : end])
		if s < 3 {
			time.Sleep(time.Duration(500+rand.Intn(2000)) * time.Millisecond)
			live := d.live()
			d.sigkill(live[rand.Intn(len(live))])
			d.startReplica()
		}
	}
	d.verify(want, "SIGKILL x3")
}
