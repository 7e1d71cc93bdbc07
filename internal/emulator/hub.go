package emulator

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// hub is one linked IoT hub: a mochi broker with its own listener and host name.
type hub struct {
	e     *Emulator
	index int
	host  string          // canonical host name, "host:port"
	names map[string]bool // host names accepted in usernames (same port, any loopback name)
	srv   *mqtt.Server
	ln    *listener
	gone  bool // removed (RemoveHub): DPS no longer allocates to it; guarded by e.mu
}

func newTLSConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}

func newBroker(e *Emulator, name string) *mqtt.Server {
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumClientWritesPending = 4096
	return mqtt.New(&mqtt.Options{
		Capabilities: caps,
		Logger:       slog.New(demoted{e.log.Handler()}).With("broker", name),
	})
}

func startHub(e *Emulator, index int, hc HubConfig, tlsCfg *tls.Config) (*hub, error) {
	listen := hc.Listen
	if listen == "" {
		listen = DefaultListen
	}
	h := &hub{e: e, index: index, srv: newBroker(e, "hub"+strconv.Itoa(index))}
	h.ln = newListener("hub"+strconv.Itoa(index), listen, tlsCfg)
	if err := h.srv.AddHook(&hubHook{h: h}, nil); err != nil {
		return nil, fmt.Errorf("emulator: hub %d: %w", index, err)
	}
	if err := h.srv.AddListener(h.ln); err != nil {
		return nil, fmt.Errorf("emulator: hub %d: %w", index, err)
	}
	_, port, _ := net.SplitHostPort(h.ln.Address())
	h.host = net.JoinHostPort(hostOf(listen, hc.Host), port)
	h.names = map[string]bool{h.host: true}
	for _, n := range []string{"localhost", "127.0.0.1", "::1"} {
		h.names[net.JoinHostPort(n, port)] = true
	}
	h.ln.https = newHTTPSMux(h.restAPI(), h.ln.ln.Addr(), e.log.With("hub", h.host))
	if err := h.srv.Serve(); err != nil {
		return nil, fmt.Errorf("emulator: hub %d: %w", index, err)
	}
	return h, nil
}

// hubHook is the broker hook that makes a mochi server behave like IoT Hub.
type hubHook struct {
	mqtt.HookBase
	h *hub
}

func (k *hubHook) ID() string { return "iothub" }

func (k *hubHook) Provides(b byte) bool {
	switch b {
	case mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnSessionEstablish, mqtt.OnSessionEstablished,
		mqtt.OnDisconnect, mqtt.OnPublish, mqtt.OnPacketSent:
		return true
	}
	return false
}

func (k *hubHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	if _, _, err := k.h.authenticate(pk); err != nil {
		k.h.e.refuse(k.h.host, pk.Connect.ClientIdentifier, string(pk.Connect.Username), err)
		return false
	}
	return true
}

// authenticate checks a CONNECT against the hub's devices.
func (h *hub) authenticate(pk packets.Packet) (hubUsername, sasToken, error) {
	u, err := parseHubUsername(string(pk.Connect.Username))
	if err != nil {
		return u, sasToken{}, err
	}
	if u.identity() != pk.Connect.ClientIdentifier {
		return u, sasToken{}, fmt.Errorf("client id %q differs from the identity %q in the username", pk.Connect.ClientIdentifier, u.identity())
	}
	if !h.names[u.host] {
		return u, sasToken{}, fmt.Errorf("username host %q is not this hub (%s)", u.host, h.host)
	}
	tok, err := parseSASToken(string(pk.Connect.Password))
	if err != nil {
		return u, tok, err
	}
	h.e.mu.Lock()
	d := h.e.devices[u.identity()]
	var key, key2 string
	hubIndex := -1
	if d != nil {
		key, key2, hubIndex = d.key, d.key2, d.hub
	}
	h.e.mu.Unlock()
	if d == nil {
		return u, tok, fmt.Errorf("device %q is not registered (add it or provision it through DPS)", u.identity())
	}
	if hubIndex != h.index {
		return u, tok, fmt.Errorf("device %q belongs to hub %s, not %s", u.identity(), h.e.hubs[hubIndex].host, h.host)
	}
	return u, tok, tok.verify(u.resource(), "", time.Now(), key, key2)
}

