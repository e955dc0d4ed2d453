//go:build unix

package fdlimit

import (
	"fmt"
	"syscall"
)

// Raise sets the soft limit of open files to the hard limit, unless it is
// there already, and returns the limit then in force.
func Raise() (Limit, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return Limit{}, fmt.Errorf("read the open files limit: %w", err)
	}
	if l.Cur < l.Max {
		raised := syscall.Rlimit{Cur: l.Max, Max: l.Max}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err != nil {
			return Limit{Soft: l.Cur, Hard: l.Max}, fmt.Errorf("raise the open files limit from %d to %d: %w", l.Cur, l.Max, err)
		}
		l = raised
	}
	return Limit{Soft: l.Cur, Hard: l.Max}, nil
}

// Current returns the limit of open files in force.
func Current() (Limit, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return Limit{}, fmt.Errorf("read the open files limit: %w", err)
	}
	return Limit{Soft: l.Cur, Hard: l.Max}, nil
}
