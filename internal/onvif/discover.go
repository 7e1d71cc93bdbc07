package onvif

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
)

// DefaultDiscoverTimeout is how long Discover listens for answers when no timeout is given.
const DefaultDiscoverTimeout = 3 * time.Second

// DiscoverOptions says where and how long to look for devices.
type DiscoverOptions struct {
	// Interfaces are the names of the network interfaces to probe on; empty means every
	// interface that is up, takes multicast and has an IPv4 address.
	Interfaces []string
	// Timeout is how long to wait for answers (default DefaultDiscoverTimeout).
	Timeout time.Duration
	// Types are the device types probed for and kept: local names, probed in the ONVIF network
	// namespace as dn:NAME, or QNames sent as written (wsdp:Device); default
	// TypeNetworkVideoTransmitter. Devices of other types that answer or announce themselves
	// are skipped.
	Types []string
	// Target is where probes go (default MulticastAddr). A unicast host:port sends a directed
	// probe (tests use a loopback address).
	Target string
	// NoHello skips listening for Hello announcements on port 3702.
	NoHello bool
	// Logger receives what was skipped and why (nil: discarded).
	Logger *slog.Logger
}

// Device is a device found by Discover.
type Device struct {
	// Endpoint is the device's endpoint reference (stays the same across address changes).
	Endpoint string `json:"endpoint"`
	// Address is the IP address the device's answer came from.
	Address string `json:"address"`
	// XAddr is the device service URL to use: a reported one on Address, or the first reported
	// one with its host replaced by Address when none is (see ReportedXAddr).
	XAddr string `json:"xaddr"`
	// ReportedXAddr is set when the device reported its service on another host than the one
	// its answer came from (a wrong or stale address, NAT): the URL as reported.
	ReportedXAddr string `json:"reportedXAddr,omitempty"`
	// XAddrs are all the service URLs the device reported.
	XAddrs []string `json:"xaddrs"`
	// Types and Scopes as reported.
	Types  []string `json:"types"`
	Scopes []string `json:"scopes"`
	// Name, Manufacturer, Model and Location come from the scopes.
	Name         string `json:"name,omitempty"`
	Manufacturer string `json:"manufacturer,omitempty"`
	Model        string `json:"model,omitempty"`
	Location     string `json:"location,omitempty"`
	// Via is the interface the answer came in on, and Hello whether it was an announcement
	// rather than an answer to the probe.
	Via   string `json:"interface,omitempty"`
	Hello bool   `json:"hello,omitempty"`
}

// deviceFrom builds a Device from a match received from src.
func deviceFrom(m Match, src net.IP, via string, hello bool) Device {
	d := Device{
		Endpoint: m.Endpoint, Types: m.Types, Scopes: m.Scopes, XAddrs: m.XAddrs,
		Via: via, Hello: hello,
	}
	if src != nil {
		d.Address = src.String()
	}
	si := ParseScopes(m.Scopes)
	d.Name, d.Manufacturer, d.Model, d.Location = si.Name, si.Manufacturer, si.Model, si.Location
	d.XAddr, d.ReportedXAddr = chooseXAddr(m.XAddrs, d.Address)
	return d
}

// chooseXAddr prefers a reported http(s) URL on src; without one it takes the first IPv4 (or
// any) http(s) URL and puts src in its host, returning the reported URL as well.
func chooseXAddr(xaddrs []string, src string) (xaddr, reported string) {
	var first string
	for _, x := range xaddrs {
		u, err := url.Parse(x)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			continue
		}
		if src == "" || u.Hostname() == src {
			return x, ""
		}
		ip := net.ParseIP(u.Hostname())
		if first == "" || (ip != nil && ip.To4() != nil && net.ParseIP(hostOf(first)).To4() == nil) {
			first = x
		}
	}
	if first == "" {
		return "", ""
	}
	return withHost(first, src), first
}

// Discover probes for devices on every chosen interface and listens for Hello announcements
// until the timeout or ctx ends, and returns the devices found, one per endpoint reference,
// ordered by address. It fails only when no interface could be probed on.
func Discover(ctx context.Context, o DiscoverOptions) ([]Device, error) {
	var (
		mu    sync.Mutex
		found = map[string]Device{}
	)
	err := discover(ctx, o, func(d Device) bool {
		mu.Lock()
		defer mu.Unlock()
		key := NormalizeEndpoint(d.Endpoint)
		if old, ok := found[key]; ok {
			// The first answer wins, but an answer to the probe beats an announcement.
			if !(old.Hello && !d.Hello) {
				return false
			}
		}
		found[key] = d
		return false
	})
	if err != nil {
		return nil, err
	}
	out := make([]Device, 0, len(found))
	for _, d := range found {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := net.ParseIP(out[i].Address), net.ParseIP(out[j].Address)
		if c := compareIP(a, b); c != 0 {
			return c < 0
		}
		return out[i].Endpoint < out[j].Endpoint
	})
	return out, nil
}

func compareIP(a, b net.IP) int {
	if a4, b4 := a.To4(), b.To4(); a4 != nil && b4 != nil {
		return slices.Compare(a4, b4)
	}
	return strings.Compare(a.String(), b.String())
}