// OnSessionEstablish records the connection before the CONNACK goes out, so whoever sees the
// client connected also sees it in the emulator. A previous connection of the device is
// dropped by mochi right after (its OnDisconnect then finds itself replaced).
func (k *hubHook) OnSessionEstablish(cl *mqtt.Client, pk packets.Packet) {
	h := k.h
	u, tok, err := h.authenticate(pk)
	if err != nil { // the key changed in between: refuse after all
		cl.Stop(err)
		return
	}
	c := &conn{cl: cl, subacked: map[string]byte{}, info: Connection{
		DeviceID: u.identity(), Hub: h.host, ModelID: u.modelID, APIVersion: u.apiVersion,
		Connected: time.Now(), TokenExpiry: tok.expiry, CleanSession: pk.Connect.Clean,
		Username: string(pk.Connect.Username), KeepAlive: pk.Connect.Keepalive, WebSocket: isWebSocket(cl.Net.Conn),
	}}
	c.timer = time.AfterFunc(time.Until(tok.expiry), func() {
		h.e.log.Info("token expired, disconnecting", "device", u.identity())
		cl.Stop(errTokenExpired)
	})
	e := h.e
	e.mu.Lock()
	d := e.devices[u.identity()]
	if d == nil || e.closed {
		e.mu.Unlock()
		c.timer.Stop()
		cl.Stop(ErrUnknownDevice)
		return
	}
	if d.conn != nil && d.conn.timer != nil {
		d.conn.timer.Stop()
	}
	d.conn = c
	d.connects++
	// A clean session discards what the previous session held: its subscriptions (mochi drops
	// them) and the cloud-to-device messages queued for it.
	dropped := 0
	if pk.Connect.Clean {
		dropped = len(d.c2d)
		d.c2d = nil
	}
	d.cleanSession = pk.Connect.Clean
	e.connections = append(e.connections, c.info)
	e.broadcastLocked()
	e.mu.Unlock()
	e.log.Info("device connected", "device", u.identity(), "hub", h.host, "modelId", u.modelID, "cleanSession", pk.Connect.Clean)
	if dropped > 0 {
		e.log.Info("clean session: queued cloud-to-device messages discarded", "device", u.identity(), "messages", dropped)
	}
}

// OnSessionEstablished runs after the CONNACK (and mochi's resend of unacknowledged messages
// of a resumed session). A resumed persistent session keeps its subscriptions, so the
// cloud-to-device messages queued while the device was away go out now, possibly before the
// device subscribes again, as IoT Hub does.
func (k *hubHook) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	k.subscriptionsChanged(cl)
}

func (k *hubHook) OnDisconnect(cl *mqtt.Client, err error, _ bool) {
	e := k.h.e
	e.mu.Lock()
	d := e.devices[cl.ID]
	if d == nil || d.conn == nil || d.conn.cl != cl {
		e.mu.Unlock()
		return
	}
	d.conn.timer.Stop()
	d.conn = nil
	for rid, m := range e.methods {
		if m.deviceID == cl.ID {
			m.done <- methodResult{err: fmt.Errorf("%w: %q disconnected before answering", ErrDeviceNotConnected, cl.ID)}
			delete(e.methods, rid)
		}
	}
	e.broadcastLocked()
	e.mu.Unlock()
	e.log.Info("device disconnected", "device", cl.ID, "reason", errString(err))
}

func errString(err error) string {
	if err == nil {
		return "client disconnect"
	}
	return err.Error()
}

// OnPacketSent marks subscriptions as acknowledged once their SUBACK is out, so a test that
// waited for them can publish to the device without racing the client, and delivers queued
// cloud-to-device messages.
func (k *hubHook) OnPacketSent(cl *mqtt.Client, pk packets.Packet, _ []byte) {
	if pk.FixedHeader.Type != packets.Suback && pk.FixedHeader.Type != packets.Unsuback {
		return
	}
	k.subscriptionsChanged(cl)
}

