//go:build !unix

package fdlimit

import "errors"

// errUnsupported is returned where the system has no RLIMIT_NOFILE.
var errUnsupported = errors.New("no limit of open files on this system")

// Raise does nothing where the system has no RLIMIT_NOFILE.
func Raise() (Limit, error) { return Limit{}, errUnsupported }

// Current returns errUnsupported where the system has no RLIMIT_NOFILE.
func Current() (Limit, error) { return Limit{}, errUnsupported }
