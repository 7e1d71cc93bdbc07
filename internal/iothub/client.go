package iothub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgecam/edgecam/internal/backoff"
)

const (
	apiVersion           = "2021-04-12"
	maxTelemetryBytes    = 256 * 1024
	maxKeepAlive         = 1177 * time.Second // the hub times out at 1.5x keep-alive, capped at 1767 s
	defaultKeepAlive     = 120 * time.Second
	defaultTokenLifetime = time.Hour
	renewFraction        = 0.82 // renew the SAS token at 82 % of its lifetime
	drainTimeout         = 30 * time.Second
	defaultRequestTime   = 30 * time.Second
	defaultSendTimeout   = time.Minute // for a PUBACK, when the caller's context has no deadline
)

// MethodHandler answers a direct method (an IoT Central command) with a status and a JSON body.
// It runs in its own goroutine; ctx ends when the client closes. IoT Central waits 30 s at most.
type MethodHandler func(ctx context.Context, name string, payload []byte) (status int, response []byte)

// DesiredHandler receives a desired-property patch and the twin version it brings. Patches are
// delivered in order, one at a time. Patches sent while the device was offline are not replayed:
// read the twin again in OnConnect.
type DesiredHandler func(patch []byte, version int64)

// C2DHandler receives a cloud-to-device message and its application properties, in order.
type C2DHandler func(body []byte, props map[string]string)

// Options configure a device client. Host, DeviceID and Key are required.
type Options struct {
	// Host is the hub's host name, e.g. myhub.azure-devices.net. It may carry :port (default
	// 8883): it is dialed as given, the TLS server name is the host part, and the username and
	// token name the hub exactly as given.
	Host     string
	Gateway  string // optional IoT Edge gateway to dial instead of Host; may carry :port
	DeviceID string
	ModuleID string // optional module identity
	Key      string // base64 device (or policy) key
	KeyName  string // shared access policy name when Key is a policy key, empty for a device key
	ModelID  string // optional DTDL model ID (IoT Plug and Play / IoT Central)
	CAFile   string // optional PEM file of extra trusted CAs (e.g. the emulator's), added to the system roots
	// Transport is TransportMQTT (default; port 8883) or TransportMQTTWS (MQTT over WebSockets at
	// wss://{host}:443/$iothub/websocket). A port in Host or Gateway is used for either.
	Transport Transport

	TokenLifetime  time.Duration // SAS token lifetime, default 1 h; renewed at ~82 % by reconnecting
	KeepAlive      time.Duration // MQTT keep-alive, default 120 s, at most 1177 s
	ConnectTimeout time.Duration // per connection attempt, default 30 s
	MaxBackoff     time.Duration // longest wait between reconnection attempts, default 2 min
	Logger         *slog.Logger  // default slog.Default()

	// UnreachableAfter, when positive, stops the client (Done, Err wrapping ErrUnreachable)
	// once at least UnreachableAttempts reconnections in a row have failed and the first of them
	// is at least UnreachableAfter ago: the hub may have moved, so a DPS device registers again.
	// Zero keeps trying for ever (a connection string has nowhere else to go).
	UnreachableAfter    time.Duration
	UnreachableAttempts int // default 3

	// OnConnect runs in its own goroutine after every successful connection (the first one,
	// which may be before Dial returns, reconnections and token renewals), once the
	// subscriptions are in place: the place to read the twin.
	OnConnect func()
	// OnConnectionLost runs in its own goroutine when an established connection drops.
	OnConnectionLost func(err error)

	Methods MethodHandler  // subscribe to direct methods when set
	Desired DesiredHandler // subscribe to desired-property patches when set
	C2D     C2DHandler     // subscribe to cloud-to-device messages when set
}

// String describes the options without the key (fmt's %v and %+v use it).
func (o Options) String() string {
	return fmt.Sprintf("iothub.Options{Host:%s DeviceID:%s ModuleID:%s ModelID:%s Key:%s}", o.Host, o.DeviceID, o.ModuleID, o.ModelID, mask(o.Key))
}

// GoString is String, for %#v.
func (o Options) GoString() string { return o.String() }

// LogValue implements slog.LogValuer without the key.
func (o Options) LogValue() slog.Value {
	return slog.GroupValue(slog.String("host", o.Host), slog.String("device", o.DeviceID),
		slog.String("module", o.ModuleID), slog.String("model", o.ModelID))
}

type connState int

