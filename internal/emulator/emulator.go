// Package emulator is a local stand-in for Azure IoT Hub and the Device Provisioning Service
// (DPS), speaking MQTT 3.1.1 over TLS like the real services do. It lets edgecam's device client,
// its daemon and their tests run without an Azure account.
//
// One emulator serves several linked "hubs" (each its own TLS listener and host name, such as
// "127.0.0.1:41234") and a DPS endpoint. It checks every CONNECT's username and SAS token,
// enforces the hub rules a client can break (no QoS 2, one connection per device, own topics
// only, 5 subscriptions, 256 KB messages counting properties), records telemetry, keeps device
// twins, invokes direct methods, sends desired-property patches and cloud-to-device messages
// (kept for persistent sessions only, as the hub does over MQTT), registers devices through DPS
// (individual and group enrollments; hashed, evenly weighted or custom-webhook allocation) and
// injects faults. Hubs and DPS serve MQTT and MQTT over WebSockets on the same port; an HTTPS
// listener serves the IoT Hub service API (twins, direct methods) and C2D over HTTPS, and
// other parts of the emulator mount their handlers on it (Handle).
//
// Everything a test needs to observe has a copy accessor and a Wait method that blocks until a
// condition holds or the context ends, so tests never sleep.
package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
)

// The DPS ID scope and group enrollment key of the demo setup (used by the emulator command).
// The demo key lets the README's demo run without any setup; it is public, so it protects
// nothing.
const (
	DefaultIDScope = "0ne0000DEMO"
	DemoGroupKey   = "ZWRnZWNhbS1lbXVsYXRvci1kZW1vLWdyb3VwLWVucm9sbG1lbnQta2V5LTIwMjYhIQ=="
)

const (
	// DefaultListen is the listen address of a hub or DPS endpoint without one: a free
	// loopback port.
	DefaultListen = "127.0.0.1:0"
	// MaxTelemetry is the hub's device-to-cloud message size limit; a bigger message closes
	// the connection.
	MaxTelemetry = 256 * 1024
	// MaxSubscriptions is how many topic filters a device may hold; further SUBSCRIBEs are
	// refused (SUBACK 0x80).
	MaxSubscriptions = 5
	// MaxC2D is the cloud-to-device message size limit (body), MaxC2DQueue how many messages a
	// device's queue holds, as in IoT Hub.
	MaxC2D      = 64 * 1024
	MaxC2DQueue = 50
)

const (
	defaultRetry    = time.Second
	webhookTimeout  = 10 * time.Second
	telemetryPrefix = "/messages/events"
)

// Config describes the emulator. The zero value is one hub and a DPS endpoint on free loopback
// ports, with no devices and no enrollments.
type Config struct {
	// Hubs are the linked IoT hubs; empty means one hub with defaults.
	Hubs []HubConfig
	// DPS configures the provisioning endpoint.
	DPS DPSConfig
	// Service configures the HTTPS service API (twins, direct methods, cloud-to-device).
	Service ServiceConfig
	// Devices are the hub devices known at start.
	Devices []Device
	// StateDir holds the CA certificate (ca.pem) and key; an existing CA there is reused.
	// Empty: a temporary directory removed by Close.
	StateDir string
	// ExtraNames are additional host names or IP addresses for the server certificate
	// (for devices that reach the emulator under another name).
	ExtraNames []string
	// TelemetryOutput receives every telemetry message as one JSON line (nil: none).
	TelemetryOutput io.Writer
	// TelemetryLimit keeps only the newest messages in memory when positive (for long runs of
	// the command); 0 keeps all, which WaitTelemetry's counting relies on.
	TelemetryLimit int
	// Logger receives connection and protocol events (nil: discarded).
	Logger *slog.Logger
	// FileUpload is the blob store behind the hubs' file upload (default: Azurite's development
	// account on 127.0.0.1:10000); see fileupload.go.
	FileUpload FileUploadConfig
}

// HubConfig describes one linked hub.
type HubConfig struct {
	// Listen is the TCP address to listen on; default "127.0.0.1:0" (a free port).
	Listen string
	// Host is the host name devices use (without port); the hub's host name is Host:port.
	// Default: the listen host, or "localhost" when listening on all interfaces.
	Host string
}

// AllocationPolicy is how DPS picks a hub for a registration.
type AllocationPolicy int

