// Package onviftest is an emulated ONVIF camera for tests: it answers WS-Discovery probes
// (multicast on an interface, or directed probes on a unicast address), announces itself with
// Hello, and serves the device and media SOAP services and JPEG snapshots over HTTP, with
// WS-UsernameToken or HTTP Digest authentication. Its profiles' stream URI is whatever RTSP
// server the test runs (testfixture.StartRTSPFeed); their snapshot URIs are its own.
//
// With Options.Netns the camera's sockets are opened inside that network namespace (as root),
// so that tests can put cameras on an isolated network of namespaces and never probe the
// machine's own interfaces.
package onviftest

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/edgecam/edgecam/internal/onvif"
)

// Options configure a test camera.
type Options struct {
	// Endpoint is the endpoint reference (default: a new urn:uuid:).
	Endpoint string
	// Name, Manufacturer and Model are reported in the scopes and GetDeviceInformation.
	Name, Manufacturer, Model string
	// Username and Password protect everything but GetSystemDateAndTime and discovery.
	Username, Password string
	// HTTPDigest makes the SOAP services require HTTP Digest (401 challenge) instead of a
	// WS-UsernameToken, as some cameras do.
	HTTPDigest bool
	// IP is the address the HTTP server listens on (default 127.0.0.1); Port its port (0: any).
	IP   string
	Port int
	// Interface, when set, joins the discovery group on that interface: the camera answers
	// multicast probes there and sends Hello there at start.
	Interface string
	// DiscoveryAddr, when set (e.g. 127.0.0.1:0), answers directed probes on that unicast address.
	DiscoveryAddr string
	// ReportedIP is the address put in the XAddrs (default IP): another one emulates a camera that
	// reports a stale or internal address.
	ReportedIP string
	// Snapshot is the JPEG every snapshot URI of the camera's own returns.
	Snapshot []byte
	// SnapshotURI, when set, is what GetSnapshotUri returns instead of the camera's own URI
	// (another test camera's snapshot URL, e.g. an httptest server's).
	SnapshotURI string
	// StreamURI is what GetStreamUri returns (an RTSP URL).
	StreamURI string
	// Profiles (default: "main" 1920x1080 and "sub" 640x360, H264).
	Profiles []onvif.Profile
	// ClockOffset is how far the camera's clock is from ours: tokens must be created on its clock.
	ClockOffset time.Duration
	// Netns is a network namespace file (/run/netns/NAME) to open the sockets in (root only).
	Netns string
}

// Camera is a running test camera.
type Camera struct {
	o        Options
	http     *http.Server
	httpLn   net.Listener
	disc     []net.PacketConn
	mcast    *net.UDPConn // sends Hello
	ifi      *net.Interface
	xaddr    string
	nonce    string
	wg       sync.WaitGroup
	closed   atomic.Bool
	snaps    atomic.Int64
	requests atomic.Int64
	mu       sync.Mutex
	log      []string
}

// DefaultProfiles are the profiles of a camera without Options.Profiles.
var DefaultProfiles = []onvif.Profile{
	{Token: "profile_main", Name: "main", Encoding: "H264", Width: 1920, Height: 1080},
	{Token: "profile_sub", Name: "sub", Encoding: "H264", Width: 640, Height: 360},
}