// Find probes until the device with the given endpoint reference answers (or announces itself),
// and returns it; an error when it did not within the timeout.
func Find(ctx context.Context, endpoint string, o DiscoverOptions) (*Device, error) {
	want := NormalizeEndpoint(endpoint)
	var (
		mu  sync.Mutex
		got *Device
	)
	err := discover(ctx, o, func(d Device) bool {
		if NormalizeEndpoint(d.Endpoint) != want || d.XAddr == "" {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		if got == nil {
			got = &d
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if got == nil {
		t := o.Timeout
		if t <= 0 {
			t = DefaultDiscoverTimeout
		}
		return nil, fmt.Errorf("onvif: no device with endpoint %s answered a WS-Discovery probe within %v on %s: "+
			"check that the camera is on and on this network (edgecam discover lists what answers)", endpoint, t, ifaceList(o.Interfaces))
	}
	return got, nil
}

func ifaceList(names []string) string {
	if len(names) == 0 {
		return "every interface"
	}
	return "interface " + strings.Join(names, ", ")
}

// probeIface is one interface to probe on.
type probeIface struct {
	ifi  *net.Interface // nil: no interface chosen (directed probe)
	addr net.IP
}

// Interfaces returns the interfaces Discover probes on by default: up, multicast-capable, not
// loopback, with an IPv4 address.
func Interfaces() ([]net.Interface, error) {
	all, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var out []net.Interface
	for _, ifi := range all {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagMulticast == 0 || ifi.Flags&net.FlagLoopback != 0 {
			continue
		}
		if ipv4Of(&ifi) != nil {
			out = append(out, ifi)
		}
	}
	return out, nil
}

func ipv4Of(ifi *net.Interface) net.IP {
	addrs, err := ifi.Addrs()
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip4 := n.IP.To4(); ip4 != nil {
				return ip4
			}
		}
	}
	return nil
}

func chooseIfaces(names []string) ([]probeIface, error) {
	var ifs []net.Interface
	if len(names) == 0 {
		all, err := Interfaces()
		if err != nil {
			return nil, fmt.Errorf("onvif: list network interfaces: %w", err)
		}
		if len(all) == 0 {
			return nil, errors.New("onvif: no network interface is up with an IPv4 address and multicast: connect to the cameras' network, or name one with --interface")
		}
		ifs = all
	} else {
		for _, n := range names {
			ifi, err := net.InterfaceByName(n)
			if err != nil {
				return nil, fmt.Errorf("onvif: interface %q: %w", n, err)
			}
			ifs = append(ifs, *ifi)
		}
	}
	var out []probeIface
	for i := range ifs {
		ip := ipv4Of(&ifs[i])
		if ip == nil {
			if len(names) > 0 {
				return nil, fmt.Errorf("onvif: interface %s has no IPv4 address", ifs[i].Name)
			}
			continue
		}
		out = append(out, probeIface{ifi: &ifs[i], addr: ip})
	}
	return out, nil
}

// discover sends probes and collects answers and announcements, calling found for each device
// of a wanted type until found returns true, the timeout passes or ctx ends.
func discover(ctx context.Context, o DiscoverOptions, found func(Device) bool) error {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultDiscoverTimeout
	}
	types := o.Types
	if len(types) == 0 {
		types = []string{TypeNetworkVideoTransmitter}
	}
	target := o.Target
	if target == "" {
		target = MulticastAddr
	}
	dst, err := net.ResolveUDPAddr("udp4", target)
	if err != nil {
		return fmt.Errorf("onvif: probe target %q: %w", target, err)
	}
	multicast := dst.IP.IsMulticast()

	var ifaces []probeIface
	if multicast || len(o.Interfaces) > 0 {
		if ifaces, err = chooseIfaces(o.Interfaces); err != nil {
			return err
		}
	} else {
		ifaces = []probeIface{{}}
	}

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var stopOnce sync.Once
	stop := func() { stopOnce.Do(cancel) }

	probeID := NewUUID()
	probe := ProbeMessage(probeID, qualify(types)...)
	handle := func(data []byte, src *net.UDPAddr, via string) {
		msg, err := ParseDiscovery(data)
		if err != nil {
			log.Debug("ignoring a datagram that is not WS-Discovery", "from", src.String(), "err", err)
			return
		}
		hello := false
		switch msg.Kind {
		case KindProbeMatches:
			if msg.RelatesTo != "" && NormalizeEndpoint(msg.RelatesTo) != NormalizeEndpoint(probeID) {
				log.Debug("ignoring ProbeMatches to another probe", "from", src.String(), "relatesTo", msg.RelatesTo)
				return
			}
		case KindHello:
			hello = true
		default:
			return
		}
		for _, m := range msg.Matches {
			if !anyType(m.Types, types) {
				log.Debug("ignoring a device of another type", "from", src.String(), "endpoint", m.Endpoint, "types", strings.Join(m.Types, " "))
				continue
			}
			if m.Endpoint == "" {
				log.Debug("ignoring a device without endpoint reference", "from", src.String())
				continue
			}
			d := deviceFrom(m, src.IP, via, hello)
			if d.ReportedXAddr != "" {
				log.Debug("device reports its service on another address than it answers from; using the source address",
					"endpoint", d.Endpoint, "reported", d.ReportedXAddr, "source", d.Address)
			}
			if found(d) {
				stop()
				return
			}
		}
	}

	var wg sync.WaitGroup
	var conns []net.PacketConn
	var opened int
	var lastErr error
	for _, pi := range ifaces {
		c, err := openProbeConn(pi, multicast)
		if err != nil {
			lastErr = err
			log.Debug("cannot probe on interface", "interface", ifName(pi), "err", err)
			continue
		}
		opened++
		conns = append(conns, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			readLoop(ctx, c, func(b []byte, src *net.UDPAddr) { handle(b, src, ifName(pi)) })
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			// WS-Discovery repeats UDP messages (SOAP-over-UDP: up to 2 retransmissions).
			for i, delay := range []time.Duration{0, 100 * time.Millisecond, 300 * time.Millisecond} {
				if i > 0 {
					select {
					case <-ctx.Done():
						return
					case <-time.After(delay):
					}
				}
				if _, err := c.WriteTo(probe, dst); err != nil {
					log.Debug("probe not sent", "interface", ifName(pi), "err", err)
				}
			}
		}()
	}
	if opened == 0 {
		return fmt.Errorf("onvif: could not send a probe on %s: %w", ifaceList(o.Interfaces), lastErr)
	}
	if !o.NoHello && multicast {
		if c, err := openHelloConn(ifaces, dst); err != nil {
			log.Debug("not listening for Hello announcements", "err", err)
		} else {
			conns = append(conns, c)
			wg.Add(1)
			go func() {
				defer wg.Done()
				readLoop(ctx, c, func(b []byte, src *net.UDPAddr) { handle(b, src, "") })
			}()
		}
	}
	<-ctx.Done()
	for _, c := range conns {
		c.Close()
	}
	wg.Wait()
	return nil
}

func ifName(pi probeIface) string {
	if pi.ifi == nil {
		return ""
	}
	return pi.ifi.Name
}

// qualify writes local type names as QNames for the probe: dn: for the ONVIF network types.
func qualify(types []string) []string {
	out := make([]string, len(types))
	for i, t := range types {
		if strings.Contains(t, ":") {
			out[i] = t
		} else {
			out[i] = "dn:" + t
		}
	}
	return out
}

func anyType(have, want []string) bool {
	for _, w := range want {
		if _, local, ok := strings.Cut(w, ":"); ok {
			w = local
		}
		if HasType(have, w) {
			return true
		}
	}
	return false
}

// openProbeConn opens a UDP socket on the interface's address that sends multicast out of that
// interface only (TTL 1: WS-Discovery stays on the local link) and receives the answers.
func openProbeConn(pi probeIface, multicast bool) (net.PacketConn, error) {
	laddr := &net.UDPAddr{}
	if pi.addr != nil {
		laddr.IP = pi.addr
	}
	c, err := net.ListenUDP("udp4", laddr)
	if err != nil {
		return nil, err
	}
	if multicast && pi.ifi != nil {
		p := ipv4.NewPacketConn(c)
		if err := p.SetMulticastInterface(pi.ifi); err != nil {
			c.Close()
			return nil, fmt.Errorf("set multicast interface: %w", err)
		}
		_ = p.SetMulticastTTL(1)
		_ = p.SetMulticastLoopback(true) // a camera emulated on this host answers too
	}
	return c, nil
}

// openHelloConn listens on the discovery port, joined to the group on every interface, for
// Hello announcements. Port 3702 may be shared with other discovery programs that allow it
// (SO_REUSEADDR); when one holds it alone, Discover goes on without Hello.
func openHelloConn(ifaces []probeIface, group *net.UDPAddr) (net.PacketConn, error) {
	lc := net.ListenConfig{Control: reuseAddr}
	pc, err := lc.ListenPacket(context.Background(), "udp4", fmt.Sprintf("0.0.0.0:%d", group.Port))
	if err != nil {
		return nil, err
	}
	p := ipv4.NewPacketConn(pc)
	joined := 0
	for _, pi := range ifaces {
		if pi.ifi == nil {
			continue
		}
		if err := p.JoinGroup(pi.ifi, &net.UDPAddr{IP: group.IP}); err == nil {
			joined++
		}
	}
	if joined == 0 {
		pc.Close()
		return nil, errors.New("joined the discovery group on no interface")
	}
	return pc, nil
}

func reuseAddr(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		// Not SO_REUSEPORT: it would share the unicast datagrams of another discovery daemon
		// on this port (wsdd, an NVR) with this socket.
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

func readLoop(ctx context.Context, c net.PacketConn, handle func([]byte, *net.UDPAddr)) {
	buf := make([]byte, maxDatagram)
	for {
		_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, src, err := c.ReadFrom(buf)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		if ua, ok := src.(*net.UDPAddr); ok {
			handle(append([]byte(nil), buf[:n]...), ua)
		}
	}
}
