package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chatwasm/chat/server/servertest"
)

// chatBinary builds the real server binary once per test run: the crash test
// kills it with SIGKILL, which an in-process server cannot survive.
var chatBinary = sync.OnceValues(func() (string, error) {
	bin := filepath.Join(buildDir, "chat")
	out, err := exec.Command("go", "build", "-o", bin, repoRoot).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build the server: %v\n%s", err, out)
	}
	return bin, nil
})

// serverProcess is the chat server running as its own process on a fixed
// address and data directory, so that it can be killed and restarted.
type serverProcess struct {
	t       *testing.T
	addr    string
	dataDir string
	cmd     *exec.Cmd
	logs    io.Writer // servertest.LogWriter: the process's stderr
}

// startProcess starts the server binary on a free 127.0.0.1 port with a
// fresh data directory, waits until it serves, and stops it at the end of
// the test.
func startProcess(t *testing.T, extraArgs ...string) *serverProcess {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := &serverProcess{t: t, addr: addr, dataDir: t.TempDir(), logs: servertest.LogWriter(t)}
	p.start(extraArgs...)
	t.Cleanup(func() {
		if p.cmd != nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	return p
}

// URL is the page's address.
func (p *serverProcess) URL() string { return "http://" + p.addr }

// start runs the binary and waits until the page answers.
func (p *serverProcess) start(extraArgs ...string) {
	p.t.Helper()
	bin, err := chatBinary()
	if err != nil {
		p.t.Fatal(err)
	}
	args := append([]string{"-addr", p.addr, "-data", p.dataDir, "-web", repoRoot}, extraArgs...)
	p.cmd = exec.Command(bin, args...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		p.t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		p.t.Fatalf("start the server: %v", err)
	}
	go io.Copy(p.logs, stderr)
	servertest.CheckFor(p.t, 20*time.Second, 20*time.Millisecond, func() error {
		resp, err := http.Get(p.URL() + "/manifest.webmanifest")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
}

// kill ends the process with SIGKILL: no shutdown, no flush, as in a crash.
func (p *serverProcess) kill() {
	p.t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		p.t.Fatalf("kill the server: %v", err)
	}
	p.cmd.Wait()
	p.cmd = nil
	p.t.Logf("server killed with SIGKILL")
}

// terminate asks the process to stop with SIGTERM, as an orchestrator does
// before a deploy, and waits for it to exit, returning how long it took. A
// non-zero exit fails the test.
func (p *serverProcess) terminate() time.Duration {
	p.t.Helper()
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatalf("signal the server: %v", err)
	}
	err := p.cmd.Wait()
	p.cmd = nil
	if err != nil {
		p.t.Fatalf("the server did not exit cleanly on SIGTERM: %v", err)
	}
	return time.Since(start)
}