// Allocation policies, as in DPS.
const (
	AllocateEvenly AllocationPolicy = iota // evenly weighted: the hub with the fewest devices
	AllocateHashed                         // a hash of the registration ID
	AllocateCustom                         // a webhook answers an AllocationRequest
)

// String returns the policy's flag spelling.
func (p AllocationPolicy) String() string {
	switch p {
	case AllocateEvenly:
		return "evenly"
	case AllocateHashed:
		return "hashed"
	case AllocateCustom:
		return "custom"
	}
	return "AllocationPolicy(" + strconv.Itoa(int(p)) + ")"
}

// ParseAllocationPolicy parses "evenly", "hashed" or "custom".
func ParseAllocationPolicy(s string) (AllocationPolicy, error) {
	switch strings.ToLower(s) {
	case "evenly", "even", "evenly-weighted", "":
		return AllocateEvenly, nil
	case "hashed", "hash":
		return AllocateHashed, nil
	case "custom", "webhook":
		return AllocateCustom, nil
	}
	return 0, fmt.Errorf("allocation policy %q: use evenly, hashed or custom", s)
}

// DPSConfig describes the provisioning endpoint.
type DPSConfig struct {
	// Listen is the TCP address to listen on; default "127.0.0.1:0".
	Listen string
	// Host is the host name devices use (without port); default as for hubs.
	Host string
	// IDScope is the DPS ID scope; default DefaultIDScope.
	IDScope string
	// Enrollments are individual enrollments (symmetric key).
	Enrollments []Enrollment
	// Groups are group enrollments: any registration ID whose key is derived from the group key.
	Groups []Group
	// Allocation picks the hub; AllocateCustom needs WebhookURL.
	Allocation AllocationPolicy
	// WebhookURL receives an AllocationRequest (POST, JSON) under AllocateCustom.
	WebhookURL string
	// HTTPClient calls the webhook (default: 10 s timeout).
	HTTPClient *http.Client
	// AssignAfterPolls is how many operation-status polls are answered 202 "assigning"
	// before the assignment (0: the first poll gets the result).
	AssignAfterPolls int
	// AssignDelay is the least time between a registration request and its assignment.
	AssignDelay time.Duration
	// RetryAfter is the retry-after sent with 202 and 429 answers, rounded up to whole
	// seconds; default 1 s.
	RetryAfter time.Duration
}

// Device is a hub device, or a module of one, with a symmetric key.
type Device struct {
	ID string
	// ModuleID makes this a module identity of device ID. The emulator's methods name it
	// "{ID}/{ModuleID}" (its MQTT client ID). Modules get no cloud-to-device messages.
	ModuleID string
	Key      string // base64 primary key
	// SecondaryKey is also accepted when set.
	SecondaryKey string
	// Hub is the index in Config.Hubs of the hub the device belongs to.
	Hub int
	// InitialTwin seeds the device twin.
	InitialTwin *InitialTwin
}

// Enrollment is a DPS individual enrollment with a symmetric key.
type Enrollment struct {
	RegistrationID string
	Key            string
	// DeviceID is the hub device ID; default the registration ID.
	DeviceID    string
	InitialTwin *InitialTwin
	// Disabled registrations end with status "disabled".
	Disabled bool
}

// Group is a DPS symmetric-key group enrollment.
type Group struct {
	Name        string // enrollment group ID, default "group{index}"
	Key         string
	InitialTwin *InitialTwin
	Disabled    bool
}

// Errors returned by the emulator's methods.
var (
	ErrUnknownDevice      = errors.New("emulator: unknown device")
	ErrDeviceNotConnected = errors.New("emulator: device not connected")
	ErrNotSubscribed      = errors.New("emulator: device has not subscribed to the topic")
	ErrClosed             = errors.New("emulator: closed")
	// ErrNotDelivered: a cloud-to-device message was discarded because the device's session is
	// clean and it was not subscribed.
	ErrNotDelivered = errors.New("emulator: cloud-to-device message discarded")
)

var (
	errDropped      = errors.New("emulator: connection dropped on request")
	errTokenExpired = errors.New("emulator: SAS token expired (401003 IoTHubUnauthorized)")
	errQoS2         = errors.New("emulator: QoS 2 publish is not supported by IoT Hub, connection closed")
	errTooLarge     = errors.New("emulator: message larger than 256 KB, connection closed")
	errThrottled    = errors.New("emulator: device throttled, connection closed")
)

