package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Sum adds up every counter or gauge series of c, for summaries and tests.
func Sum(c prometheus.Collector) float64 {
	var total float64
	each(c, func(_ map[string]string, v float64) { total += v })
	return total
}

// ByLabel returns c's values summed per value of one label.
func ByLabel(c prometheus.Collector, label string) map[string]float64 {
	out := map[string]float64{}
	each(c, func(ls map[string]string, v float64) { out[ls[label]] += v })
	return out
}

func each(c prometheus.Collector, fn func(map[string]string, float64)) {
	ch := make(chan prometheus.Metric, 64)
	go func() {
		c.Collect(ch)
		close(ch)
	}()
	for m := range ch {
		var d dto.Metric
		if err := m.Write(&d); err != nil {
			continue
		}
		ls := map[string]string{}
		for _, lp := range d.GetLabel() {
			ls[lp.GetName()] = lp.GetValue()
		}
		switch {
		case d.Counter != nil:
			fn(ls, d.Counter.GetValue())
		case d.Gauge != nil:
			fn(ls, d.Gauge.GetValue())
		case d.Histogram != nil:
			fn(ls, float64(d.Histogram.GetSampleCount()))
		}
	}
}