// StartT starts a camera for test t, discoverable on loopback (127.0.0.1:0) unless
// o.DiscoveryAddr says otherwise, and closes it when the test ends; it fails the test when the
// camera does not start.
func StartT(t testing.TB, o Options) *Camera {
	t.Helper()
	if o.DiscoveryAddr == "" {
		o.DiscoveryAddr = "127.0.0.1:0"
	}
	c, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// Start starts a camera; Close stops it.
func Start(o Options) (*Camera, error) {
	if o.Endpoint == "" {
		o.Endpoint = "urn:uuid:" + onvif.NewUUID()
	}
	if o.IP == "" {
		o.IP = "127.0.0.1"
	}
	if o.ReportedIP == "" {
		o.ReportedIP = o.IP
	}
	if len(o.Profiles) == 0 {
		o.Profiles = DefaultProfiles
	}
	if o.Name == "" {
		o.Name = "Test camera"
	}
	if o.Manufacturer == "" {
		o.Manufacturer = "edgecam"
	}
	if o.Model == "" {
		o.Model = "onviftest"
	}
	c := &Camera{o: o}
	var nb [16]byte
	rand.Read(nb[:])
	c.nonce = hex.EncodeToString(nb[:])
	if err := inNetns(o.Netns, c.open); err != nil {
		c.Close()
		return nil, err
	}
	port := c.httpLn.Addr().(*net.TCPAddr).Port
	c.xaddr = "http://" + net.JoinHostPort(o.ReportedIP, strconv.Itoa(port)) + "/onvif/device_service"
	mux := http.NewServeMux()
	mux.HandleFunc("/onvif/", c.serveSOAP)
	mux.HandleFunc("/snapshot/", c.serveSnapshot)
	c.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		_ = c.http.Serve(c.httpLn)
	}()
	for _, pc := range c.disc {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.serveDiscovery(pc)
		}()
	}
	if c.mcast != nil {
		_ = c.Hello()
	}
	return c, nil
}

// open creates the sockets (in the namespace, when one is set).
func (c *Camera) open() error {
	ln, err := net.Listen("tcp4", net.JoinHostPort(c.o.IP, strconv.Itoa(c.o.Port)))
	if err != nil {
		return fmt.Errorf("onviftest: listen: %w", err)
	}
	c.httpLn = ln
	if c.o.DiscoveryAddr != "" {
		pc, err := net.ListenPacket("udp4", c.o.DiscoveryAddr)
		if err != nil {
			return fmt.Errorf("onviftest: discovery: %w", err)
		}
		c.disc = append(c.disc, pc)
	}
	if c.o.Interface != "" {
		ifi, err := net.InterfaceByName(c.o.Interface)
		if err != nil {
			return fmt.Errorf("onviftest: %w", err)
		}
		c.ifi = ifi
		group, _ := net.ResolveUDPAddr("udp4", onvif.MulticastAddr)
		lc := net.ListenConfig{Control: reuseAddr}
		pc, err := lc.ListenPacket(context.Background(), "udp4", fmt.Sprintf("0.0.0.0:%d", group.Port))
		if err != nil {
			return fmt.Errorf("onviftest: discovery port: %w", err)
		}
		c.disc = append(c.disc, pc)
		if err := ipv4.NewPacketConn(pc).JoinGroup(ifi, &net.UDPAddr{IP: group.IP}); err != nil {
			return fmt.Errorf("onviftest: join %s on %s: %w", group.IP, ifi.Name, err)
		}
		m, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(c.o.IP)})
		if err != nil {
			return fmt.Errorf("onviftest: hello socket: %w", err)
		}
		c.mcast = m
		p := ipv4.NewPacketConn(m)
		if err := p.SetMulticastInterface(ifi); err != nil {
			return fmt.Errorf("onviftest: multicast interface: %w", err)
		}
		_ = p.SetMulticastTTL(1)
	}
	return nil
}

