package server

import "testing"

// TestReleaser releases once the connection count moved by a tenth and by
// 100 at least, and then held still for a check; never for small moves or
// while the count still moves.
func TestReleaser(t *testing.T) {
	t.Parallel()
	var r releaser
	for i, step := range []struct {
		conns int
		want  bool
	}{
		{50, false},    // moving
		{50, false},    // still, but only 50 from 0
		{5000, false},  // a storm under way
		{10000, false}, // still moving
		{10000, true},  // held still: released at 10,000
		{10000, false}, // nothing moved since
		{9950, false},  // moving
		{9950, false},  // still, 50 from the release
		{9500, false},  // moving
		{9500, false},  // still, 500 from 10,000: under a tenth
		{0, false},     // everyone left
		{0, true},      // and it held: released at 0
	} {
		if got := r.check(step.conns); got != step.want {
			t.Errorf("step %d: check(%d) = %v, want %v", i, step.conns, got, step.want)
		}
	}
}
