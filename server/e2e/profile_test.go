package e2e

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// TestCPUProfile checks that -cpuprofile leaves a complete profile when the
// server stops on SIGTERM: the profile is written as the process exits, so
// a profile cut short would be empty or not gzip (pprof's format).
func TestCPUProfile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	p := startProcess(t, "-cpuprofile", path)
	for range 20 {
		resp, err := http.Get(p.URL() + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	p.terminate()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no profile after SIGTERM: %v", err)
	}
	if len(b) < 64 || !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
		t.Fatalf("the profile is %d bytes and not gzip: %q", len(b), b[:min(len(b), 16)])
	}
}