const (
	stateConnected    connState = iota
	stateRenewing               // new sends wait, in-flight ones finish, then a fresh token
	stateDisconnected           // reconnecting with backoff; sends fail with ErrNotConnected
	stateFailed                 // the hub refused the credentials; see Err
	stateClosed
)

// session is one MQTT connection.
type session struct {
	cl       mqtt.Client
	lost     chan struct{} // closed when the connection is gone
	lostOnce sync.Once
	expires  time.Time // SAS token expiry
	issued   time.Time
}

func (s *session) markLost() { s.lostOnce.Do(func() { close(s.lost) }) }

type lostEvent struct {
	s   *session
	err error
}

// Client is an IoT Hub device client over MQTT 3.1.1/TLS. It keeps itself connected: it renews
// the SAS token before expiry and reconnects with backoff after a drop. Its methods are safe for
// concurrent use.
type Client struct {
	opts           Options
	log            *slog.Logger
	settings       mqttSettings // password filled per connection
	resourceURI    string
	telemetryTopic string
	c2dDeviceID    string

	ctx    context.Context // ends at Close
	cancel context.CancelFunc

	mu       sync.Mutex
	state    connState
	changed  chan struct{} // closed and replaced at every state change
	sess     *session
	inflight int
	drained  chan struct{} // closed when inflight drops to 0 during a renewal
	err      error         // why the client stopped (stateFailed, stateClosed)
	done     chan struct{} // closed when the client stops for good

	lost    chan lostEvent
	supDone chan struct{}
	wg      sync.WaitGroup // handler goroutines

	rid     atomic.Uint64
	pendMu  sync.Mutex
	pending map[string]chan response

	desiredQ, c2dQ *queue
}

// Dial connects to the hub and returns a client that stays connected until Close. The first
// connection must succeed: a wrong host, a TLS failure or refused credentials (ErrNotAuthorized)
// are returned as errors that say what to check.
func Dial(ctx context.Context, opts Options) (*Client, error) {
	c, err := newClient(opts)
	if err != nil {
		return nil, err
	}
	c.startQueues() // before subscribing: messages may arrive at once
	s, err := c.connect(ctx)
	if err != nil {
		c.cancel()
		c.desiredQ.close()
		c.c2dQ.close()
		c.wg.Wait()
		return nil, err
	}
	c.mu.Lock()
	c.sess = s
	c.mu.Unlock()
	c.supDone = make(chan struct{})
	c.connected() // before the supervisor, which may already see this session drop
	go c.supervise()
	return c, nil
}

