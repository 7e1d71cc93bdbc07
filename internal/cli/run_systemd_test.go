package cli

import (
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The built binary speaks systemd's notify protocol as the Type=notify unit expects: READY=1
// once the cameras run, WATCHDOG=1 at half of WATCHDOG_USEC, STOPPING=1 on SIGTERM. systemd is
// played by a unix datagram socket in NOTIFY_SOCKET.
func TestRunBinarySystemdNotify(t *testing.T) {
	exe, lib := buildEdgecam(t)
	e := startRunEmulator(t)

	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msgs := make(chan string, 64)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := conn.ReadFromUnix(buf)
			if err != nil {
				close(msgs)
				return
			}
			for _, m := range strings.Split(strings.TrimSpace(string(buf[:n])), "\n") {
				msgs <- m
			}
		}
	}()
	env := binaryEnv(e, filepath.Join(t.TempDir(), "state"),
		"NOTIFY_SOCKET="+sock,
		"WATCHDOG_USEC=1000000", // pinged every 0.5 s
	)
	p := startEdgecam(t, exe, env, "--config", runConfig(t, testModel(t), ""), "--ort-lib", lib)

	expect := func(want string, within time.Duration) {
		t.Helper()
		deadline := time.After(within)
		for {
			select {
			case m, ok := <-msgs:
				if !ok {
					t.Fatalf("notify socket closed waiting for %s", want)
				}
				if m == want {
					return
				}
			case <-deadline:
				t.Fatalf("no %s within %v", want, within)
			}
		}
	}
	expect("READY=1", 60*time.Second)
	for i := 0; i < 3; i++ {
		expect("WATCHDOG=1", 10*time.Second)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	expect("STOPPING=1", 10*time.Second)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatal("edgecam still running 10 s after SIGTERM")
	}
	if p.err != nil {
		t.Fatalf("exit after SIGTERM: %v", p.err)
	}
}