// Emulator is a running IoT Hub + DPS emulator. Its methods are safe for concurrent use.
type Emulator struct {
	cfg      Config
	log      *slog.Logger
	stateDir string
	tempDir  bool
	caFile   string
	caPEM    []byte
	hubs     []*hub
	dps      *dpsService
	files    *fileService
	svc      *service

	mu            sync.Mutex
	changed       chan struct{}
	closed        bool
	devices       map[string]*device
	telemetry     []Telemetry
	connections   []Connection
	refusals      []Refusal
	registrations []Registration
	methods       map[string]*pendingMethod
	seq           uint64

	outMu     sync.Mutex
	closeOnce sync.Once
	stopCtx   func() bool
}

type device struct {
	id           string
	key, key2    string
	hub          int
	twin         twinState
	conn         *conn
	connects     int
	throttle     Throttle
	c2d          []c2dMessage
	created      time.Time
	registration string // registration ID when created through DPS
	cleanSession bool   // the last CONNECT asked for a clean session
}

// online reports whether the device has a live hub connection. A connection whose CONNACK
// could not be written is closed without an OnDisconnect, hence the Closed check.
// e.mu must be held.
func (d *device) online() bool {
	return d != nil && d.conn != nil && !d.conn.cl.Closed()
}

type conn struct {
	cl       *mqtt.Client
	info     Connection
	timer    *time.Timer
	subacked map[string]byte // filters whose SUBACK has been sent, with granted QoS
}

// Connection describes an accepted hub connection.
type Connection struct {
	DeviceID    string
	Hub         string // the hub's host name
	ModelID     string // the DTDL model ID from the username, if any
	APIVersion  string
	Connected   time.Time
	TokenExpiry time.Time
	// Username is the CONNECT's username, CleanSession and KeepAlive (seconds) its flags.
	Username     string
	CleanSession bool
	KeepAlive    uint16
	// WebSocket is true for MQTT over WebSockets (wss://host/$iothub/websocket).
	WebSocket bool
}

// Refusal records a refused CONNECT.
type Refusal struct {
	Endpoint string // hub host name or "dps"
	ClientID string
	Username string
	Reason   string
	Time     time.Time
}

// Telemetry is one device-to-cloud message the hub accepted.
type Telemetry struct {
	DeviceID   string
	Hub        string
	Topic      string
	Body       []byte
	Properties map[string]string // the decoded property bag, system properties included
	ModelID    string
	Received   time.Time
	// QoS and Retain are the PUBLISH's flags.
	QoS    byte
	Retain bool
}

