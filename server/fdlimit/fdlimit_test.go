//go:build unix

package fdlimit

import (
	"syscall"
	"testing"
)

// TestRaise lowers the soft limit below the hard one (as a shell's 1024
// would be), raises it, and finds it at the hard limit; a second Raise
// changes nothing.
func TestRaise(t *testing.T) {
	before, err := Current()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		restore := syscall.Rlimit{Cur: before.Soft, Max: before.Hard}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &restore); err != nil {
			t.Errorf("restore the limit: %v", err)
		}
	})
	if before.Hard < 2 {
		t.Fatalf("hard limit %d: too low to lower the soft one below it", before.Hard)
	}
	low := syscall.Rlimit{Cur: min(before.Soft, before.Hard-1), Max: before.Hard}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatalf("lower the soft limit: %v", err)
	}
	for range 2 {
		got, err := Raise()
		if err != nil {
			t.Fatalf("Raise: %v", err)
		}
		if got.Soft != before.Hard || got.Hard != before.Hard {
			t.Errorf("Raise = %+v, want soft and hard %d", got, before.Hard)
		}
		now, err := Current()
		if err != nil {
			t.Fatal(err)
		}
		if now != got {
			t.Errorf("Current = %+v after Raise returned %+v", now, got)
		}
	}
}