func reuseAddr(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// inNetns runs fn on an OS thread in the network namespace file ns (fn directly when ns is
// empty). The thread is discarded afterwards, so no other goroutine runs in the namespace; the
// sockets fn opens stay in it.
func inNetns(ns string, fn func() error) error {
	if ns == "" {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		f, err := os.Open(ns)
		if err != nil {
			errc <- fmt.Errorf("onviftest: network namespace: %w", err)
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("onviftest: setns %s: %w (needs root)", ns, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// InNetns runs fn with the calling goroutine's sockets opened in the network namespace ns (see
// Options.Netns); tests use it for their own sockets on the test network.
func InNetns(ns string, fn func() error) error { return inNetns(ns, fn) }

// XAddr is the device service URL the camera reports.
func (c *Camera) XAddr() string { return c.xaddr }

// Endpoint is the camera's endpoint reference.
func (c *Camera) Endpoint() string { return c.o.Endpoint }

// DiscoveryAddr is the unicast address directed probes go to ("" without Options.DiscoveryAddr).
func (c *Camera) DiscoveryAddr() string {
	if c.o.DiscoveryAddr == "" || len(c.disc) == 0 {
		return ""
	}
	return c.disc[0].LocalAddr().String()
}

// Snapshots is how many snapshots were served.
func (c *Camera) Snapshots() int64 { return c.snaps.Load() }

// Log is what the camera refused and why.
func (c *Camera) Log() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.log...)
}

func (c *Camera) logf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.log) < 1000 {
		c.log = append(c.log, fmt.Sprintf(format, args...))
	}
}

func (c *Camera) match() onvif.Match {
	esc := func(s string) string { return strings.ReplaceAll(s, " ", "%20") }
	return onvif.Match{
		Endpoint: c.o.Endpoint,
		Types:    []string{"dn:NetworkVideoTransmitter", "tds:Device"},
		Scopes: []string{
			"onvif://www.onvif.org/type/video_encoder", "onvif://www.onvif.org/Profile/Streaming",
			"onvif://www.onvif.org/name/" + esc(c.o.Name), "onvif://www.onvif.org/hardware/" + esc(c.o.Model),
			"onvif://www.onvif.org/mfr/" + esc(c.o.Manufacturer),
		},
		XAddrs: []string{c.xaddr},
	}
}

// Hello multicasts the camera's Hello on its interface.
func (c *Camera) Hello() error {
	if c.mcast == nil {
		return errors.New("onviftest: no interface")
	}
	group, _ := net.ResolveUDPAddr("udp4", onvif.MulticastAddr)
	_, err := c.mcast.WriteTo(onvif.HelloMessage(c.match()), group)
	return err
}

func (c *Camera) serveDiscovery(pc net.PacketConn) {
	buf := make([]byte, 64<<10)
	for {
		n, src, err := pc.ReadFrom(buf)
		if err != nil {
			if c.closed.Load() {
				return
			}
			continue
		}
		m, err := onvif.ParseDiscovery(buf[:n])
		if err != nil || m.Kind != onvif.KindProbe {
			continue
		}
		if len(m.ProbeTypes) > 0 && !onvif.HasType(m.ProbeTypes, onvif.TypeNetworkVideoTransmitter) && !onvif.HasType(m.ProbeTypes, "Device") {
			continue
		}
		reply := onvif.ProbeMatchesMessage(m.MessageID, c.match())
		_, _ = pc.WriteTo(reply, src)
	}
}

// Close stops the camera.
func (c *Camera) Close() {
	if c.closed.Swap(true) {
		return
	}
	if c.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = c.http.Shutdown(ctx)
		cancel()
		_ = c.http.Close()
	} else if c.httpLn != nil {
		c.httpLn.Close()
	}
	for _, pc := range c.disc {
		pc.Close()
	}
	if c.mcast != nil {
		c.mcast.Close()
	}
	c.wg.Wait()
}

func (c *Camera) now() time.Time { return time.Now().Add(c.o.ClockOffset) }