// Start starts the emulator: generates (or reuses) the CA, listens on every hub and the DPS
// endpoint and serves until Close or until ctx is done.
func Start(ctx context.Context, cfg Config) (*Emulator, error) {
	e := &Emulator{
		cfg:     cfg,
		log:     cfg.Logger,
		changed: make(chan struct{}),
		devices: map[string]*device{},
		methods: map[string]*pendingMethod{},
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	// Keep the caller's slices out of reach of the defaults filled in below.
	e.cfg.Hubs = slices.Clone(cfg.Hubs)
	e.cfg.Devices = slices.Clone(cfg.Devices)
	e.cfg.DPS.Enrollments = slices.Clone(cfg.DPS.Enrollments)
	e.cfg.DPS.Groups = slices.Clone(cfg.DPS.Groups)
	if len(e.cfg.Hubs) == 0 {
		e.cfg.Hubs = []HubConfig{{}}
	}
	if e.cfg.DPS.IDScope == "" {
		e.cfg.DPS.IDScope = DefaultIDScope
	}
	if e.cfg.DPS.RetryAfter <= 0 {
		e.cfg.DPS.RetryAfter = defaultRetry
	}
	if e.cfg.DPS.Allocation == AllocateCustom && e.cfg.DPS.WebhookURL == "" {
		return nil, errors.New("emulator: custom allocation needs DPS.WebhookURL")
	}
	if e.cfg.DPS.HTTPClient == nil {
		e.cfg.DPS.HTTPClient = &http.Client{Timeout: webhookTimeout}
	}
	for i, d := range cfg.Devices {
		if err := e.validateDevice(d); err != nil {
			return nil, fmt.Errorf("emulator: device %d: %w", i, err)
		}
	}
	for i, en := range cfg.DPS.Enrollments {
		if en.RegistrationID == "" || en.Key == "" {
			return nil, fmt.Errorf("emulator: enrollment %d needs a registration ID and a key", i)
		}
	}
	for i, g := range cfg.DPS.Groups {
		if g.Key == "" {
			return nil, fmt.Errorf("emulator: group enrollment %d needs a key", i)
		}
		if g.Name == "" {
			e.cfg.DPS.Groups[i].Name = "group" + strconv.Itoa(i)
		}
	}

	files, err := newFileService(cfg.FileUpload)
	if err != nil {
		return nil, fmt.Errorf("emulator: file upload: %w", err)
	}
	e.files = files
	if err := e.setupState(); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			e.Close()
		}
	}()

	names := append([]string{}, cfg.ExtraNames...)
	for _, h := range e.cfg.Hubs {
		names = append(names, hostOf(h.Listen, h.Host))
	}
	names = append(names, hostOf(e.cfg.DPS.Listen, e.cfg.DPS.Host), hostOf(e.cfg.Service.Listen, e.cfg.Service.Host))
	ca, err := loadOrCreateCA(e.stateDir, names)
	if err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	e.caPEM = ca.certPEM
	e.caFile = filepath.Join(e.stateDir, caCertFile)
	cert, err := ca.serverCert(names)
	if err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	tlsCfg := newTLSConfig(cert)

	for i, hc := range e.cfg.Hubs {
		h, err := startHub(e, i, hc, tlsCfg)
		if err != nil {
			return nil, err
		}
		e.hubs = append(e.hubs, h)
	}
	for i := range e.cfg.Devices {
		if err := e.AddDevice(e.cfg.Devices[i]); err != nil {
			return nil, err
		}
	}
	d, err := startDPS(e, tlsCfg)
	if err != nil {
		return nil, err
	}
	e.dps = d
	if e.svc, err = startService(e, tlsCfg); err != nil {
		return nil, err
	}
	e.stopCtx = context.AfterFunc(ctx, func() { e.Close() })
	ok = true
	e.log.Info("emulator started", "hubs", e.HubHosts(), "dps", e.DPSHost(), "idScope", e.IDScope(), "service", e.ServiceHost(), "caFile", e.caFile)
	return e, nil
}

func (e *Emulator) setupState() error {
	if e.cfg.StateDir == "" {
		dir, err := os.MkdirTemp("", "edgecam-emulator-")
		if err != nil {
			return fmt.Errorf("emulator: state directory: %w", err)
		}
		e.stateDir, e.tempDir = dir, true
		return nil
	}
	if err := os.MkdirAll(e.cfg.StateDir, 0o700); err != nil {
		return fmt.Errorf("emulator: state directory: %w", err)
	}
	e.stateDir = e.cfg.StateDir
	return nil
}

func (e *Emulator) validateDevice(d Device) error {
	if d.ID == "" {
		return errors.New("device ID is empty")
	}
	if strings.Contains(d.ID, "/") || strings.Contains(d.ModuleID, "/") {
		return fmt.Errorf("device %q: device and module IDs cannot contain '/'", d.ID)
	}
	if d.Key == "" {
		return fmt.Errorf("device %q has no key", d.ID)
	}
	if d.Hub < 0 || d.Hub >= len(e.cfg.Hubs) {
		return fmt.Errorf("device %q: hub index %d out of range (the emulator has %d hubs)", d.ID, d.Hub, len(e.cfg.Hubs))
	}
	return nil
}

// hostOf returns the host devices use for a listener: host if set, else the listen host,
// with unspecified addresses replaced by "localhost".
func hostOf(listen, host string) string {
	if host != "" {
		return host
	}
	if listen == "" {
		listen = DefaultListen
	}
	h, _, err := net.SplitHostPort(listen)
	if err != nil || h == "" {
		return "localhost"
	}
	if ip := net.ParseIP(h); ip != nil && ip.IsUnspecified() {
		return "localhost"
	}
	return h
}

