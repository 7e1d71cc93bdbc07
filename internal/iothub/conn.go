package iothub

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// Errors a caller can test with errors.Is.
var (
	// ErrNotAuthorized: the hub or DPS refused the credentials (CONNACK 4 or 5, or DPS 401). For
	// a hub connection from a cached DPS assignment, register again.
	ErrNotAuthorized = errors.New("not authorized")
	// ErrNotConnected: the client is between connections; keep the message and try again later.
	ErrNotConnected = errors.New("not connected to IoT Hub")
	// ErrClosed: the client was closed.
	ErrClosed = errors.New("client closed")
	// ErrMessageTooLarge: a telemetry message (body and properties) over IoT Hub's 256 KB limit.
	ErrMessageTooLarge = errors.New("message too large")
	// ErrUnreachable: the hub could not be reached for Options.UnreachableAfter; a device
	// provisioned through DPS registers again (its hub may have moved or been deleted).
	ErrUnreachable = errors.New("hub unreachable")
	// ErrRegistrationDisabled: DPS answered that the enrollment or registration is disabled (an
	// operator blocked the device); retry only after a long wait.
	ErrRegistrationDisabled = errors.New("registration disabled")
)

const (
	defaultConnectTimeout = 30 * time.Second
	// websocketPath is where IoT Hub and DPS serve MQTT over WebSockets (port 443).
	websocketPath = "/$iothub/websocket"
)

// Transport is how a client reaches IoT Hub and DPS.
type Transport string

// Transports: MQTT over TLS on port 8883, or MQTT over WebSockets over TLS on port 443 (for
// networks that block 8883).
const (
	TransportMQTT   Transport = "mqtt"
	TransportMQTTWS Transport = "mqtt-ws"
)

// ParseTransport parses "mqtt" (or "") and "mqtt-ws".
func ParseTransport(s string) (Transport, error) {
	switch Transport(strings.ToLower(s)) {
	case "", TransportMQTT:
		return TransportMQTT, nil
	case TransportMQTTWS:
		return TransportMQTTWS, nil
	}
	return "", fmt.Errorf("transport %q: use mqtt (port 8883) or mqtt-ws (MQTT over WebSockets, port 443)", s)
}

// defaultPort is the port of a host name without one.
func (t Transport) defaultPort() string {
	if t == TransportMQTTWS {
		return "443"
	}
	return "8883"
}

// brokerURL is the paho broker URL of addr ("host:port").
func (t Transport) brokerURL(addr string) string {
	if t == TransportMQTTWS {
		return "wss://" + addr + websocketPath
	}
	return "tls://" + addr
}

// splitHostPort splits "host" or "host:port" into the address to dial (the transport's port,
// 8883 or 443, when none is given) and the host name to verify the TLS certificate against.
func splitHostPort(hostport string, t Transport) (addr, host string, err error) {
	defaultPort := t.defaultPort()
	if hostport == "" {
		return "", "", errors.New("host name is empty")
	}
	h, p, err := net.SplitHostPort(hostport)
	if err != nil {
		// No port (or a bare IPv6 address).
		if _, _, err2 := net.SplitHostPort(hostport + ":" + defaultPort); err2 != nil {
			return "", "", fmt.Errorf("host %q: want host or host:port", hostport)
		}
		return net.JoinHostPort(hostport, defaultPort), hostport, nil
	}
	if h == "" {
		return "", "", fmt.Errorf("host %q: the host name is empty", hostport)
	}
	if n, err := strconv.Atoi(p); err != nil || n <= 0 || n > 65535 {
		return "", "", fmt.Errorf("host %q: port %q is not a port number", hostport, p)
	}
	return hostport, h, nil
}

// tlsConfig verifies the server as serverName against the system roots plus the PEM
// certificates in caFile, if given. Verification is never turned off.
func tlsConfig(serverName, caFile string) (*tls.Config, error) {
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate", caFile)
		}
	}
	return &tls.Config{ServerName: serverName, RootCAs: roots, MinVersion: tls.VersionTLS12}, nil
}

// mqttSettings are the parts of one MQTT connection.
type mqttSettings struct {
	addr, clientID, username, password string
	transport                          Transport
	tls                                *tls.Config
	keepAlive, connectTimeout          time.Duration
	// persistent asks for CleanSession 0 (the hub keeps subscriptions and queued
	// cloud-to-device messages across connections); onMessage then receives what arrives
	// before the SUBSCRIBEs are acknowledged.
	persistent bool
	onMessage  mqtt.MessageHandler
	onLost     func(mqtt.Client, error)
	cleanup    *sync.WaitGroup // tracks the close of an abandoned attempt, if set
}

