package emulator

import (
	"bufio"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/mochi-mqtt/server/v2/listeners"
)

// A hub's TLS port also serves HTTPS: IoT Hub's device REST API (file upload) is reached at
// https://{hub host name}, and a device knows the hub only as "host:port". After the TLS
// handshake the first byte tells the protocols apart: an MQTT CONNECT starts with 0x10, an HTTP
// request with its method's first letter.

const sniffTimeout = 30 * time.Second

// httpsMux is a net.Listener fed with the HTTPS connections a hub listener picked out, served
// by an http.Server.
type httpsMux struct {
	srv   *http.Server
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
	addr  net.Addr
}

var _ net.Listener = (*httpsMux)(nil)

func newHTTPSMux(h http.Handler, addr net.Addr, log *slog.Logger) *httpsMux {
	m := &httpsMux{conns: make(chan net.Conn), done: make(chan struct{}), addr: addr}
	m.srv = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	go func() { _ = m.srv.Serve(m) }()
	return m
}

// Accept returns the next HTTPS connection.
func (m *httpsMux) Accept() (net.Conn, error) {
	select {
	case c := <-m.conns:
		return c, nil
	case <-m.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting (the http.Server calls it when it closes).
func (m *httpsMux) Close() error {
	m.once.Do(func() { close(m.done) })
	return nil
}

// shutdown closes the server and its connections.
func (m *httpsMux) shutdown() { _ = m.srv.Close() }

// Addr is the hub listener's address.
func (m *httpsMux) Addr() net.Addr { return m.addr }

func (m *httpsMux) handoff(c net.Conn) error {
	select {
	case m.conns <- c:
		return nil
	case <-m.done:
		c.Close()
		return net.ErrClosed
	}
}

// serveConn runs the TLS handshake on an accepted connection and hands it to the MQTT broker,
// or to the HTTPS server when the listener has one and the client speaks HTTP.
func (l *listener) serveConn(c net.Conn, establish listeners.EstablishFn) error {
	tc := tls.Server(c, l.tlsCfg)
	if l.https == nil {
		return establish(l.id, tc)
	}
	_ = tc.SetReadDeadline(time.Now().Add(sniffTimeout))
	br := bufio.NewReader(tc)
	first, err := br.Peek(1)
	_ = tc.SetReadDeadline(time.Time{})
	if err != nil {
		tc.Close()
		return err
	}
	pc := &peekedConn{Conn: tc, r: br}
	if first[0] >= 'A' && first[0] <= 'Z' {
		return l.https.handoff(pc)
	}
	return establish(l.id, pc)
}

// closeHTTPS stops the HTTPS side of a listener for good.
func (l *listener) closeHTTPS() {
	if l.https != nil {
		l.https.shutdown()
	}
}

// peekedConn is a connection whose first bytes were read ahead into r.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
