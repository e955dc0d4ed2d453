package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
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
	logs    *testLog
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
	p := &serverProcess{t: t, addr: addr, dataDir: t.TempDir(), logs: &testLog{t: t}}
	p.start(extraArgs...)
	t.Cleanup(func() {
		if p.cmd != nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
		p.logs.mu.Lock()
		p.logs.done = true
		p.logs.mu.Unlock()
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
	go p.logs.copy(stderr)
	checkFor(p.t, 20*time.Second, 20*time.Millisecond, func() error {
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

// testLog copies a process's log lines to the test log while the test runs.
type testLog struct {
	t    *testing.T
	mu   sync.Mutex
	done bool
}

func (l *testLog) copy(r io.Reader) {
	s := bufio.NewScanner(r)
	for s.Scan() {
		l.mu.Lock()
		if !l.done {
			l.t.Log("server: " + strings.TrimSpace(s.Text()))
		}
		l.mu.Unlock()
	}
}

// proxy is a TCP proxy between clients and the server that the test can cut:
// every connection through it drops, and new ones are refused, until it is
// restored, as when a network goes away.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
}

// startProxy listens on a random 127.0.0.1 port and forwards to target.
func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: make(map[net.Conn]struct{})}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.setCut(true)
	})
	return p
}

// URL is the proxied page's address.
func (p *proxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.forward(c)
	}
}

// forward pipes one client connection to the target in both directions.
func (p *proxy) forward(client net.Conn) {
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		client.Close()
		return
	}
	p.mu.Unlock()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		client.Close()
		server.Close()
		return
	}
	p.conns[client], p.conns[server] = struct{}{}, struct{}{}
	p.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { io.Copy(server, client); cancel() }()
	go func() { io.Copy(client, server); cancel() }()
	<-ctx.Done()
	client.Close()
	server.Close()
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, server)
	p.mu.Unlock()
}

// setCut drops every connection and refuses new ones (true), or lets
// connections through again (false).
func (p *proxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
	}
}