// Close stops every listener and connection. The CA stays in a configured StateDir.
func (e *Emulator) Close() error {
	e.closeOnce.Do(func() {
		if e.stopCtx != nil {
			e.stopCtx()
		}
		e.mu.Lock()
		e.closed = true
		for _, d := range e.devices {
			if d.conn != nil && d.conn.timer != nil {
				d.conn.timer.Stop()
			}
		}
		e.broadcastLocked()
		e.mu.Unlock()
		for _, h := range e.hubs {
			h.srv.Close()
		}
		if e.dps != nil {
			e.dps.srv.Close()
		}
		if e.svc != nil {
			e.svc.srv.Close()
		}
		if e.tempDir {
			os.RemoveAll(e.stateDir)
		}
		e.log.Info("emulator stopped")
	})
	return nil
}

// CAFile is the path of the PEM file with the CA certificate that signed the emulator's
// server certificate; clients add it to their trusted roots.
func (e *Emulator) CAFile() string { return e.caFile }

// CAPEM returns the CA certificate in PEM.
func (e *Emulator) CAPEM() []byte { return append([]byte(nil), e.caPEM...) }

// HubHosts returns the host names ("host:port") of the linked hubs, in Config.Hubs order.
func (e *Emulator) HubHosts() []string {
	out := make([]string, len(e.hubs))
	for i, h := range e.hubs {
		out[i] = h.host
	}
	return out
}

// HubHost returns the host name of the first hub.
func (e *Emulator) HubHost() string { return e.hubs[0].host }

// DPSHost returns the DPS endpoint ("host:port"), used in place of
// global.azure-devices-provisioning.net:8883.
func (e *Emulator) DPSHost() string { return e.dps.host }

// IDScope returns the DPS ID scope.
func (e *Emulator) IDScope() string { return e.cfg.DPS.IDScope }

