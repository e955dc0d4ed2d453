package bench

import (
	"os"
	"runtime"
	"testing"
	"time"
)

// TestParseProc reads the figures out of /proc files as Linux writes them.
func TestParseProc(t *testing.T) {
	status := "Name:\tchat\nVmPeak:\t  900000 kB\nVmRSS:\t   73412 kB\nRssAnon:\t   60000 kB\n"
	if got, err := parseVmRSS([]byte(status)); err != nil || got != 73412<<10 {
		t.Errorf("parseVmRSS = %d, %v; want %d", got, err, 73412<<10)
	}
	for _, bad := range []string{"Name:\tkthreadd\n", "VmRSS:\t 12 MB\n", "VmRSS:\tlots kB\n"} {
		if _, err := parseVmRSS([]byte(bad)); err == nil {
			t.Errorf("parseVmRSS(%q) has no error", bad)
		}
	}
	// utime 250 and stime 50 ticks; the command name holds a space and a ')'.
	stat := "4242 (my chat) x) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 50 0 0 20 0 12 0 99 1000 200 18446744073709551615\n"
	if got, err := parseStatCPU([]byte(stat)); err != nil || got != 3*time.Second {
		t.Errorf("parseStatCPU = %v, %v; want 3s", got, err)
	}
	if _, err := parseStatCPU([]byte("4242 (chat) S 1 2")); err == nil {
		t.Error("parseStatCPU of a short line has no error")
	}
}

// TestServerFigures reads this process's memory and CPU as a server's.
func TestServerFigures(t *testing.T) {
	if runtime.GOOS != "linux" {
		// No /proc: a pid is an error, said before any client connects.
		if _, err := Run(t.Context(), Config{ServerPID: os.Getpid()}); err == nil {
			t.Error("Run with a pid and no /proc has no error")
		}
		return
	}
	if rss, err := serverRSS(os.Getpid()); err != nil || rss <= 0 {
		t.Errorf("serverRSS = %d, %v", rss, err)
	}
	if _, err := serverCPU(os.Getpid()); err != nil {
		t.Errorf("serverCPU: %v", err)
	}
	if _, err := serverRSS(1 << 30); err == nil {
		t.Error("serverRSS of a pid that does not exist has no error")
	}
	if cpu, ok := selfCPU(); !ok || cpu <= 0 {
		t.Errorf("selfCPU = %v, %v", cpu, ok)
	}
}