func newClient(opts Options) (*Client, error) {
	if opts.DeviceID == "" {
		return nil, errors.New("iothub: device ID is empty")
	}
	if _, err := decodeKey(opts.Key); err != nil {
		return nil, fmt.Errorf("iothub: device key: %w", err)
	}
	dial := opts.Host
	if opts.Gateway != "" {
		dial = opts.Gateway
	}
	if opts.Transport == "" {
		opts.Transport = TransportMQTT
	}
	if _, err := ParseTransport(string(opts.Transport)); err != nil {
		return nil, fmt.Errorf("iothub: %w", err)
	}
	addr, serverName, err := splitHostPort(dial, opts.Transport)
	if err != nil {
		return nil, fmt.Errorf("iothub: %w", err)
	}
	if opts.Host == "" {
		return nil, errors.New("iothub: hub host name is empty")
	}
	if opts, err = opts.withTimings(); err != nil {
		return nil, err
	}
	tc, err := tlsConfig(serverName, opts.CAFile)
	if err != nil {
		return nil, fmt.Errorf("iothub: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	// The hub's name in the username and token is Host exactly as given: a real hub has no
	// port in its name, and the emulator tells its hubs apart by "host:port".
	hub := opts.Host
	clientID, resource := opts.DeviceID, hub+"/devices/"+opts.DeviceID
	user := hub + "/" + opts.DeviceID
	topic := "devices/" + opts.DeviceID
	if opts.ModuleID != "" {
		clientID += "/" + opts.ModuleID
		resource += "/modules/" + opts.ModuleID
		user += "/" + opts.ModuleID
		topic += "/modules/" + opts.ModuleID
		if opts.C2D != nil {
			return nil, errors.New("iothub: modules cannot receive cloud-to-device messages (leave C2D nil)")
		}
	}
	user += "/?api-version=" + apiVersion
	if opts.ModelID != "" {
		user += "&model-id=" + url.QueryEscape(opts.ModelID)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		opts: opts,
		log:  log.With("device", opts.DeviceID, "hub", opts.Host),
		settings: mqttSettings{
			addr: addr, clientID: clientID, username: user, tls: tc, transport: opts.Transport,
			keepAlive: opts.KeepAlive, connectTimeout: opts.ConnectTimeout,
			// As the official SDKs do: with a persistent session the hub keeps the cloud-to-device
			// messages (IoT Central's "queue if offline" commands) sent while the device is away.
			persistent: true,
		},
		resourceURI:    resource,
		telemetryTopic: topic + "/messages/events/",
		c2dDeviceID:    opts.DeviceID,
		ctx:            ctx,
		cancel:         cancel,
		state:          stateDisconnected, // until the first connection is in place
		changed:        make(chan struct{}),
		done:           make(chan struct{}),
		lost:           make(chan lostEvent, 4),
		pending:        map[string]chan response{},
	}
	return c, nil
}

// withTimings fills the token lifetime, keep-alive, timeouts and retry bounds left zero and
// checks them.
func (opts Options) withTimings() (Options, error) {
	if opts.TokenLifetime == 0 {
		opts.TokenLifetime = defaultTokenLifetime
	}
	if opts.TokenLifetime < time.Second {
		return opts, fmt.Errorf("iothub: token lifetime %v is too short (at least 1s)", opts.TokenLifetime)
	}
	if opts.KeepAlive == 0 {
		opts.KeepAlive = defaultKeepAlive
	}
	if opts.KeepAlive < time.Second || opts.KeepAlive > maxKeepAlive {
		return opts, fmt.Errorf("iothub: keep-alive %v out of range: IoT Hub needs 1 to %d seconds", opts.KeepAlive, int(maxKeepAlive.Seconds()))
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = defaultConnectTimeout
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 2 * time.Minute
	}
	if opts.UnreachableAttempts <= 0 {
		opts.UnreachableAttempts = 3
	}
	return opts, nil
}

// connect opens a connection with a fresh token and subscribes to what the handlers need.
func (c *Client) connect(ctx context.Context) (*session, error) {
	now := time.Now()
	// se has whole seconds: round up, so a token lives at least TokenLifetime, and renew
	// against the expiry the hub will enforce.
	exp := now.Add(c.opts.TokenLifetime)
	if rounded := exp.Truncate(time.Second); rounded.Before(exp) {
		exp = rounded.Add(time.Second)
	}
	tok, err := SASToken(c.resourceURI, c.opts.Key, c.opts.KeyName, exp)
	if err != nil {
		return nil, fmt.Errorf("iothub: %w", err)
	}
	s := &session{lost: make(chan struct{}), expires: exp, issued: now}
	set := c.settings
	if c.opts.CAFile != "" {
		// Read the CA file again: the emulator renews its short-lived CA at restart.
		if tc, err := tlsConfig(set.tls.ServerName, c.opts.CAFile); err == nil {
			set.tls = tc
		}
	}
	set.password = tok
	set.cleanup = &c.wg
	// A resumed session can deliver messages before the SUBSCRIBE below completes; paho hands
	// those to the default handler.
	set.onMessage = c.onMessage
	set.onLost = func(_ mqtt.Client, err error) {
		s.markLost()
		select {
		case c.lost <- lostEvent{s, err}:
		case <-c.ctx.Done():
		}
	}
	cl, err := connectMQTT(ctx, set)
	if err != nil {
		return nil, fmt.Errorf("iothub: %w", err)
	}
	s.cl = cl
	filters := map[string]byte{twinResFilter: 0}
	if c.opts.Methods != nil {
		filters[methodsFilter] = 0
	}
	if c.opts.Desired != nil {
		filters[desiredFilter] = 0
	}
	if c.opts.C2D != nil {
		filters["devices/"+c.opts.DeviceID+"/messages/devicebound/#"] = 1
	}
	st := cl.SubscribeMultiple(filters, c.onMessage)
	if err := waitToken(ctx, cl, st, s.lost); err != nil {
		cl.Disconnect(0)
		return nil, fmt.Errorf("iothub: subscribe: %w", err)
	}
	if res, ok := st.(*mqtt.SubscribeToken); ok {
		for f, q := range res.Result() {
			if q == 0x80 {
				cl.Disconnect(0)
				return nil, fmt.Errorf("iothub: the hub refused the subscription to %s", f)
			}
		}
	}
	return s, nil
}

// connected marks the current session usable and runs OnConnect.
func (c *Client) connected() {
	c.setState(stateConnected, nil)
	c.log.Info("connected to IoT Hub")
	if f := c.opts.OnConnect; f != nil {
		c.goHandler(f)
	}
}

// setState changes the state and wakes everyone waiting for a change. Caller must not hold mu.
func (c *Client) setState(st connState, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setStateLocked(st, err)
}

func (c *Client) setStateLocked(st connState, err error) {
	if c.state == stateClosed || c.state == stateFailed {
		return
	}
	c.state = st
	if err != nil {
		c.err = err
	}
	close(c.changed)
	c.changed = make(chan struct{})
	if st == stateFailed || st == stateClosed {
		close(c.done)
	}
}

// goHandler runs f in a tracked goroutine unless the client is closing.
func (c *Client) goHandler(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == stateClosed {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
}

// supervise renews the token before expiry and reconnects after drops, until Close.
func (c *Client) supervise() {
	defer close(c.supDone)
	for {
		c.mu.Lock()
		s := c.sess
		c.mu.Unlock()
		renewIn := time.Duration(float64(s.expires.Sub(s.issued)) * renewFraction)
		renewIn -= time.Since(s.issued)
		timer := time.NewTimer(max(renewIn, 0))
		select {
		case <-c.ctx.Done():
			timer.Stop()
			s.cl.Disconnect(250)
			s.markLost()
			return
		case ev := <-c.lost:
			timer.Stop()
			if ev.s != s {
				continue // a connection we already replaced
			}
			c.setState(stateDisconnected, nil)
			c.log.Warn("connection to IoT Hub lost; reconnecting", "err", ev.err)
			if f := c.opts.OnConnectionLost; f != nil {
				err := ev.err
				c.goHandler(func() { f(err) })
			}
			if !c.reconnect() {
				return
			}
		case <-timer.C:
			c.renew(s)
			if c.ctx.Err() != nil {
				return
			}
		}
	}
}

// renew replaces s with a connection that has a fresh token: new sends wait, in-flight ones
// complete (PUBACK), then the client disconnects and connects again.
func (c *Client) renew(s *session) {
	c.mu.Lock()
	c.setStateLocked(stateRenewing, nil)
	var drained chan struct{}
	if c.inflight > 0 {
		drained = make(chan struct{})
		c.drained = drained
	}
	c.mu.Unlock()
	if drained != nil {
		t := time.NewTimer(drainTimeout)
		select {
		case <-drained:
		case <-t.C:
			c.log.Warn("in-flight messages not acknowledged before token renewal; they will be reported as failed")
		case <-c.ctx.Done():
		}
		t.Stop()
		c.mu.Lock()
		c.drained = nil
		c.mu.Unlock()
	}
	c.log.Debug("renewing SAS token")
	s.cl.Disconnect(250)
	s.markLost()
	if c.ctx.Err() != nil {
		return
	}
	ns, err := c.connect(c.ctx)
	if err == nil {
		c.mu.Lock()
		c.sess = ns
		c.mu.Unlock()
		c.connected()
		return
	}
	c.log.Warn("reconnect with a renewed token failed; retrying", "err", err)
	c.setState(stateDisconnected, nil)
	if errors.Is(err, ErrNotAuthorized) {
		c.fail(err)
		return
	}
	c.reconnect()
}

// reconnect retries with exponential backoff and jitter until connected (true), or the client
// closed, was refused or gave up on an unreachable hub (false).
func (c *Client) reconnect() bool {
	bo := backoff.New(500*time.Millisecond, c.opts.MaxBackoff)
	first := time.Now()
	for attempt := 1; ; attempt++ {
		t := time.NewTimer(bo.Next())
		select {
		case <-c.ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		s, err := c.connect(c.ctx)
		if err == nil {
			c.mu.Lock()
			c.sess = s
			c.mu.Unlock()
			c.connected()
			return true
		}
		if c.ctx.Err() != nil {
			return false
		}
		if errors.Is(err, ErrNotAuthorized) {
			c.fail(err)
			return false
		}
		if u := c.opts.UnreachableAfter; u > 0 && attempt >= c.opts.UnreachableAttempts && time.Since(first) >= u {
			c.giveUp(fmt.Errorf("iothub: %w: %d connection attempts over %s failed, the last with: %v", ErrUnreachable, attempt, time.Since(first).Round(time.Second), err))
			return false
		}
		c.log.Warn("reconnect to IoT Hub failed", "attempt", attempt, "retryIn", bo.Current(), "err", err)
	}
}

// giveUp stops the client after the hub stayed unreachable.
func (c *Client) giveUp(err error) {
	c.log.Error("IoT Hub unreachable; giving up on this hub", "err", err)
	c.setState(stateFailed, err)
	c.cancel()
}

// fail stops the client after the hub refused its credentials.
func (c *Client) fail(err error) {
	c.log.Error("IoT Hub refused the device credentials; giving up (register again with DPS or fix the key)", "err", err)
	c.setState(stateFailed, err)
	c.cancel()
}

// acquire returns the current session for one operation and counts it as in flight. During a
// token renewal it waits; while disconnected it fails with ErrNotConnected at once.
func (c *Client) acquire(ctx context.Context) (*session, error) {
	c.mu.Lock()
	for {
		switch c.state {
		case stateConnected:
			c.inflight++
			s := c.sess
			c.mu.Unlock()
			return s, nil
		case stateRenewing:
			ch := c.changed
			c.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			c.mu.Lock()
		case stateDisconnected:
			c.mu.Unlock()
			return nil, ErrNotConnected
		default:
			err := c.err
			c.mu.Unlock()
			if err == nil {
				err = ErrClosed
			}
			return nil, err
		}
	}
}

func (c *Client) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inflight--
	if c.inflight == 0 && c.drained != nil {
		close(c.drained)
		c.drained = nil
	}
}

// Connected reports whether the client has a usable connection (a token renewal in progress
// counts as connected: sends wait for it).
func (c *Client) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state == stateConnected || c.state == stateRenewing
}

// WaitConnected blocks until the client is connected, ctx ends or the client stops for good.
func (c *Client) WaitConnected(ctx context.Context) error {
	for {
		c.mu.Lock()
		st, ch, err := c.state, c.changed, c.err
		c.mu.Unlock()
		switch st {
		case stateConnected, stateRenewing:
			return nil
		case stateFailed, stateClosed:
			return err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Done is closed when the client stops for good: Close, the hub refused the credentials when
// reconnecting (Err then wraps ErrNotAuthorized: register again with DPS), or the hub stayed
// unreachable (Err wraps ErrUnreachable; only with Options.UnreachableAfter).
func (c *Client) Done() <-chan struct{} { return c.done }

// Err says why the client stopped; nil while it runs.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// messageSize is the size IoT Hub counts against its 256 KB limit: the body and the names and
// values of the message's properties (system ones included).
func messageSize(body []byte, bag string) int {
	n := len(body)
	props, _ := parseBag(bag)
	for k, v := range props {
		n += len(k) + len(v)
	}
	return n
}

// SendTelemetry publishes body (JSON) at QoS 1 to devices/{id}/messages/events/ with content
// type application/json, UTF-8, the creation time created (UTC, milliseconds; the capture time,
// which IoT Central uses as the timestamp; zero leaves it out), props, and a message-id made
// from all of these and the body (see messageID: the same message sent again has the same ID,
// so a consumer can drop repeated deliveries). It returns once the
// hub acknowledged the message (PUBACK), or with an error: ErrNotConnected while reconnecting
// (keep the message and retry), ErrMessageTooLarge over 256 KB, or ctx's error (the message
// may then still arrive). Without a deadline in ctx it waits a minute for the PUBACK.
func (c *Client) SendTelemetry(ctx context.Context, body []byte, created time.Time, props map[string]string) error {
	bag, err := telemetryBag(created, props)
	if err != nil {
		return fmt.Errorf("iothub: %w", err)
	}
	bag += "&$.mid=" + messageID(bag, body)
	if n := messageSize(body, bag); n > maxTelemetryBytes {
		return fmt.Errorf("iothub: telemetry of %d bytes with its properties: %w (IoT Hub accepts at most 256 KB)", n, ErrMessageTooLarge)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultSendTimeout)
		defer cancel()
	}
	s, err := c.acquire(ctx)
	if err != nil {
		return fmt.Errorf("iothub: send telemetry: %w", err)
	}
	defer c.release()
	if err := waitToken(ctx, s.cl, s.cl.Publish(c.telemetryTopic+bag, 1, false, body), s.lost); err != nil {
		return fmt.Errorf("iothub: send telemetry: %w", err)
	}
	return nil
}

// Close disconnects and stops every goroutine of the client. Handlers still running get a
// cancelled context; Close waits for them.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.state == stateClosed {
		c.mu.Unlock()
		return nil
	}
	failed := c.state == stateFailed
	c.state = stateClosed
	if c.err == nil {
		c.err = ErrClosed
	}
	close(c.changed)
	c.changed = make(chan struct{})
	if !failed {
		close(c.done)
	}
	c.mu.Unlock()
	c.cancel()
	<-c.supDone
	c.mu.Lock()
	s := c.sess
	c.mu.Unlock()
	if s != nil {
		if s.cl.IsConnectionOpen() {
			s.cl.Disconnect(250)
		}
		s.markLost()
	}
	c.desiredQ.close()
	c.c2dQ.close()
	c.wg.Wait()
	return nil
}

// onMessage is paho's handler for every subscription. It never blocks: replies go to their
// waiting request, everything else to a queue or a goroutine.
func (c *Client) onMessage(_ mqtt.Client, m mqtt.Message) {
	topic, payload := m.Topic(), m.Payload()
	switch {
	case strings.HasPrefix(topic, twinResPrefix):
		r, err := parseResponseTopic(topic, twinResPrefix)
		if err != nil {
			c.log.Warn("ignoring twin reply", "err", err)
			return
		}
		r.body = payload
		c.pendMu.Lock()
		ch := c.pending[r.rid]
		delete(c.pending, r.rid)
		c.pendMu.Unlock()
		if ch != nil {
			ch <- r // buffered, one reply per request
		}
	case strings.HasPrefix(topic, methodsPrefix) && c.opts.Methods != nil:
		req, err := parseMethodTopic(topic)
		if err != nil {
			c.log.Warn("ignoring direct method", "err", err)
			return
		}
		c.goHandler(func() { c.handleMethod(req, payload) })
	case strings.HasPrefix(topic, desiredPrefix) && c.opts.Desired != nil:
		v, err := parseDesiredTopic(topic)
		if err != nil {
			c.log.Warn("ignoring desired-property patch", "err", err)
			return
		}
		c.desiredQ.push(func() { c.opts.Desired(payload, v) })
	case c.opts.C2D != nil:
		props, err := parseC2DTopic(topic, c.c2dDeviceID)
		if err != nil {
			c.log.Warn("ignoring message", "err", err)
			return
		}
		c.c2dQ.push(func() { c.opts.C2D(payload, props) })
	default:
		c.log.Debug("ignoring message on an unexpected topic", "topic", topic)
	}
}

func (c *Client) handleMethod(req methodRequest, payload []byte) {
	status, resp := c.opts.Methods(c.ctx, req.name, payload)
	if status == 0 {
		status = 200
	}
	if len(resp) == 0 {
		resp = []byte("{}")
	}
	ctx, cancel := context.WithTimeout(c.ctx, defaultRequestTime)
	defer cancel()
	// A request can arrive while the connection is being set up: answer once it is.
	if err := c.WaitConnected(ctx); err != nil {
		c.log.Warn("cannot answer direct method", "method", req.name, "err", err)
		return
	}
	s, err := c.acquire(ctx)
	if err != nil {
		c.log.Warn("cannot answer direct method", "method", req.name, "err", err)
		return
	}
	defer c.release()
	topic := fmt.Sprintf(methodsResFormat, status, req.rid)
	if err := waitToken(ctx, s.cl, s.cl.Publish(topic, 1, false, resp), s.lost); err != nil {
		c.log.Warn("cannot answer direct method", "method", req.name, "err", err)
	}
}

func (c *Client) startQueues() {
	c.desiredQ = newQueue(&c.wg)
	c.c2dQ = newQueue(&c.wg)
}

// queue runs functions one at a time, in order, without ever blocking the pusher.
type queue struct {
	mu     sync.Mutex
	items  []func()
	signal chan struct{}
	quit   chan struct{}
}

func newQueue(wg *sync.WaitGroup) *queue {
	q := &queue{signal: make(chan struct{}, 1), quit: make(chan struct{})}
	wg.Add(1)
	go func() {
		defer wg.Done()
		q.run()
	}()
	return q
}

func (q *queue) push(f func()) {
	q.mu.Lock()
	q.items = append(q.items, f)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

func (q *queue) run() {
	for {
		select {
		case <-q.quit:
			return
		case <-q.signal:
		}
		for {
			q.mu.Lock()
			if len(q.items) == 0 {
				q.mu.Unlock()
				break
			}
			f := q.items[0]
			q.items[0] = nil
			q.items = q.items[1:]
			q.mu.Unlock()
			select {
			case <-q.quit:
				return
			default:
			}
			f()
		}
	}
}

func (q *queue) close() { close(q.quit) }