// connectMQTT opens one MQTT 3.1.1 connection without paho's automatic reconnection and waits
// for CONNACK or ctx.
func connectMQTT(ctx context.Context, s mqttSettings) (mqtt.Client, error) {
	o := mqtt.NewClientOptions().
		AddBroker(s.transport.brokerURL(s.addr)).
		SetClientID(s.clientID).
		SetUsername(s.username).
		SetPassword(s.password).
		SetTLSConfig(s.tls).
		SetProtocolVersion(4).
		SetCleanSession(!s.persistent).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetKeepAlive(s.keepAlive).
		SetPingTimeout(min(s.keepAlive, 30*time.Second)).
		SetConnectTimeout(s.connectTimeout).
		SetWriteTimeout(30 * time.Second).
		SetOrderMatters(true)
	if s.onLost != nil {
		o.SetConnectionLostHandler(s.onLost)
	}
	if s.onMessage != nil {
		o.SetDefaultPublishHandler(s.onMessage)
	}
	cl := mqtt.NewClient(o)
	tok := cl.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		// The attempt ends within the connect timeout; close whatever it produces.
		if s.cleanup != nil {
			s.cleanup.Add(1)
		}
		go func() {
			if s.cleanup != nil {
				defer s.cleanup.Done()
			}
			<-tok.Done()
			cl.Disconnect(0)
		}()
		return nil, ctx.Err()
	}
	if err := tok.Error(); err != nil {
		return nil, classifyConnectError(s.addr, err)
	}
	return cl, nil
}

// classifyConnectError turns a paho connect error into one that says what to check.
func classifyConnectError(addr string, err error) error {
	var (
		dnsErr     *net.DNSError
		verifyErr  *tls.CertificateVerificationError
		unknownCA  x509.UnknownAuthorityError
		hostErr    x509.HostnameError
		invalidErr x509.CertificateInvalidError
		recordErr  tls.RecordHeaderError
		opErr      *net.OpError
	)
	switch {
	case errors.Is(err, packets.ErrorRefusedNotAuthorised), errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword):
		return fmt.Errorf("%s refused the credentials (%v): %w: check the device key / connection string, and that the identity exists and is enabled", addr, err, ErrNotAuthorized)
	case errors.Is(err, packets.ErrorRefusedIDRejected):
		return fmt.Errorf("%s rejected the client ID (%v): check the device ID", addr, err)
	case errors.Is(err, packets.ErrorRefusedServerUnavailable):
		return fmt.Errorf("%s is unavailable or throttling (%v): try again later", addr, err)
	case errors.As(err, &dnsErr):
		return fmt.Errorf("cannot resolve %s: %v: check the host name", addr, dnsErr)
	case errors.As(err, &verifyErr):
		return fmt.Errorf("TLS verification of %s failed: %v (for the local edgecam-emulator pass its CA file, e.g. --ca-file)", addr, verifyErr)
	case errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalidErr):
		return fmt.Errorf("TLS verification of %s failed: %v (for the local edgecam-emulator pass its CA file, e.g. --ca-file)", addr, err)
	case errors.As(err, &recordErr):
		return fmt.Errorf("%s does not speak TLS (%v): check the host and port", addr, recordErr)
	case errors.As(err, &opErr):
		return fmt.Errorf("cannot connect to %s: %v: check the host, port and network", addr, opErr)
	}
	return fmt.Errorf("connect to %s: %w", addr, err)
}

// waitToken waits for a paho token of cl, ctx or lost (a closed channel when the connection is
// gone). A token that failed because the connection went away gives ErrNotConnected.
func waitToken(ctx context.Context, cl mqtt.Client, tok mqtt.Token, lost <-chan struct{}) error {
	select {
	case <-tok.Done():
		err := tok.Error()
		if err == nil {
			return nil
		}
		select {
		case <-lost:
			return fmt.Errorf("%w: %v", ErrNotConnected, err)
		default:
		}
		// paho fails pending tokens ("connection lost before Publish completed", an unexported
		// error) before it reports the loss or marks the connection closed, so recognise it.
		if errors.Is(err, mqtt.ErrNotConnected) || !cl.IsConnectionOpen() || strings.HasPrefix(err.Error(), "connection lost") {
			return fmt.Errorf("%w: %v", ErrNotConnected, err)
		}
		return err
	case <-lost:
		select {
		case <-tok.Done(): // acknowledged just before the connection went
			if tok.Error() == nil {
				return nil
			}
		default:
		}
		return fmt.Errorf("%w: connection lost", ErrNotConnected)
	case <-ctx.Done():
		return ctx.Err()
	}
}
