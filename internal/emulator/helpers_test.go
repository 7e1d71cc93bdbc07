package emulator

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgecam/edgecam/internal/iothub"
	"github.com/edgecam/edgecam/internal/testfixture"
)

const (
	testKey  = "c2VjcmV0LWtleS1mb3ItY2FtMS10aGF0LWlzLWxvbmctZW5vdWdoIQ=="
	testKey2 = "b3RoZXIta2V5LWZvci1jYW0yLXRoYXQtaXMtbG9uZy1lbm91Z2ghIQ=="
	groupKey = "8isrFI1sGsIlvvFSSFRiMfCNzv21fjbE/+ah/lSh3lF8e2YG1Te7w1KpZhJFFXJrqYKi9yegxkqIChbqOS9Egw=="
	waitLong = 30 * time.Second
)

func testCtx(t *testing.T) context.Context { return testfixture.Context(t, waitLong) }

func startEmulator(t *testing.T, cfg Config) *Emulator {
	t.Helper()
	if cfg.StateDir == "" {
		cfg.StateDir = t.TempDir()
	}
	e, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// testClient is a plain paho MQTT client that collects every message it receives.
type testClient struct {
	t    *testing.T
	c    paho.Client
	msgs chan message
	lost chan error
}

type message struct {
	topic string
	body  []byte
}

func tlsConfig(t *testing.T, e *Emulator) *tls.Config {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(e.CAPEM()) {
		t.Fatal("CA PEM does not parse")
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// connect dials host with the given credentials and a clean session; it returns the CONNECT
// error if refused.
func connect(t *testing.T, e *Emulator, host, clientID, username, password string) (*testClient, error) {
	t.Helper()
	return connectSession(t, e, host, clientID, username, password, true)
}

// connectSession is connect with the CleanSession flag given.
func connectSession(t *testing.T, e *Emulator, host, clientID, username, password string, clean bool) (*testClient, error) {
	t.Helper()
	tc := &testClient{t: t, msgs: make(chan message, 100), lost: make(chan error, 1)}
	opts := paho.NewClientOptions().
		AddBroker("ssl://" + host).
		SetClientID(clientID).
		SetUsername(username).
		SetPassword(password).
		SetTLSConfig(tlsConfig(t, e)).
		SetProtocolVersion(4).
		SetCleanSession(clean).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetKeepAlive(60 * time.Second).
		SetConnectTimeout(waitLong).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
			tc.msgs <- message{m.Topic(), bytes.Clone(m.Payload())}
		}).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			select {
			case tc.lost <- err:
			default:
			}
		})
	tc.c = paho.NewClient(opts)
	tok := tc.c.Connect()
	if !tok.WaitTimeout(waitLong) {
		return nil, errors.New("connect timed out")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { tc.c.Disconnect(0) })
	return tc, nil
}

func hubUser(host, deviceID, modelID string) string {
	u := host + "/" + deviceID + "/?api-version=2021-04-12"
	if modelID != "" {
		u += "&model-id=" + url.QueryEscape(modelID)
	}
	return u
}

func hubToken(t *testing.T, host, deviceID, key string) string {
	t.Helper()
	tok, err := iothub.SASToken(host+"/devices/"+deviceID, key, "", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// connectDevice connects a device to its hub with a valid token and a clean session.
func connectDevice(t *testing.T, e *Emulator, deviceID, key, modelID string) *testClient {
	t.Helper()
	return connectDeviceSession(t, e, deviceID, key, modelID, true)
}

// connectDeviceSession is connectDevice with the CleanSession flag given.
func connectDeviceSession(t *testing.T, e *Emulator, deviceID, key, modelID string, clean bool) *testClient {
	t.Helper()
	host, err := e.DeviceHub(deviceID)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := connectSession(t, e, host, deviceID, hubUser(host, deviceID, modelID), hubToken(t, host, deviceID, key), clean)
	if err != nil {
		t.Fatalf("connect %s: %v", deviceID, err)
	}
	return tc
}

func (tc *testClient) subscribe(filters ...string) {
	tc.t.Helper()
	for _, f := range filters {
		tok := tc.c.Subscribe(f, 1, nil)
		if !tok.WaitTimeout(waitLong) || tok.Error() != nil {
			tc.t.Fatalf("subscribe %s: %v", f, tok.Error())
		}
	}
}

func (tc *testClient) publish(topic string, qos byte, body []byte) error {
	tok := tc.c.Publish(topic, qos, false, body)
	if !tok.WaitTimeout(waitLong) {
		return errors.New("publish timed out")
	}
	return tok.Error()
}

// expect waits for a message whose topic starts with prefix, skipping others.
func (tc *testClient) expect(prefix string) message {
	tc.t.Helper()
	timeout := time.After(waitLong)
	for {
		select {
		case m := <-tc.msgs:
			if strings.HasPrefix(m.topic, prefix) {
				return m
			}
			tc.t.Logf("skipping message on %s", m.topic)
		case <-timeout:
			tc.t.Fatalf("no message on %s*", prefix)
		}
	}
}

// waitLost waits for the connection to be lost.
func (tc *testClient) waitLost() error {
	tc.t.Helper()
	select {
	case err := <-tc.lost:
		return err
	case <-time.After(waitLong):
		tc.t.Fatal("connection not lost")
		return nil
	}
}

// must returns v, failing the test given to the returned function when err is not nil:
// x := must(f())(t).
func must[T any](v T, err error) func(*testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