// subscriptionsChanged records the client's acknowledged subscriptions and delivers the queued
// cloud-to-device messages once it has a C2D subscription.
func (k *hubHook) subscriptionsChanged(cl *mqtt.Client) {
	e := k.h.e
	e.mu.Lock()
	d := e.devices[cl.ID]
	if d == nil || d.conn == nil || d.conn.cl != cl {
		e.mu.Unlock()
		return
	}
	subs := map[string]byte{}
	for f, s := range cl.State.Subscriptions.GetAll() {
		subs[f] = s.Qos
	}
	d.conn.subacked = subs
	var queued []c2dMessage
	if _, ok := d.conn.subscription(c2dTopic(d.id, "")); ok {
		queued, d.c2d = d.c2d, nil
	}
	e.broadcastLocked()
	e.mu.Unlock()
	for _, m := range queued {
		if err := deliverTo(cl, m.topic, m.body, 1); err != nil {
			e.log.Warn("delivering queued cloud-to-device message", "device", cl.ID, "err", err)
		}
	}
}

// subscription returns the granted QoS of an acknowledged subscription matching topic.
// e.mu must be held.
func (c *conn) subscription(topic string) (byte, bool) {
	if q, ok := c.subacked[topic]; ok {
		return q, true
	}
	for f, q := range c.subacked {
		if topicMatch(f, topic) {
			return q, true
		}
	}
	return 0, false
}

// topicMatch reports whether an MQTT topic filter matches a topic name.
func topicMatch(filter, topic string) bool {
	fs, ts := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, f := range fs {
		if f == "#" {
			return true
		}
		if i >= len(ts) {
			return false
		}
		if f != "+" && f != ts[i] {
			return false
		}
	}
	return len(fs) == len(ts)
}

// OnACLCheck lets a device publish and subscribe to its own IoT Hub topics only, and to at
// most MaxSubscriptions filters.
func (k *hubHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	id := cl.ID
	if !write {
		if _, ok := cl.State.Subscriptions.Get(topic); !ok && cl.State.Subscriptions.Len() >= MaxSubscriptions {
			k.h.e.log.Warn("subscription refused: IoT Hub allows 5 per device", "device", id, "filter", topic)
			return false
		}
	}
	base := identityTopic(id)
	if write {
		return strings.HasPrefix(topic, base+telemetryPrefix+"/") || topic == base+telemetryPrefix ||
			strings.HasPrefix(topic, "$iothub/twin/GET/") ||
			strings.HasPrefix(topic, "$iothub/twin/PATCH/properties/reported/") ||
			strings.HasPrefix(topic, "$iothub/methods/res/")
	}
	return (!strings.Contains(id, "/") && strings.HasPrefix(topic, base+"/messages/devicebound/")) ||
		strings.HasPrefix(topic, "$iothub/methods/POST/") ||
		strings.HasPrefix(topic, "$iothub/twin/res/") ||
		strings.HasPrefix(topic, "$iothub/twin/PATCH/properties/desired/")
}

// OnPublish handles everything a device publishes; nothing is routed to other clients.
func (k *hubHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	h := k.h
	if pk.FixedHeader.Qos > 1 {
		h.e.log.Warn("QoS 2 publish, closing the connection as IoT Hub does", "device", cl.ID, "topic", pk.TopicName)
		cl.Stop(errQoS2)
		return pk, packets.ErrRejectPacket
	}
	topic := pk.TopicName
	switch {
	case strings.HasPrefix(topic, "devices/"):
		return pk, h.onTelemetry(cl, pk)
	case strings.HasPrefix(topic, "$iothub/twin/GET/"):
		h.onTwinGet(cl, topic)
	case strings.HasPrefix(topic, "$iothub/twin/PATCH/properties/reported/"):
		h.onReported(cl, topic, pk.Payload)
	case strings.HasPrefix(topic, "$iothub/methods/res/"):
		h.onMethodResponse(cl, topic, pk.Payload)
	}
	return pk, packets.CodeSuccessIgnore
}

