package client

import (
	"math"
	"testing"
	"time"
)

func TestBackoffCeiling(t *testing.T) {
	t.Parallel()
	tests := []struct {
		b       Backoff
		attempt int
		want    time.Duration
	}{
		{Backoff{}, -1, 500 * time.Millisecond},
		{Backoff{}, 0, 500 * time.Millisecond},
		{Backoff{}, 1, time.Second},
		{Backoff{}, 2, 2 * time.Second},
		{Backoff{}, 3, 4 * time.Second},
		{Backoff{}, 4, 8 * time.Second},
		{Backoff{}, 5, 10 * time.Second},
		{Backoff{}, 62, 10 * time.Second},
		{Backoff{}, math.MaxInt, 10 * time.Second}, // no overflow, no long loop
		{Backoff{Base: time.Millisecond, Max: 5 * time.Millisecond}, 2, 4 * time.Millisecond},
		{Backoff{Base: time.Millisecond, Max: 5 * time.Millisecond}, 3, 5 * time.Millisecond},
		{Backoff{Base: time.Minute, Max: time.Second}, 0, time.Second}, // Max wins
	}
	for _, tt := range tests {
		if got := tt.b.Ceiling(tt.attempt); got != tt.want {
			t.Errorf("%+v.Ceiling(%d) = %v, want %v", tt.b, tt.attempt, got, tt.want)
		}
	}
}

// TestBackoffJitter checks that delays are full jitter: within [0, ceiling)
// and spread evenly over it, for each attempt.
func TestBackoffJitter(t *testing.T) {
	t.Parallel()
	const (
		samples = 20000
		buckets = 10
		// Each bucket expects samples/buckets = 2000; 5 standard
		// deviations (about 212) either way never fails by chance.
		slack = 212
	)
	var b Backoff
	for attempt := range 7 {
		ceiling := b.Ceiling(attempt)
		var counts [buckets]int
		var sum time.Duration
		for range samples {
			d := b.Delay(attempt)
			if d < 0 || d >= ceiling {
				t.Fatalf("Delay(%d) = %v, outside [0, %v)", attempt, d, ceiling)
			}
			counts[int(d*buckets/ceiling)]++
			sum += d
		}
		for i, n := range counts {
			if n < samples/buckets-slack || n > samples/buckets+slack {
				t.Errorf("attempt %d: %d of %d delays in tenth %d of [0, %v), want about %d", attempt, n, samples, i, ceiling, samples/buckets)
			}
		}
		if mean, want := sum/samples, ceiling/2; mean < want*95/100 || mean > want*105/100 {
			t.Errorf("attempt %d: mean delay %v, want about %v", attempt, mean, want)
		}
	}
}