func (c *Camera) serveSOAP(w http.ResponseWriter, r *http.Request) {
	c.requests.Add(1)
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || r.Method != http.MethodPost {
		http.Error(w, "POST a SOAP envelope", http.StatusBadRequest)
		return
	}
	req, err := onvif.ParseRequest(body)
	if err != nil {
		c.fault(w, http.StatusBadRequest, "env:Sender", "ter:WellFormed", err.Error())
		return
	}
	if req.Operation != "GetSystemDateAndTime" && c.o.Username != "" {
		if c.o.HTTPDigest {
			if !c.digestOK(w, r) {
				return
			}
		} else if req.Token == nil {
			c.logf("%s: no UsernameToken", req.Operation)
			c.fault(w, http.StatusBadRequest, "env:Sender", "ter:NotAuthorized", "Sender not Authorized")
			return
		} else if err := req.Token.Verify(c.o.Username, c.o.Password, c.now(), 5*time.Second); err != nil {
			c.logf("%s: %v", req.Operation, err)
			c.fault(w, http.StatusBadRequest, "env:Sender", "ter:NotAuthorized", "Sender not Authorized")
			return
		}
	}
	var resp string
	switch req.Operation {
	case "GetSystemDateAndTime":
		t := c.now().UTC()
		resp = fmt.Sprintf(`<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>`+
			`<tt:UTCDateTime><tt:Time><tt:Hour>%d</tt:Hour><tt:Minute>%d</tt:Minute><tt:Second>%d</tt:Second></tt:Time>`+
			`<tt:Date><tt:Year>%d</tt:Year><tt:Month>%d</tt:Month><tt:Day>%d</tt:Day></tt:Date></tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>`,
			t.Hour(), t.Minute(), t.Second(), t.Year(), int(t.Month()), t.Day())
	case "GetDeviceInformation":
		resp = `<tds:GetDeviceInformationResponse><tds:Manufacturer>` + esc(c.o.Manufacturer) + `</tds:Manufacturer><tds:Model>` + esc(c.o.Model) +
			`</tds:Model><tds:FirmwareVersion>1.0</tds:FirmwareVersion><tds:SerialNumber>` + esc(onvif.NormalizeEndpoint(c.o.Endpoint)[:8]) +
			`</tds:SerialNumber><tds:HardwareId>` + esc(c.o.Model) + `</tds:HardwareId></tds:GetDeviceInformationResponse>`
	case "GetServices":
		resp = `<tds:GetServicesResponse><tds:Service><tds:Namespace>` + onvif.NSDevice + `</tds:Namespace><tds:XAddr>` + c.xaddr +
			`</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>` +
			`<tds:Service><tds:Namespace>` + onvif.NSMedia + `</tds:Namespace><tds:XAddr>` + c.mediaXAddr() +
			`</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service></tds:GetServicesResponse>`
	case "GetCapabilities":
		resp = `<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Device><tt:XAddr>` + c.xaddr + `</tt:XAddr></tt:Device>` +
			`<tt:Media><tt:XAddr>` + c.mediaXAddr() + `</tt:XAddr></tt:Media></tds:Capabilities></tds:GetCapabilitiesResponse>`
	case "GetProfiles":
		var b strings.Builder
		b.WriteString(`<trt:GetProfilesResponse>`)
		for _, p := range c.o.Profiles {
			fmt.Fprintf(&b, `<trt:Profiles fixed="true" token="%s"><tt:Name>%s</tt:Name>`+
				`<tt:VideoSourceConfiguration token="vsc"><tt:Name>vsc</tt:Name><tt:UseCount>2</tt:UseCount><tt:SourceToken>src</tt:SourceToken><tt:Bounds x="0" y="0" width="1920" height="1080"/></tt:VideoSourceConfiguration>`+
				`<tt:VideoEncoderConfiguration token="vec_%s"><tt:Name>%s</tt:Name><tt:UseCount>1</tt:UseCount><tt:Encoding>%s</tt:Encoding>`+
				`<tt:Resolution><tt:Width>%d</tt:Width><tt:Height>%d</tt:Height></tt:Resolution></tt:VideoEncoderConfiguration></trt:Profiles>`,
				esc(p.Token), esc(p.Name), esc(p.Token), esc(p.Name), esc(p.Encoding), p.Width, p.Height)
		}
		b.WriteString(`</trt:GetProfilesResponse>`)
		resp = b.String()
	case "GetStreamUri", "GetSnapshotUri":
		p, ok := c.profile(req.ProfileToken)
		if !ok {
			c.fault(w, http.StatusBadRequest, "env:Sender", "ter:NoProfile", "no profile "+req.ProfileToken)
			return
		}
		uri := c.o.StreamURI
		if req.Operation == "GetSnapshotUri" {
			uri = c.snapshotURI(p)
		} else if uri == "" {
			c.fault(w, http.StatusBadRequest, "env:Receiver", "ter:ActionNotSupported", "no RTSP stream")
			return
		}
		resp = `<trt:` + req.Operation + `Response><trt:MediaUri><tt:Uri>` + esc(uri) + `</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>` +
			`<tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:` + req.Operation + `Response>`
	default:
		c.fault(w, http.StatusBadRequest, "env:Receiver", "ter:ActionNotSupported", "operation "+req.Operation+" is not supported")
		return
	}
	w.Header().Set("Content-Type", "application/soap+xml; charset=utf-8")
	io.WriteString(w, envelope(resp))
}