// current returns the device of cl when cl is its current connection.
func (h *hub) current(cl *mqtt.Client) (*device, *conn) {
	d := h.e.devices[cl.ID]
	if d == nil || d.conn == nil || d.conn.cl != cl {
		return nil, nil
	}
	return d, d.conn
}

// messageSize is a message's size as the hub counts it against the 256 KB limit: the body and
// the names and values of its properties.
func messageSize(body []byte, props map[string]string) int {
	n := len(body)
	for k, v := range props {
		n += len(k) + len(v)
	}
	return n
}

// parseBag decodes a property bag "k=v&k2=v2" with percent-decoding only: '+' is a plus, as
// the SDKs encode a space as %20.
func parseBag(s string) (map[string]string, error) {
	props := map[string]string{}
	var firstErr error
	for _, kv := range strings.Split(strings.TrimPrefix(s, "?"), "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		dk, err1 := url.PathUnescape(k)
		dv, err2 := url.PathUnescape(v)
		if err := errors.Join(err1, err2); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if _, dup := props[dk]; !dup {
			props[dk] = dv
		}
	}
	return props, firstErr
}

func (h *hub) onTelemetry(cl *mqtt.Client, pk packets.Packet) error {
	e := h.e
	rest := strings.TrimPrefix(pk.TopicName, identityTopic(cl.ID)+telemetryPrefix)
	rest = strings.TrimPrefix(rest, "/")
	props, err := parseBag(rest)
	if err != nil {
		e.log.Warn("telemetry property bag is not URL-encoded", "device", cl.ID, "topic", pk.TopicName, "err", err)
	}
	if size := messageSize(pk.Payload, props); size > MaxTelemetry {
		e.log.Warn("telemetry over 256 KB (body and properties), closing the connection", "device", cl.ID, "bytes", size)
		cl.Stop(errTooLarge)
		return packets.ErrRejectPacket
	}
	e.mu.Lock()
	d, c := h.current(cl)
	if d == nil {
		e.mu.Unlock()
		return packets.ErrRejectPacket
	}
	switch d.throttle {
	case ThrottleNoAck:
		e.mu.Unlock()
		e.log.Info("throttled: telemetry dropped without PUBACK", "device", cl.ID)
		return packets.ErrRejectPacket
	case ThrottleDisconnect:
		e.mu.Unlock()
		e.log.Info("throttled: closing the connection", "device", cl.ID)
		cl.Stop(errThrottled)
		return packets.ErrRejectPacket
	}
	ackLost := d.throttle == ThrottleAckLost
	t := Telemetry{
		DeviceID: cl.ID, Hub: h.host, Topic: pk.TopicName, Body: bytes.Clone(pk.Payload),
		Properties: props, ModelID: c.info.ModelID, Received: time.Now(),
		QoS: pk.FixedHeader.Qos, Retain: pk.FixedHeader.Retain,
	}
	e.mu.Unlock()
	// The line goes out before the message is observable, so a test that waited for the
	// message also finds its line.
	e.writeTelemetryLine(t)
	e.mu.Lock()
	e.telemetry = append(e.telemetry, t)
	if limit := e.cfg.TelemetryLimit; limit > 0 && len(e.telemetry) > limit {
		e.telemetry = slices.Delete(e.telemetry, 0, len(e.telemetry)-limit)
	}
	e.broadcastLocked()
	e.mu.Unlock()
	if ackLost {
		e.log.Info("throttled: telemetry recorded, connection closed before its PUBACK", "device", cl.ID)
		cl.Stop(errThrottled)
		return packets.ErrRejectPacket
	}
	return packets.CodeSuccessIgnore
}

// topicQuery returns the query of a topic such as "$iothub/twin/GET/?$rid=1".
func topicQuery(topic string) url.Values {
	_, q, ok := strings.Cut(topic, "?")
	if !ok {
		return url.Values{}
	}
	v, _ := url.ParseQuery(q)
	return v
}

