//go:build !unix

package bench

import "time"

// selfCPU returns false: this system has no getrusage(2), and the report
// goes without the generator's CPU.
func selfCPU() (time.Duration, bool) { return 0, false }
