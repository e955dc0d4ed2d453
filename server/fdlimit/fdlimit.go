// Package fdlimit raises a process's limit of open files (RLIMIT_NOFILE)
// to what the system allows it. Every WebSocket holds a file descriptor, and
// a shell's usual soft limit of 1024 would refuse connections long before
// the memory runs out: a server that holds 10,000 clients, and the load
// generator that opens them, each raise their own soft limit to the hard
// limit, which an unprivileged process may do. Go's os package already does
// so when it starts on Linux (since Go 1.19); Raise makes it explicit, on
// every Unix, and says what limit is in force, so that a server can log it.
package fdlimit

// Limit is a process's limit of open files: Soft is the one in force, Hard
// the most Soft may be raised to.
type Limit struct {
	Soft, Hard uint64
}