func (h *hub) onTwinGet(cl *mqtt.Client, topic string) {
	rid := topicQuery(topic).Get("$rid")
	h.e.mu.Lock()
	d, _ := h.current(cl)
	var doc []byte
	if d != nil {
		doc = d.twin.document()
	}
	h.e.mu.Unlock()
	if d == nil {
		return
	}
	h.respond(cl, "$iothub/twin/res/200/?$rid="+url.QueryEscape(rid), doc)
}

func (h *hub) onReported(cl *mqtt.Client, topic string, body []byte) {
	rid := topicQuery(topic).Get("$rid")
	var patch map[string]any
	if err := json.Unmarshal(body, &patch); err != nil || patch == nil {
		h.respond(cl, "$iothub/twin/res/400/?$rid="+url.QueryEscape(rid), []byte(`{"message":"reported properties patch must be a JSON object"}`))
		return
	}
	e := h.e
	e.mu.Lock()
	d, _ := h.current(cl)
	if d == nil {
		e.mu.Unlock()
		return
	}
	mergePatch(d.twin.reported, patch)
	d.twin.reportedVersion++
	v := d.twin.reportedVersion
	e.broadcastLocked()
	e.mu.Unlock()
	h.respond(cl, "$iothub/twin/res/204/?$rid="+url.QueryEscape(rid)+"&$version="+strconv.Itoa(v), nil)
}

// respond sends a QoS 0 message to a client if it subscribed to the topic (like the hub,
// a response nobody subscribed to is lost).
func (h *hub) respond(cl *mqtt.Client, topic string, body []byte) {
	if err := deliverTo(cl, topic, body, 0); err != nil {
		h.e.log.Info("response not delivered", "client", cl.ID, "topic", topic, "err", err)
	}
}

// deliverTo writes a publish to one client, at most at qos and at its subscription's QoS.
// Topics like $iothub/twin/res/# are shared by every device, so nothing goes through the
// broker's routing: each message is written to the one client it is for.
func deliverTo(cl *mqtt.Client, topic string, body []byte, qos byte) error {
	granted := byte(0)
	found := false
	for f, s := range cl.State.Subscriptions.GetAll() {
		if f == topic || topicMatch(f, topic) {
			found = true
			granted = max(granted, s.Qos)
		}
	}
	if !found {
		return fmt.Errorf("%w %s", ErrNotSubscribed, topic)
	}
	qos = min(qos, granted)
	pk := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos},
		TopicName:   topic,
		Payload:     body,
		Created:     time.Now().Unix(),
	}
	if qos > 0 {
		id, err := cl.NextPacketID()
		if err != nil {
			return fmt.Errorf("no free packet id: %w", err)
		}
		pk.PacketID = uint16(id)
		cl.State.Inflight.Set(pk)
	}
	return cl.WritePacket(pk)
}

type pendingMethod struct {
	deviceID string
	done     chan methodResult
}

type methodResult struct {
	status int
	body   []byte
	err    error
}

func (h *hub) onMethodResponse(cl *mqtt.Client, topic string, body []byte) {
	// $iothub/methods/res/{status}/?$rid={rid}
	statusStr, _, _ := strings.Cut(strings.TrimPrefix(topic, "$iothub/methods/res/"), "/")
	rid := topicQuery(topic).Get("$rid")
	status, err := strconv.Atoi(statusStr)
	e := h.e
	e.mu.Lock()
	m := e.methods[rid]
	if m == nil || m.deviceID != cl.ID {
		e.mu.Unlock()
		e.log.Info("method response for no pending request", "device", cl.ID, "rid", rid)
		return
	}
	delete(e.methods, rid)
	e.mu.Unlock()
	if err != nil {
		m.done <- methodResult{err: fmt.Errorf("device %q answered with a bad status in topic %q", cl.ID, topic)}
		return
	}
	m.done <- methodResult{status: status, body: bytes.Clone(body)}
}

// connected returns the device's current client.
func (e *Emulator) connected(deviceID string) (*mqtt.Client, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	d, err := e.onlineLocked(deviceID)
	if err != nil {
		return nil, err
	}
	return d.conn.cl, nil
}

