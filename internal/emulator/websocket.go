package emulator

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
)

// WebSocketPath is where IoT Hub and DPS serve MQTT over WebSockets.
const WebSocketPath = "/$iothub/websocket"

const handshakeTimeout = 10 * time.Second

var wsUpgrader = websocket.Upgrader{
	Subprotocols:     []string{"mqtt"},
	HandshakeTimeout: handshakeTimeout,
	CheckOrigin:      func(*http.Request) bool { return true },
}

// demux completes the TLS handshake and tells MQTT from MQTT over WebSockets by the first byte
// (an MQTT CONNECT starts with 0x10, an HTTP upgrade request with "GET"). It returns the
// connection mochi reads MQTT from.
func demux(c *tls.Conn) (net.Conn, error) {
	c.SetDeadline(time.Now().Add(handshakeTimeout))
	if err := c.Handshake(); err != nil {
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	br := bufio.NewReader(c)
	first, err := br.Peek(1)
	if err != nil {
		return nil, fmt.Errorf("reading the first byte: %w", err)
	}
	if first[0] >= 'A' && first[0] <= 'Z' && first[0] != 'G' { // a REST call (POST): httpsmux.go
		c.SetDeadline(time.Time{})
		return &restConn{peekedConn{Conn: c, r: br}}, nil
	}
	if first[0] != 'G' {
		c.SetDeadline(time.Time{})
		return &peekedConn{Conn: c, r: br}, nil
	}
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, fmt.Errorf("reading the WebSocket upgrade request: %w", err)
	}
	w := &hijackWriter{conn: c, brw: bufio.NewReadWriter(br, bufio.NewWriter(c)), header: http.Header{}}
	if req.URL.Path != WebSocketPath {
		http.Error(w, "MQTT over WebSockets is served at "+WebSocketPath, http.StatusNotFound)
		return nil, fmt.Errorf("WebSocket request for %q, not %s", req.URL.Path, WebSocketPath)
	}
	ws, err := wsUpgrader.Upgrade(w, req, nil)
	if err != nil {
		return nil, fmt.Errorf("WebSocket upgrade: %w", err)
	}
	c.SetDeadline(time.Time{})
	return &wsConn{Conn: c, ws: ws}, nil
}

// peekedConn is a connection whose first bytes were read into r.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (p *peekedConn) Read(b []byte) (int, error) { return p.r.Read(b) }

// hijackWriter is the http.ResponseWriter of the one upgrade request on a connection.
type hijackWriter struct {
	conn        net.Conn
	brw         *bufio.ReadWriter
	header      http.Header
	wroteHeader bool
}

func (w *hijackWriter) Header() http.Header { return w.header }

func (w *hijackWriter) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	w.wroteHeader = true
	fmt.Fprintf(w.brw, "HTTP/1.1 %d %s\r\n", code, http.StatusText(code))
	w.header.Set("Connection", "close")
	w.header.Write(w.brw)
	io.WriteString(w.brw, "\r\n")
}

func (w *hijackWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.header.Set("Content-Length", strconv.Itoa(len(b)))
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.brw.Write(b)
	if ferr := w.brw.Flush(); err == nil {
		err = ferr
	}
	return n, err
}

func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.wroteHeader {
		return nil, nil, errors.New("response already written")
	}
	return w.conn, w.brw, nil
}

// wsConn carries MQTT in binary WebSocket messages.
type wsConn struct {
	net.Conn
	ws *websocket.Conn
	r  io.Reader
}

func (c *wsConn) Read(p []byte) (int, error) {
	for {
		if c.r == nil {
			op, r, err := c.ws.NextReader()
			if err != nil {
				return 0, err
			}
			if op != websocket.BinaryMessage {
				return 0, errors.New("MQTT over WebSockets needs binary messages")
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if errors.Is(err, io.EOF) {
			c.r = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

func (c *wsConn) Write(p []byte) (int, error) {
	if err := c.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// isWebSocket reports whether a client connected over WebSockets.
func isWebSocket(c net.Conn) bool {
	_, ok := c.(*wsConn)
	return ok
}
