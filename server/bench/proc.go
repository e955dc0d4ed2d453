package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// clockTicks is the unit of the CPU times in /proc/<pid>/stat: 100 a
// second, the USER_HZ that Linux reports to user space on every
// architecture (sysconf(_SC_CLK_TCK) needs cgo to ask).
const clockTicks = 100

// serverRSS returns the resident memory of process pid, in bytes, from the
// VmRSS line of /proc/<pid>/status (Linux).
func serverRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read the server's memory: %w", err)
	}
	rss, err := parseVmRSS(b)
	if err != nil {
		return 0, fmt.Errorf("read the server's memory from /proc/%d/status: %w", pid, err)
	}
	return rss, nil
}

// parseVmRSS returns the bytes of the VmRSS line of a /proc/<pid>/status,
// "VmRSS:	   12345 kB".
func parseVmRSS(status []byte) (int64, error) {
	for line := range bytes.SplitSeq(status, []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("VmRSS line %q is not a number of kB", line)
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil || kb < 0 {
			return 0, fmt.Errorf("VmRSS line %q is not a number of kB", line)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("no VmRSS line (a kernel thread, or not Linux)")
}

// serverCPU returns the CPU time (user and system) that process pid used so
// far, from /proc/<pid>/stat (Linux).
func serverCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read the server's CPU time: %w", err)
	}
	d, err := parseStatCPU(b)
	if err != nil {
		return 0, fmt.Errorf("read the server's CPU time from /proc/%d/stat: %w", pid, err)
	}
	return d, nil
}

// parseStatCPU returns utime + stime of a /proc/<pid>/stat line: fields 14
// and 15, counted from the pid, in clock ticks. The command name, field 2,
// is in parentheses and may hold spaces, so fields are counted from the last
// ')'.
func parseStatCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("no command name in %q", stat)
	}
	// After the name: field 3 (state) is f[0], so field k is f[k-3].
	f := bytes.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("%d fields after the command name, want 13 or more", len(f))
	}
	var ticks int64
	for _, s := range f[14-3 : 15-3+1] {
		v, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("CPU time %q is not a number of clock ticks", s)
		}
		ticks += v
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}
