package testfixture

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// AzuriteAccountURL is the blob URL of Azurite's development account on the given host:port.
func AzuriteAccountURL(addr string) string { return "http://" + addr + "/devstoreaccount1" }

// Azurite is an in-memory Azurite blob service (the Azure Storage emulator) on a loopback port,
// started by a test. Its blobs live as long as the process: Stop forgets them.
type Azurite struct {
	t    testing.TB
	bin  string
	addr string // 127.0.0.1:port, fixed after the first start

	mu  sync.Mutex
	cmd *exec.Cmd
	out *logWriter
}

// AzuriteBin finds azurite-blob: $EDGECAM_AZURITE, else .deps/azurite in the repository (where
// `make deps` installs it). Under make (EDGECAM_AZURITE set) a missing binary fails the test;
// in a plain `go test` it skips.
func AzuriteBin(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("EDGECAM_AZURITE")
	required := bin != ""
	if bin == "" {
		bin = filepath.Join(RepoRoot(t), ".deps", "azurite", "node_modules", ".bin", "azurite-blob")
	}
	if _, err := os.Stat(bin); err != nil {
		if required {
			t.Fatalf("Azurite: %v (run `make deps`, which installs npm azurite into .deps/azurite)", err)
		}
		t.Skipf("Azurite not installed (%v): run `make deps` to install it; `make test` requires it", err)
	}
	return bin
}

// StartAzurite starts Azurite's blob service in memory on a free loopback port; the test's
// cleanup stops it.
func StartAzurite(t testing.TB) *Azurite {
	t.Helper()
	a := &Azurite{t: t, bin: AzuriteBin(t), addr: "127.0.0.1:0"}
	if err := a.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Stop)
	return a
}

// Addr is Azurite's host:port.
func (a *Azurite) Addr() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.addr
}

// AccountURL is the development account's blob URL, e.g. http://127.0.0.1:41234/devstoreaccount1.
func (a *Azurite) AccountURL() string { return AzuriteAccountURL(a.Addr()) }

var listensRE = regexp.MustCompile(`listens on https?://([0-9.]+:[0-9]+)`)

func (a *Azurite) start() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cmd != nil {
		return nil
	}
	host, port, _ := net.SplitHostPort(a.addr)
	var lastErr error
	// A restart on the same port may find it not yet released: retry briefly.
	for attempt := 0; attempt < 20; attempt++ {
		args := []string{"--inMemoryPersistence", "--blobHost", host, "--blobPort", port, "--skipApiVersionCheck", "--loose", "--silent"}
		cmd := exec.Command(a.bin, args...)
		// The Node.js that make deps installed beside Azurite when the system's is too old.
		if node := filepath.Join(filepath.Dir(a.bin), "..", "..", ".node", "bin", "node"); fileExists(node) {
			cmd = exec.Command(node, append([]string{a.bin}, args...)...)
		}
		// Its own process group (Stop kills node and its children); killed with the test binary too.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "AZURITE_DB=") { // SQL metadata storage rules out in-memory
				cmd.Env = append(cmd.Env, kv)
			}
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		out := &logWriter{t: a.t}
		cmd.Stderr = out
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("starting Azurite (%s): %w", a.bin, err)
		}
		addr := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(stdout)
			sent := false
			for sc.Scan() {
				line := sc.Text()
				out.Write([]byte(line + "\n"))
				if m := listensRE.FindStringSubmatch(line); m != nil && !sent {
					addr <- m[1]
					sent = true
				}
			}
			if !sent {
				close(addr)
			}
			_, _ = io.Copy(io.Discard, stdout)
		}()
		select {
		case got, ok := <-addr:
			if ok {
				a.cmd, a.out, a.addr = cmd, out, got
				return nil
			}
			lastErr = fmt.Errorf("Azurite exited before listening on %s: %s", a.addr, strings.TrimSpace(out.String()))
		case <-time.After(60 * time.Second):
			lastErr = fmt.Errorf("Azurite did not listen on %s within 60 s: %s", a.addr, strings.TrimSpace(out.String()))
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		if port == "0" {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	return lastErr
}

// Stop kills Azurite (storage becomes unreachable; its blobs are gone).
func (a *Azurite) Stop() {
	a.mu.Lock()
	cmd := a.cmd
	a.cmd = nil
	a.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Wait()
}

// Restart starts Azurite again on the same port after Stop, empty.
func (a *Azurite) Restart() {
	a.t.Helper()
	if err := a.start(); err != nil {
		a.t.Fatal(err)
	}
}

// WaitReady waits until the blob port accepts connections.
func (a *Azurite) WaitReady(ctx context.Context) error {
	for {
		c, err := net.DialTimeout("tcp", a.Addr(), time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// logWriter keeps Azurite's output for error messages.
type logWriter struct {
	t  testing.TB
	mu sync.Mutex
	b  strings.Builder
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.b.Len() < 16<<10 {
		w.b.Write(p)
	}
	return len(p), nil
}

func (w *logWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
