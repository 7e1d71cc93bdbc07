package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/emulator"
	"github.com/edgecam/edgecam/internal/onvif"
	"github.com/edgecam/edgecam/internal/onvif/onviftest"
	"github.com/edgecam/edgecam/internal/testfixture"
)

// testNet is a LAN of network namespaces joined by a bridge: "lan" holds the bridge (and
// edgecam, the IoT Hub emulator), every other host a veth into it. Multicast is routed on each
// host's interface, so WS-Discovery works between them and never reaches the machine's own
// interfaces.
type testNet struct {
	t      *testing.T
	ip     string
	prefix string
}

const netnsSubnet = "10.231.0" // inside the namespaces only

func newTestNet(t *testing.T) *testNet {
	t.Helper()
	ip, err := exec.LookPath("ip")
	if err != nil {
		t.Fatalf("the ip command (iproute2) is needed for the network namespaces: %v", err)
	}
	n := &testNet{t: t, ip: ip, prefix: fmt.Sprintf("ecv%d-", os.Getpid()%100000)}
	n.addNS("lan")
	n.run("-n", n.ns("lan"), "link", "set", "lo", "up")
	n.run("-n", n.ns("lan"), "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
	n.run("-n", n.ns("lan"), "addr", "add", netnsSubnet+".1/24", "dev", "br0")
	n.run("-n", n.ns("lan"), "link", "set", "br0", "up")
	n.run("-n", n.ns("lan"), "route", "add", "224.0.0.0/4", "dev", "br0")
	return n
}

func (n *testNet) ns(name string) string   { return n.prefix + name }
func (n *testNet) path(name string) string { return "/run/netns/" + n.ns(name) }

func (n *testNet) run(args ...string) {
	n.t.Helper()
	if out, err := exec.Command(n.ip, args...).CombinedOutput(); err != nil {
		n.t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (n *testNet) addNS(name string) {
	n.t.Helper()
	_ = exec.Command(n.ip, "netns", "del", n.ns(name)).Run() // left by a killed run
	n.run("netns", "add", n.ns(name))
	n.t.Cleanup(func() { _ = exec.Command(n.ip, "netns", "del", n.ns(name)).Run() })
}

// addHost adds a namespace with eth0 on the bridge at netnsSubnet.host.
func (n *testNet) addHost(name string, host int) {
	n.t.Helper()
	n.addNS(name)
	ns := n.ns(name)
	n.run("-n", n.ns("lan"), "link", "add", "v"+name, "type", "veth", "peer", "name", "eth0", "netns", ns)
	n.run("-n", n.ns("lan"), "link", "set", "v"+name, "master", "br0", "up")
	n.run("-n", ns, "link", "set", "lo", "up")
	n.run("-n", ns, "addr", "add", fmt.Sprintf("%s.%d/24", netnsSubnet, host), "dev", "eth0")
	n.run("-n", ns, "link", "set", "eth0", "up")
	n.run("-n", ns, "route", "add", "224.0.0.0/4", "dev", "eth0")
}

// move gives host name the address netnsSubnet.to instead of netnsSubnet.from.
func (n *testNet) move(name string, from, to int) {
	n.t.Helper()
	ns := n.ns(name)
	n.run("-n", ns, "addr", "del", fmt.Sprintf("%s.%d/24", netnsSubnet, from), "dev", "eth0")
	n.run("-n", ns, "addr", "add", fmt.Sprintf("%s.%d/24", netnsSubnet, to), "dev", "eth0")
	n.run("-n", ns, "route", "replace", "224.0.0.0/4", "dev", "eth0")
}

// command returns `ip netns exec <ns> name args...`.
func (n *testNet) command(ns, name string, args ...string) *exec.Cmd {
	return exec.Command(n.ip, append([]string{"netns", "exec", n.ns(ns), name}, args...)...)
}

// requireNetns skips without root (the namespaces need it) and fails under make when a tool is
// missing; it returns wsdd's path.
func requireNetns(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary and a network of namespaces")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: the test makes its own network of namespaces (ip netns add, veth, a bridge) so that WS-Discovery never probes this machine's interfaces; `make test` as root runs it")
	}
	wsdd, err := exec.LookPath("wsdd")
	if err != nil {
		if os.Getenv("EDGECAM_ONVIF") != "" { // under make, which installs it
			t.Fatalf("wsdd is not installed (make deps installs it with apt): %v", err)
		}
		t.Skipf("wsdd is not installed (apt-get install wsdd, or make deps): %v", err)
	}
	return wsdd
}

// The end-to-end test, on a LAN of network namespaces: two emulated ONVIF cameras and
// wsdd (an unrelated WS-Discovery device). `edgecam discover` lists the two cameras and not wsdd;
// with credentials it prints configuration that `edgecam run` uses to send tallies from both;
// a camera that moves to another address is found again and its tallies continue within a minute.
func TestDiscoverRunNetns(t *testing.T) {
	wsddPath := requireNetns(t)
	exe, lib := buildEdgecam(t)
	model := testModel(t)
	jpeg, err := os.ReadFile(testPhoto(t, "bus.jpg"))
	if err != nil {
		t.Fatal(err)
	}

	net := newTestNet(t)
	net.addHost("cam1", 11)
	net.addHost("cam2", 12)
	net.addHost("wsdd", 30)

	const user, password = "admin", "onvif-test-pw"
	camOpts := func(ns, name string, host int, endpoint string) onviftest.Options {
		return onviftest.Options{Endpoint: endpoint, Name: name, Manufacturer: "edgecam", Model: "onviftest",
			Username: user, Password: password, Snapshot: jpeg, IP: fmt.Sprintf("%s.%d", netnsSubnet, host), Port: 8080,
			StreamURI: fmt.Sprintf("rtsp://%s.%d:8554/cam", netnsSubnet, host),
			Interface: "eth0", Netns: net.path(ns)}
	}
	startCam := func(o onviftest.Options) *onviftest.Camera {
		t.Helper()
		c, err := onviftest.Start(o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	opts1 := camOpts("cam1", "Cam1 front door", 11, "urn:uuid:"+onvif.NewUUID())
	opts2 := camOpts("cam2", "Cam2 back yard", 12, "urn:uuid:"+onvif.NewUUID())
	cam1 := startCam(opts1)
	cam2 := startCam(opts2)

	// `edgecam discover` while wsdd starts: its Hello (a wsdp:Device) arrives during the listen.
	wsddUUID := onvif.NewUUID()
	discover := net.command("lan", exe, "discover", "--timeout", "4s", "--log-level", "debug")
	discover.Env = []string{"PATH=" + os.Getenv("PATH")}
	var dOut, dErr testfixture.LockedBuffer
	discover.Stdout, discover.Stderr = &dOut, &dErr
	if err := discover.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	wsdd := net.command("wsdd", wsddPath, "-i", "eth0", "-4", "-n", "wsdd-test", "-U", wsddUUID, "-s", "-v")
	var wsddOut testfixture.LockedBuffer
	wsdd.Stdout, wsdd.Stderr = &wsddOut, &wsddOut
	if err := wsdd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = wsdd.Process.Kill()
		_ = wsdd.Wait()
		if t.Failed() {
			t.Logf("wsdd:\n%s", wsddOut.String())
		}
	})
	if err := discover.Wait(); err != nil {
		t.Fatalf("edgecam discover: %v\n%s\n%s", err, dOut.String(), dErr.String())
	}
	table := dOut.String()
	t.Logf("edgecam discover:\n%s", table)
	for _, c := range []*onviftest.Camera{cam1, cam2} {
		if !strings.Contains(table, c.Endpoint()) || !strings.Contains(table, c.XAddr()) {
			t.Errorf("discover does not list %s at %s", c.Endpoint(), c.XAddr())
		}
	}
	if rows := strings.Count(table, "\n"); rows != 3 || strings.Contains(table, wsddUUID) {
		t.Errorf("discover lists %d lines, want the header and the two cameras, not wsdd (%s)", rows, wsddUUID)
	}
	if strings.Contains(dErr.String(), wsddUUID) {
		t.Logf("wsdd's Hello arrived during the listen and was skipped as another type")
	}

	// wsdd is alive and answers WS-Discovery for its own type: it is a real discovery device
	// that the camera probe leaves out.
	// (The cameras answer too: ONVIF devices are also tds:Device.)
	var others []onvif.Device
	found := false
	err = onviftest.InNetns(net.path("lan"), func() error {
		var err error
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && !found; {
			others, err = onvif.Discover(context.Background(), onvif.DiscoverOptions{Types: []string{"wsdp:Device"}, Timeout: 2 * time.Second, NoHello: true})
			if err != nil {
				return err
			}
			for _, d := range others {
				found = found || onvif.NormalizeEndpoint(d.Endpoint) == wsddUUID && d.Address == netnsSubnet+".30"
			}
		}
		return nil
	})
	if err != nil || !found {
		t.Fatalf("a wsdp:Device probe found %+v (%v); want wsdd (%s) among them\nwsdd: %s", others, err, wsddUUID, wsddOut.String())
	}

	// With credentials: the configuration block.
	discover = net.command("lan", exe, "discover", "--timeout", "3s", "--username", user)
	discover.Env = []string{"PATH=" + os.Getenv("PATH"), envCameraPassword + "=" + password}
	out, err := discover.CombinedOutput()
	if err != nil {
		t.Fatalf("edgecam discover --username: %v\n%s", err, out)
	}
	t.Logf("edgecam discover --username %s:\n%s", user, out)
	if bytes.Contains(out, []byte(password)) {
		t.Fatal("discover printed the password")
	}
	_, block, ok := strings.Cut(string(out), "\ncameras:\n")
	if !ok {
		t.Fatalf("no cameras: block in\n%s", out)
	}
	ids := []string{"cam1-front-door", "cam2-back-yard"}
	for _, id := range ids {
		if !strings.Contains(block, "- id: "+id+"\n") {
			t.Fatalf("no camera %s in\n%s", id, block)
		}
	}

	// `edgecam run` with that configuration, in the LAN, against the IoT Hub emulator there.
	var e *emulator.Emulator
	err = onviftest.InNetns(net.path("lan"), func() error {
		var err error
		e, err = emulator.Start(context.Background(), emulator.Config{
			DPS: emulator.DPSConfig{Groups: []emulator.Group{{Name: "run-tests", Key: runGroupKey}}},
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	cfg := configFile(t, "", runConfigYAML(model, block))
	run := net.command("lan", exe, "run", "--log-format", "json", "--config", cfg, "--ort-lib", lib)
	run.Env = binaryEnv(e, filepath.Join(t.TempDir(), "state"),
		envName(ids[0])+"="+password, envName(ids[1])+"="+password)
	p := startEdgecamCmd(t, run)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const body = `{"bicycle":0,"bus":1,"car":0,"person":3}`
	for _, id := range ids {
		msgs, err := e.WaitTelemetry(ctx, 2, emulator.FromDevice(id))
		if err != nil {
			t.Fatalf("tallies from %s: %v", id, err)
		}
		if string(msgs[0].Body) != body {
			t.Errorf("%s sent %s, want %s (bus.jpg from the camera's snapshot)", id, msgs[0].Body, body)
		}
	}

	// Camera 1 moves to another address (a new DHCP lease): the daemon finds it again by its
	// endpoint and its tallies continue.
	before := len(filterTelemetry(e.Telemetry(), ids[0]))
	snapsBefore := cam1.Snapshots()
	moved := time.Now()
	cam1.Close()
	net.move("cam1", 11, 21)
	opts1.IP = netnsSubnet + ".21"
	cam1b := startCam(opts1)
	mctx, mcancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer mcancel()
	if _, err := e.WaitTelemetry(mctx, before+3, emulator.FromDevice(ids[0])); err != nil {
		t.Fatalf("after camera 1 moved: %v", err)
	}
	took := time.Since(moved)
	t.Logf("camera 1 moved from .11 to .21: 3 more tallies %v after the move (%d snapshots before, %d from the new address)",
		took.Round(100*time.Millisecond), snapsBefore, cam1b.Snapshots())
	if took > time.Minute {
		t.Errorf("tallies continued %v after the move, want within a minute", took)
	}
	if !strings.Contains(p.stderr(), "ONVIF camera moved") || !strings.Contains(p.stderr(), netnsSubnet+".21") {
		t.Errorf("the log does not say where camera 1 went")
	}
	if n := len(filterTelemetry(e.Telemetry(), ids[1])); n < 3 {
		t.Errorf("camera 2 sent %d tallies", n)
	}
	p.terminate(t)
}

func filterTelemetry(ts []emulator.Telemetry, id string) []emulator.Telemetry {
	var out []emulator.Telemetry
	for _, t := range ts {
		if t.DeviceID == id {
			out = append(out, t)
		}
	}
	return out
}
