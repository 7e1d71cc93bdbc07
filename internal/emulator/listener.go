package emulator

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/mochi-mqtt/server/v2/listeners"
)

// listener is a mochi listener for TLS over TCP that can be stopped and started again on the
// same port (fault injection: the endpoint disappears, clients lose their connections and must
// reconnect once it is back). It serves MQTT and MQTT over WebSockets (path /$iothub/websocket)
// on the same port, as IoT Hub and DPS serve both under one host name (ports 8883 and 443).
type listener struct {
	id     string
	tlsCfg *tls.Config

	mu        sync.Mutex
	addr      string // resolved host:port, fixed after the first listen
	ln        net.Listener
	establish listeners.EstablishFn
	conns     map[*trackedConn]struct{}
	closed    bool
	log       *slog.Logger
	clients   sync.WaitGroup // establish goroutines; Add only under mu while listening
	https     *httpsMux      // hubs: REST requests on the same port go here (see httpsmux.go)
}

var _ listeners.Listener = (*listener)(nil)

func newListener(id, addr string, tlsCfg *tls.Config) *listener {
	return &listener{id: id, addr: addr, tlsCfg: tlsCfg, conns: map[*trackedConn]struct{}{}, log: slog.New(slog.DiscardHandler)}
}

// Init opens the network address (mochi calls it from AddListener).
func (l *listener) Init(log *slog.Logger) error {
	if log != nil {
		l.log = log
	}
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (choose another port or stop the program using it)", l.addr, err)
	}
	l.mu.Lock()
	l.ln = ln
	l.addr = ln.Addr().String()
	l.mu.Unlock()
	return nil
}

// Serve accepts connections until the listener is stopped or closed.
func (l *listener) Serve(establish listeners.EstablishFn) {
	l.mu.Lock()
	l.establish = establish
	ln := l.ln
	l.mu.Unlock()
	if ln != nil {
		l.accept(ln, establish)
	}
}

func (l *listener) accept(ln net.Listener, establish listeners.EstablishFn) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		tc := &trackedConn{Conn: c, l: l}
		l.mu.Lock()
		if l.ln != ln {
			l.mu.Unlock()
			c.Close()
			return
		}
		l.conns[tc] = struct{}{}
		l.clients.Add(1)
		l.mu.Unlock()
		go func() {
			defer l.clients.Done()
			c, err := demux(tls.Server(tc, l.tlsCfg))
			if err != nil {
				l.log.Debug("connection refused", "listener", l.id, "err", err)
				tc.Close()
				return
			}
			if rc, ok := c.(*restConn); ok {
				l.serveREST(rc)
				return
			}
			if err := establish(l.id, c); err != nil {
				l.log.Debug("connection ended", "listener", l.id, "err", err)
			}
		}()
	}
}

// ID returns the listener id.
func (l *listener) ID() string { return l.id }

// Address returns the bound host:port.
func (l *listener) Address() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.addr
}

// Protocol returns the protocol name.
func (l *listener) Protocol() string { return "tls" }

// Close stops the listener for good and closes its clients. It waits for every accepted
// connection to wind down first, so mochi's own wait for its clients never races a client
// that is still being set up.
func (l *listener) Close(closeClients listeners.CloseFn) {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.stop()
	l.clients.Wait()
	l.closeHTTPS()
	closeClients(l.id)
}

// stop closes the socket and every connection accepted through it.
func (l *listener) stop() {
	l.mu.Lock()
	ln := l.ln
	l.ln = nil
	conns := make([]*trackedConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	for _, c := range conns {
		c.Close()
	}
}

// start listens again on the same address after stop.
func (l *listener) start() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errors.New("emulator is closed")
	}
	if l.ln != nil {
		return nil
	}
	var ln net.Listener
	var err error
	// The port was ours a moment ago; retry briefly in case the kernel has not released it yet.
	for deadline := time.Now().Add(5 * time.Second); ; {
		ln, err = net.Listen("tcp", l.addr)
		if err == nil || !errors.Is(err, syscall.EADDRINUSE) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("listen again on %s: %w", l.addr, err)
	}
	l.ln = ln
	if l.establish != nil {
		go l.accept(ln, l.establish)
	}
	return nil
}

type trackedConn struct {
	net.Conn
	l    *listener
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}