// onlineLocked returns the device, failing when it is unknown or not connected; e.mu is held.
func (e *Emulator) onlineLocked(deviceID string) (*device, error) {
	d := e.devices[deviceID]
	if d == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownDevice, deviceID)
	}
	if !d.online() {
		return nil, fmt.Errorf("%w: %q", ErrDeviceNotConnected, deviceID)
	}
	return d, nil
}

// InvokeMethod calls a direct method on a connected device and waits for its answer or ctx.
// payload is the JSON request body (nil sends "null"). It fails at once when the device is
// not connected or has not subscribed to $iothub/methods/POST/#.
func (e *Emulator) InvokeMethod(ctx context.Context, deviceID, name string, payload []byte) (int, []byte, error) {
	if name == "" || strings.ContainsAny(name, "/#+") {
		return 0, nil, fmt.Errorf("emulator: invalid method name %q", name)
	}
	if payload == nil {
		payload = []byte("null")
	}
	cl, err := e.connected(deviceID)
	if err != nil {
		return 0, nil, err
	}
	m := &pendingMethod{deviceID: deviceID, done: make(chan methodResult, 1)}
	e.mu.Lock()
	rid := e.nextID()
	e.methods[rid] = m
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.methods, rid)
		e.mu.Unlock()
	}()
	topic := "$iothub/methods/POST/" + name + "/?$rid=" + rid
	if err := deliverTo(cl, topic, payload, 0); err != nil {
		return 0, nil, fmt.Errorf("invoke %s on %q: %w", name, deviceID, err)
	}
	select {
	case r := <-m.done:
		if r.err != nil {
			return 0, nil, r.err
		}
		return r.status, r.body, nil
	case <-ctx.Done():
		return 0, nil, fmt.Errorf("invoke %s on %q: no answer: %w", name, deviceID, ctx.Err())
	}
}

// Twin returns a copy of the device's twin.
func (e *Emulator) Twin(deviceID string) (Twin, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.devices[deviceID]
	if d == nil {
		return Twin{}, fmt.Errorf("%w %q", ErrUnknownDevice, deviceID)
	}
	return d.twin.snapshot(deviceID), nil
}

// WaitTwin waits until cond holds for the device's twin and returns that twin.
func (e *Emulator) WaitTwin(ctx context.Context, deviceID string, cond func(Twin) bool) (Twin, error) {
	var t Twin
	err := e.waitFor(ctx, func() bool {
		d := e.devices[deviceID]
		if d == nil {
			return false
		}
		t = d.twin.snapshot(deviceID)
		return cond(t)
	})
	if err != nil {
		return t, fmt.Errorf("waiting for the twin of %q: %w", deviceID, err)
	}
	return t, nil
}

// UpdateDesired merges patch into the device's desired properties (JSON null deletes), bumps
// the desired version and, when the device is connected and subscribed, pushes the patch to
// $iothub/twin/PATCH/properties/desired/?$version=v. It returns the new version.
func (e *Emulator) UpdateDesired(deviceID string, patch map[string]any) (int, error) {
	p := deepCopy(patch)
	e.mu.Lock()
	d := e.devices[deviceID]
	if d == nil {
		e.mu.Unlock()
		return 0, fmt.Errorf("%w %q", ErrUnknownDevice, deviceID)
	}
	mergePatch(d.twin.desired, p)
	d.twin.desiredVersion++
	v := d.twin.desiredVersion
	var cl *mqtt.Client
	if d.conn != nil {
		cl = d.conn.cl
	}
	e.broadcastLocked()
	e.mu.Unlock()
	if cl == nil {
		return v, nil
	}
	p["$version"] = v
	body, err := json.Marshal(p)
	if err != nil {
		return v, fmt.Errorf("emulator: desired patch: %w", err)
	}
	if err := deliverTo(cl, "$iothub/twin/PATCH/properties/desired/?$version="+strconv.Itoa(v), body, 0); err != nil && !errors.Is(err, ErrNotSubscribed) {
		e.log.Info("desired patch not delivered", "device", deviceID, "err", err)
	}
	return v, nil
}

