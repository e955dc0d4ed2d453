package bench

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestHistogramBuckets checks that every bucket's bounds hold the values
// that fall in it, from the exact ones to the last.
func TestHistogramBuckets(t *testing.T) {
	prev := -1
	for _, us := range []uint64{0, 1, 31, 32, 63, 64, 65, 127, 128, 1000, 12345, 1 << 20, 1<<31 - 2, 1<<31 - 1, 1 << 40} {
		i := bucketOf(us)
		if i < prev || i >= histBuckets {
			t.Fatalf("bucketOf(%d) = %d after %d, of %d buckets", us, i, prev, histBuckets)
		}
		prev = i
		v := min(us, histMaxUS)
		if lo := bucketUpper(i - 1); i > 0 && v < lo || v >= bucketUpper(i) {
			t.Errorf("%d µs in bucket %d of [%d, %d)", us, i, bucketUpper(i-1), bucketUpper(i))
		}
		if v >= 32 && float64(bucketUpper(i)-bucketUpper(i-1)) > 0.033*float64(bucketUpper(i-1)) {
			t.Errorf("bucket %d of %d µs is wider than 3.2%%", i, us)
		}
	}
	if got := bucketOf(histMaxUS); got != histBuckets-1 {
		t.Errorf("the longest latency is in bucket %d, want the last, %d", got, histBuckets-1)
	}
}

// TestHistogramQuantiles compares the percentiles with those of the sorted
// samples: never below, within a bucket above.
func TestHistogramQuantiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var parts [3]histogram
	var samples []time.Duration
	for i := range 100000 {
		d := time.Duration(rng.ExpFloat64() * float64(3*time.Millisecond))
		samples = append(samples, d)
		parts[i%3].record(d)
	}
	var all totals
	for i := range parts {
		all.add(&parts[i])
	}
	slices.Sort(samples)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		exact := samples[int(q*float64(len(samples)-1))]
		got := all.quantile(q)
		if got < exact || float64(got) > float64(exact)*1.033+float64(time.Microsecond) {
			t.Errorf("quantile(%v) = %v, exact %v: want within 3.2%% above", q, got, exact)
		}
	}
	if all.max != samples[len(samples)-1] || all.quantile(1) != all.max {
		t.Errorf("max %v, quantile(1) %v; want %v", all.max, all.quantile(1), samples[len(samples)-1])
	}
	var empty totals
	if empty.quantile(0.99) != 0 {
		t.Error("an empty histogram has a p99")
	}
}