// AddDevice adds (or replaces the key of) a hub device.
func (e *Emulator) AddDevice(d Device) error {
	if err := e.validateDevice(d); err != nil {
		return fmt.Errorf("emulator: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	id := identity(d.ID, d.ModuleID)
	dev := e.devices[id]
	if dev == nil {
		dev = &device{id: id, twin: newTwinState(), created: time.Now()}
		dev.twin.applyInitial(d.InitialTwin)
		e.devices[id] = dev
	}
	dev.key, dev.key2, dev.hub = d.Key, d.SecondaryKey, d.Hub
	e.broadcastLocked()
	return nil
}

// RemoveDevice deletes a hub device (twin included) and drops its connection, so its next
// CONNECT is refused, as after a device was deleted or moved in Azure.
func (e *Emulator) RemoveDevice(deviceID string) error {
	e.mu.Lock()
	d := e.devices[deviceID]
	if d == nil {
		e.mu.Unlock()
		return fmt.Errorf("%w %q", ErrUnknownDevice, deviceID)
	}
	delete(e.devices, deviceID)
	var cl *mqtt.Client
	if d.conn != nil {
		cl = d.conn.cl
		d.conn.timer.Stop()
		d.conn = nil
	}
	e.broadcastLocked()
	e.mu.Unlock()
	if cl != nil {
		cl.Stop(errors.New("emulator: device removed"))
	}
	e.log.Info("device removed", "device", deviceID)
	return nil
}

// ConnectionString returns the device connection string of a hub device.
func (e *Emulator) ConnectionString(deviceID string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.devices[deviceID]
	if d == nil {
		return "", fmt.Errorf("%w %q", ErrUnknownDevice, deviceID)
	}
	dev, mod, _ := strings.Cut(d.id, "/")
	cs := "HostName=" + e.hubs[d.hub].host + ";DeviceId=" + dev
	if mod != "" {
		cs += ";ModuleId=" + mod
	}
	return cs + ";SharedAccessKey=" + d.key, nil
}

// identity is the emulator's name of a device or module identity: its MQTT client ID.
func identity(deviceID, moduleID string) string {
	if moduleID == "" {
		return deviceID
	}
	return deviceID + "/" + moduleID
}

// identityTopic is the topic base of an identity's messages: devices/{id} or
// devices/{id}/modules/{module}.
func identityTopic(id string) string {
	dev, mod, ok := strings.Cut(id, "/")
	if !ok {
		return "devices/" + id
	}
	return "devices/" + dev + "/modules/" + mod
}

// DeviceHub returns the host name of the hub a device belongs to.
func (e *Emulator) DeviceHub(deviceID string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.devices[deviceID]
	if d == nil {
		return "", fmt.Errorf("%w %q", ErrUnknownDevice, deviceID)
	}
	return e.hubs[d.hub].host, nil
}

// broadcastLocked wakes every waiter; e.mu must be held.
func (e *Emulator) broadcastLocked() {
	close(e.changed)
	e.changed = make(chan struct{})
}

// waitFor blocks until cond (evaluated with e.mu held) is true, ctx is done or the emulator closes.
func (e *Emulator) waitFor(ctx context.Context, cond func() bool) error {
	for {
		e.mu.Lock()
		if cond() {
			e.mu.Unlock()
			return nil
		}
		closed, ch := e.closed, e.changed
		e.mu.Unlock()
		if closed {
			return ErrClosed
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// Telemetry returns a copy of every telemetry message received so far, oldest first.
func (e *Emulator) Telemetry() []Telemetry {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Telemetry, len(e.telemetry))
	for i, t := range e.telemetry {
		out[i] = t.clone()
	}
	return out
}

// WaitTelemetry waits until at least n messages matching filter (nil: all) have arrived and
// returns every matching message so far.
func (e *Emulator) WaitTelemetry(ctx context.Context, n int, filter func(Telemetry) bool) ([]Telemetry, error) {
	var out []Telemetry
	have := 0
	err := e.waitFor(ctx, func() bool {
		have = 0
		for _, t := range e.telemetry {
			if filter == nil || filter(t) {
				have++
			}
		}
		if have < n {
			return false
		}
		for _, t := range e.telemetry {
			if filter == nil || filter(t) {
				out = append(out, t.clone())
			}
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("waiting for %d telemetry messages (have %d): %w", n, have, err)
	}
	return out, nil
}

// FromDevice is a WaitTelemetry filter for one device's messages.
func FromDevice(deviceID string) func(Telemetry) bool {
	return func(t Telemetry) bool { return t.DeviceID == deviceID }
}

func (t Telemetry) clone() Telemetry {
	t.Body = append([]byte(nil), t.Body...)
	p := make(map[string]string, len(t.Properties))
	for k, v := range t.Properties {
		p[k] = v
	}
	t.Properties = p
	return t
}

// Connections returns every accepted hub connection so far, oldest first.
func (e *Emulator) Connections() []Connection {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Connection(nil), e.connections...)
}

// Connected returns the device's current hub connection.
func (e *Emulator) Connected(deviceID string) (Connection, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if d := e.devices[deviceID]; d.online() {
		return d.conn.info, true
	}
	return Connection{}, false
}

// WaitConnected waits until the device has connected at least n times since the emulator
// started and is connected now, and returns the current connection. After DropDevice or
// StopListeners, wait for n+1 to see the reconnect.
func (e *Emulator) WaitConnected(ctx context.Context, deviceID string, n int) (Connection, error) {
	var c Connection
	err := e.waitFor(ctx, func() bool {
		d := e.devices[deviceID]
		if !d.online() || d.connects < n {
			return false
		}
		c = d.conn.info
		return true
	})
	if err != nil {
		return c, fmt.Errorf("waiting for device %q to connect (%d times): %w", deviceID, n, err)
	}
	return c, nil
}

// WaitDisconnected waits until the device has no hub connection.
func (e *Emulator) WaitDisconnected(ctx context.Context, deviceID string) error {
	err := e.waitFor(ctx, func() bool {
		d := e.devices[deviceID]
		return !d.online()
	})
	if err != nil {
		return fmt.Errorf("waiting for device %q to disconnect: %w", deviceID, err)
	}
	return nil
}

// WaitSubscribed waits until the device's current connection holds an acknowledged
// subscription matching topic, which is either a topic filter exactly as subscribed
// ("$iothub/methods/POST/#") or a concrete topic ("$iothub/methods/POST/reboot/?$rid=1").
func (e *Emulator) WaitSubscribed(ctx context.Context, deviceID, topic string) error {
	err := e.waitFor(ctx, func() bool {
		d := e.devices[deviceID]
		if d == nil || d.conn == nil {
			return false
		}
		_, ok := d.conn.subscription(topic)
		return ok
	})
	if err != nil {
		return fmt.Errorf("waiting for device %q to subscribe to %s: %w", deviceID, topic, err)
	}
	return nil
}

// Subscriptions returns the acknowledged topic filters of the device's current connection with
// their granted QoS.
func (e *Emulator) Subscriptions(deviceID string) (map[string]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	d, err := e.onlineLocked(deviceID)
	if err != nil {
		return nil, err
	}
	return maps.Clone(d.conn.subacked), nil
}

// Refusals returns every refused CONNECT so far, with the reason.
func (e *Emulator) Refusals() []Refusal {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Refusal(nil), e.refusals...)
}

func (e *Emulator) refuse(endpoint, clientID, username string, reason error) {
	e.log.Info("connection refused", "endpoint", endpoint, "clientId", clientID, "reason", reason.Error())
	e.mu.Lock()
	e.refusals = append(e.refusals, Refusal{Endpoint: endpoint, ClientID: clientID, Username: username, Reason: reason.Error(), Time: time.Now()})
	e.broadcastLocked()
	e.mu.Unlock()
}

// WaitRefusals waits until at least n CONNECTs have been refused and returns them.
func (e *Emulator) WaitRefusals(ctx context.Context, n int) ([]Refusal, error) {
	var out []Refusal
	err := e.waitFor(ctx, func() bool {
		out = append(out[:0], e.refusals...)
		return len(out) >= n
	})
	return out, err
}

// DropDevice closes the device's hub connection without a DISCONNECT, as a network failure or
// the hub would.
func (e *Emulator) DropDevice(deviceID string) error {
	cl, err := e.connected(deviceID)
	if err != nil {
		return err
	}
	e.log.Info("dropping device connection", "device", deviceID)
	cl.Stop(errDropped)
	return nil
}

// StopListeners closes every hub and DPS listener and every open connection, as an outage would.
// StartListeners brings them back on the same ports.
func (e *Emulator) StopListeners() {
	e.log.Info("listeners stopped")
	for _, h := range e.hubs {
		h.ln.stop()
	}
	e.dps.ln.stop()
}

// StartListeners listens again on the ports StopListeners released (removed hubs stay down).
func (e *Emulator) StartListeners() error {
	for _, h := range e.hubs {
		e.mu.Lock()
		gone := h.gone
		e.mu.Unlock()
		if gone {
			continue
		}
		if err := h.ln.start(); err != nil {
			return err
		}
	}
	if err := e.dps.ln.start(); err != nil {
		return err
	}
	e.log.Info("listeners started")
	return nil
}

// Throttle makes the hub misbehave on a device's telemetry, to exercise client retries.
type Throttle int

// Throttle modes.
const (
	ThrottleNone       Throttle = iota // normal operation
	ThrottleNoAck                      // drop telemetry without a PUBACK
	ThrottleDisconnect                 // close the connection on telemetry (not recorded)
	// ThrottleAckLost records the telemetry, then closes the connection before its PUBACK: a
	// network that fails after the hub has the message. The device sends it again.
	ThrottleAckLost
)

// SetThrottle sets how the hub treats the device's telemetry from now on.
func (e *Emulator) SetThrottle(deviceID string, t Throttle) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.devices[deviceID]
	if d == nil {
		return fmt.Errorf("%w %q", ErrUnknownDevice, deviceID)
	}
	d.throttle = t
	return nil
}

// writeTelemetryLine writes t as one JSON line to the configured output.
func (e *Emulator) writeTelemetryLine(t Telemetry) {
	if e.cfg.TelemetryOutput == nil {
		return
	}
	line := struct {
		Received   time.Time         `json:"received"`
		Hub        string            `json:"hub"`
		DeviceID   string            `json:"deviceId"`
		ModelID    string            `json:"modelId,omitempty"`
		Properties map[string]string `json:"properties,omitempty"`
		Body       any               `json:"body"`
	}{t.Received.UTC(), t.Hub, t.DeviceID, t.ModelID, t.Properties, nil}
	if json.Valid(t.Body) {
		line.Body = json.RawMessage(t.Body)
	} else {
		line.Body = string(t.Body)
	}
	b, err := json.Marshal(line)
	if err != nil {
		return
	}
	b = append(b, '\n')
	e.outMu.Lock()
	defer e.outMu.Unlock()
	if _, err := e.cfg.TelemetryOutput.Write(b); err != nil {
		e.log.Warn("writing telemetry line", "err", err)
	}
}

func (e *Emulator) nextID() string {
	e.seq++
	return strconv.FormatUint(e.seq, 10)
}
