package emulator

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// A hub's TLS port also serves HTTPS: IoT Hub's device REST API (file upload) is reached at
// https://{hub host name}, and a device knows the hub only as "host:port". demux tells the
// protocols apart by the first byte after the TLS handshake: an MQTT CONNECT starts with 0x10, a
// WebSocket upgrade with "GET", a REST call with its method's first letter ("POST").

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

// restConn is a hub connection whose first request is an HTTP call other than the WebSocket
// upgrade (demux tells them apart).
type restConn struct{ peekedConn }

// serveREST hands a REST connection to the hub's HTTPS server; a listener without one (DPS)
// answers 404.
func (l *listener) serveREST(c *restConn) {
	if l.https == nil {
		_, _ = io.WriteString(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		c.Close()
		return
	}
	_ = l.https.handoff(c)
}

// closeHTTPS stops the HTTPS side of a listener for good.
func (l *listener) closeHTTPS() {
	if l.https != nil {
		l.https.shutdown()
	}
}