func (c *Camera) mediaXAddr() string {
	return strings.Replace(c.xaddr, "/device_service", "/media_service", 1)
}

func (c *Camera) profile(token string) (onvif.Profile, bool) {
	for _, p := range c.o.Profiles {
		if p.Token == token {
			return p, true
		}
	}
	return onvif.Profile{}, false
}

func (c *Camera) snapshotURI(p onvif.Profile) string {
	if c.o.SnapshotURI != "" {
		return c.o.SnapshotURI
	}
	port := c.httpLn.Addr().(*net.TCPAddr).Port
	return "http://" + net.JoinHostPort(c.o.ReportedIP, strconv.Itoa(port)) + "/snapshot/" + p.Token + ".jpg"
}

func (c *Camera) serveSnapshot(w http.ResponseWriter, r *http.Request) {
	if c.o.Username != "" && !c.digestOK(w, r) {
		return
	}
	if len(c.o.Snapshot) == 0 {
		http.Error(w, "no snapshot", http.StatusServiceUnavailable)
		return
	}
	c.snaps.Add(1)
	w.Header().Set("Content-Type", "image/jpeg")
	w.Write(c.o.Snapshot)
}

// digestOK checks HTTP Digest (MD5, qop=auth) and answers 401 with a challenge when it fails.
func (c *Camera) digestOK(w http.ResponseWriter, r *http.Request) bool {
	if p := parseDigest(r.Header.Get("Authorization")); p != nil {
		h := func(s string) string { x := md5.Sum([]byte(s)); return hex.EncodeToString(x[:]) }
		ha1 := h(c.o.Username + ":onviftest:" + c.o.Password)
		ha2 := h(r.Method + ":" + p["uri"])
		want := h(ha1 + ":" + p["nonce"] + ":" + p["nc"] + ":" + p["cnonce"] + ":" + p["qop"] + ":" + ha2)
		if p["username"] == c.o.Username && p["nonce"] == c.nonce && p["response"] == want && p["uri"] == r.URL.RequestURI() {
			return true
		}
		c.logf("%s: wrong HTTP Digest credentials for user %q", r.URL.Path, p["username"])
	}
	w.Header().Set("WWW-Authenticate", `Digest realm="onviftest", qop="auth", nonce="`+c.nonce+`", algorithm=MD5`)
	http.Error(w, "401 Unauthorized", http.StatusUnauthorized)
	return false
}

func parseDigest(h string) map[string]string {
	rest, ok := strings.CutPrefix(h, "Digest ")
	if !ok {
		return nil
	}
	out := map[string]string{}
	for rest != "" {
		rest = strings.TrimLeft(rest, " ,")
		k, v, ok := strings.Cut(rest, "=")
		if !ok {
			break
		}
		if strings.HasPrefix(v, `"`) {
			end := strings.IndexByte(v[1:], '"')
			if end < 0 {
				break
			}
			out[strings.TrimSpace(k)] = v[1 : 1+end]
			rest = v[2+end:]
		} else {
			val, after, _ := strings.Cut(v, ",")
			out[strings.TrimSpace(k)] = strings.TrimSpace(val)
			rest = after
		}
	}
	return out
}

func (c *Camera) fault(w http.ResponseWriter, status int, code, subcode, reason string) {
	w.Header().Set("Content-Type", "application/soap+xml; charset=utf-8")
	w.WriteHeader(status)
	io.WriteString(w, envelope(`<env:Fault><env:Code><env:Value>`+code+`</env:Value><env:Subcode><env:Value>`+subcode+
		`</env:Value></env:Subcode></env:Code><env:Reason><env:Text xml:lang="en">`+esc(reason)+`</env:Text></env:Reason></env:Fault>`))
}

func envelope(body string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" ` +
		`xmlns:tds="` + onvif.NSDevice + `" xmlns:trt="` + onvif.NSMedia + `" xmlns:tt="http://www.onvif.org/ver10/schema" ` +
		`xmlns:ter="http://www.onvif.org/ver10/error"><env:Body>` + body + `</env:Body></env:Envelope>`
}

func esc(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")
	return r.Replace(s)
}