type c2dMessage struct {
	topic string
	body  []byte
}

func c2dTopic(deviceID, bag string) string {
	return "devices/" + deviceID + "/messages/devicebound/" + bag
}

// SendC2D sends a cloud-to-device message (QoS 1) to
// devices/{id}/messages/devicebound/{property bag}. The bag carries $.mid, $.to and props.
//
// As IoT Hub does for MQTT devices: a connected device subscribed to
// devices/{id}/messages/devicebound/# gets it at once. Otherwise it waits in the device's queue
// until the device is connected and subscribed, unless the device's session is clean
// (CONNECT with CleanSession 1): such a device gets only messages sent after it subscribed,
// and SendC2D returns ErrNotDelivered. A connect with a clean session empties the queue.
func (e *Emulator) SendC2D(deviceID string, body []byte, props map[string]string) error {
	e.mu.Lock()
	d := e.devices[deviceID]
	if d == nil {
		e.mu.Unlock()
		return fmt.Errorf("%w %q", ErrUnknownDevice, deviceID)
	}
	if len(body) > MaxC2D {
		e.mu.Unlock()
		return fmt.Errorf("emulator: C2D message of %d bytes: IoT Hub accepts at most 64 KB", len(body))
	}
	if strings.Contains(deviceID, "/") {
		e.mu.Unlock()
		return fmt.Errorf("emulator: %q is a module: modules get no cloud-to-device messages", deviceID)
	}
	bag := make([]string, 0, len(props)+2)
	for k, v := range props {
		if strings.HasPrefix(k, "$") || strings.HasPrefix(strings.ToLower(k), "iothub-") {
			e.mu.Unlock()
			return fmt.Errorf("emulator: C2D property %q: names starting with '$' or 'iothub-' are reserved", k)
		}
		bag = append(bag, percentEncode(k)+"="+percentEncode(v))
	}
	slices.Sort(bag)
	bag = append(bag, "%24.mid="+percentEncode("c2d-"+e.nextID()), "%24.to="+percentEncode("/devices/"+deviceID+"/messages/deviceBound"))
	m := c2dMessage{topic: c2dTopic(deviceID, strings.Join(bag, "&")), body: bytes.Clone(body)}
	var cl *mqtt.Client
	subscribed := false
	if d.online() {
		_, subscribed = d.conn.subscription(m.topic)
		cl = d.conn.cl
	}
	switch {
	case subscribed:
	case d.cleanSession:
		e.mu.Unlock()
		return fmt.Errorf("%w: device %q has a clean session and is not subscribed to cloud-to-device messages", ErrNotDelivered, deviceID)
	case len(d.c2d) >= MaxC2DQueue:
		e.mu.Unlock()
		return fmt.Errorf("%w: device %q has %d messages queued, the most IoT Hub keeps (403004 DeviceMaximumQueueDepthExceeded)", ErrNotDelivered, deviceID, MaxC2DQueue)
	default:
		d.c2d = append(d.c2d, m)
		e.broadcastLocked()
		e.mu.Unlock()
		return nil
	}
	e.mu.Unlock()
	return deliverTo(cl, m.topic, m.body, 1)
}

// RemoveHub makes linked hub i disappear, as when a hub is deleted or fails over: its listener
// closes (connections drop, new ones are refused) and DPS no longer allocates devices to it.
// Devices registered there keep pointing at it until they register again.
func (e *Emulator) RemoveHub(i int) error {
	if i < 0 || i >= len(e.hubs) {
		return fmt.Errorf("emulator: hub index %d out of range (the emulator has %d hubs)", i, len(e.hubs))
	}
	e.mu.Lock()
	live := 0
	for _, h := range e.hubs {
		if !h.gone {
			live++
		}
	}
	if live == 1 && !e.hubs[i].gone {
		e.mu.Unlock()
		return errors.New("emulator: cannot remove the last hub")
	}
	e.hubs[i].gone = true
	e.mu.Unlock()
	e.hubs[i].ln.stop()
	e.log.Info("hub removed", "hub", e.hubs[i].host)
	return nil
}
