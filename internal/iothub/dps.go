package iothub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

const (
	// DefaultDPSEndpoint is the global device provisioning endpoint.
	DefaultDPSEndpoint = "global.azure-devices-provisioning.net"
	dpsAPIVersion      = "2019-03-31"
	dpsDefaultRetry    = 3 * time.Second // when a 202 or 429 names no retry-after
	dpsReplyTimeout    = 60 * time.Second
	dpsMaxRequests     = 100 // PUT + polls + throttled retries before giving up
	dpsTokenLifetime   = time.Hour
)

// DPSOptions configure a registration with the Device Provisioning Service over MQTT.
type DPSOptions struct {
	GlobalEndpoint string    // default global.azure-devices-provisioning.net; may carry :port (default 8883)
	IDScope        string    // e.g. 0ne00000000
	RegistrationID string    // the device ID to register
	Key            string    // individual enrollment key (the device key) ...
	GroupKey       string    // ... or group enrollment key, from which the device key is derived
	ModelID        string    // optional DTDL model ID, sent as payload.modelId (IoT Central picks the template by it)
	CAFile         string    // optional PEM file of extra trusted CAs (e.g. the emulator's)
	Transport      Transport // TransportMQTT (default, port 8883) or TransportMQTTWS (port 443)
	// Payload is an optional JSON object sent as the registration payload (for a custom
	// allocation policy); modelId is added to it when ModelID is set.
	Payload        json.RawMessage
	ConnectTimeout time.Duration // default 30 s
	Logger         *slog.Logger  // default slog.Default()
}

// String describes the options without the keys (fmt's %v and %+v use it).
func (o DPSOptions) String() string {
	return fmt.Sprintf("iothub.DPSOptions{Endpoint:%s IDScope:%s RegistrationID:%s ModelID:%s Key:%s GroupKey:%s}",
		o.endpoint(), o.IDScope, o.RegistrationID, o.ModelID, mask(o.Key), mask(o.GroupKey))
}

// GoString is String, for %#v.
func (o DPSOptions) GoString() string { return o.String() }

// LogValue implements slog.LogValuer without the keys.
func (o DPSOptions) LogValue() slog.Value {
	return slog.GroupValue(slog.String("endpoint", o.endpoint()), slog.String("idScope", o.IDScope),
		slog.String("registrationId", o.RegistrationID), slog.String("model", o.ModelID))
}

func (o DPSOptions) endpoint() string {
	if o.GlobalEndpoint == "" {
		return DefaultDPSEndpoint
	}
	return o.GlobalEndpoint
}

// DeviceKey is the key the device authenticates with: Key, or the key derived from GroupKey.
func (o DPSOptions) DeviceKey() (string, error) {
	switch {
	case o.Key != "" && o.GroupKey != "":
		return "", errors.New("dps: give either the device key or the group enrollment key, not both")
	case o.Key != "":
		if _, err := decodeKey(o.Key); err != nil {
			return "", fmt.Errorf("dps: device key: %w", err)
		}
		return o.Key, nil
	case o.GroupKey != "":
		k, err := DeriveDeviceKey(o.GroupKey, o.RegistrationID)
		if err != nil {
			return "", fmt.Errorf("dps: %w", err)
		}
		return k, nil
	}
	return "", errors.New("dps: no key: give the enrollment group key or the device's individual enrollment key")
}

func (o DPSOptions) validate() error {
	if o.IDScope == "" {
		return errors.New("dps: ID scope is empty (IoT Central: Permissions > Device connection groups; Azure portal: DPS overview)")
	}
	if o.RegistrationID == "" {
		return errors.New("dps: registration ID (device ID) is empty")
	}
	if len(o.RegistrationID) > 128 {
		return errors.New("dps: registration ID is longer than 128 characters")
	}
	for _, r := range o.RegistrationID {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' || r == ':') {
			return fmt.Errorf("dps: registration ID %q: use letters, digits and - . _ : only", o.RegistrationID)
		}
	}
	return nil
}

// Assignment is the outcome of a DPS registration.
type Assignment struct {
	AssignedHub string          `json:"assignedHub"`
	DeviceID    string          `json:"deviceId"`
	Status      string          `json:"status"`
	Substatus   string          `json:"substatus,omitempty"`
	Payload     json.RawMessage `json:"payload,omitempty"` // from a custom allocation policy
	Cached      bool            `json:"-"`                 // read from the assignment cache, not registered now
}

// DeviceOptions returns client options for the assigned identity, keyed with o's device key.
func (a Assignment) DeviceOptions(o DPSOptions) (Options, error) {
	key, err := o.DeviceKey()
	if err != nil {
		return Options{}, err
	}
	return Options{Host: a.AssignedHub, DeviceID: a.DeviceID, Key: key, ModelID: o.ModelID, CAFile: o.CAFile}, nil
}

// registrationBody is the JSON of the register request.
func (o DPSOptions) registrationBody() ([]byte, error) {
	body := struct {
		RegistrationID string          `json:"registrationId"`
		Payload        json.RawMessage `json:"payload,omitempty"`
	}{RegistrationID: o.RegistrationID}
	var payload map[string]json.RawMessage
	if len(bytes.TrimSpace(o.Payload)) > 0 {
		if err := json.Unmarshal(o.Payload, &payload); err != nil || payload == nil {
			return nil, errors.New("dps: the registration payload must be a JSON object")
		}
	}
	if o.ModelID != "" {
		if payload == nil {
			payload = map[string]json.RawMessage{}
		}
		m, _ := json.Marshal(o.ModelID)
		payload["modelId"] = m
	}
	if payload != nil {
		p, err := json.Marshal(payload)
		if err != nil {
			return nil, err
		}
		body.Payload = p
	}
	return json.Marshal(body)
}

// dpsReply is a DPS operation document, or an error document.
type dpsReply struct {
	OperationID       string `json:"operationId"`
	Status            string `json:"status"`
	RegistrationState *struct {
		RegistrationID string          `json:"registrationId"`
		AssignedHub    string          `json:"assignedHub"`
		DeviceID       string          `json:"deviceId"`
		Status         string          `json:"status"`
		Substatus      string          `json:"substatus"`
		ErrorCode      int64           `json:"errorCode"`
		ErrorMessage   string          `json:"errorMessage"`
		Payload        json.RawMessage `json:"payload"`
	} `json:"registrationState"`
	// error documents
	ErrorCode int64  `json:"errorCode"`
	Message   string `json:"message"`
}

func parseDPSReply(body []byte) (dpsReply, error) {
	var r dpsReply
	if len(bytes.TrimSpace(body)) == 0 {
		return r, nil
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return dpsReply{}, fmt.Errorf("DPS reply is not a JSON object: %v", err)
	}
	return r, nil
}

// errorText summarises an error document for a message.
func (r dpsReply) errorText() string {
	switch {
	case r.ErrorCode != 0 && r.Message != "":
		return fmt.Sprintf("error %d: %s", r.ErrorCode, r.Message)
	case r.Message != "":
		return r.Message
	case r.ErrorCode != 0:
		return fmt.Sprintf("error %d", r.ErrorCode)
	}
	return "no details"
}

// outcome interprets a final (200) or pending (202) operation document: an assignment, a
// pending operation ID (done false), or an error saying what to check.
func (r dpsReply) outcome(o DPSOptions) (a Assignment, done bool, err error) {
	status := r.Status
	if st := r.RegistrationState; st != nil && st.Status != "" {
		status = st.Status
	}
	switch status {
	case "assigned":
		st := r.RegistrationState
		if st == nil || st.AssignedHub == "" || st.DeviceID == "" {
			return Assignment{}, true, errors.New("dps: the registration is assigned but names no hub or device ID")
		}
		a := Assignment{AssignedHub: st.AssignedHub, DeviceID: st.DeviceID, Status: st.Status, Substatus: st.Substatus}
		if p := bytes.TrimSpace(st.Payload); len(p) > 0 && string(p) != "null" {
			a.Payload = append(json.RawMessage(nil), p...)
		}
		return a, true, nil
	case "assigning", "unassigned", "":
		if r.OperationID == "" {
			return Assignment{}, true, fmt.Errorf("dps: registration is %q but the reply has no operation ID", status)
		}
		return Assignment{}, false, nil
	case "failed":
		detail := "no details"
		if st := r.RegistrationState; st != nil && (st.ErrorCode != 0 || st.ErrorMessage != "") {
			detail = fmt.Sprintf("error %d: %s", st.ErrorCode, st.ErrorMessage)
		}
		return Assignment{}, true, fmt.Errorf("dps: registration of %q failed (%s): check the enrollment (group or individual) in scope %s, its allocation policy and linked hubs", o.RegistrationID, detail, o.IDScope)
	case "disabled":
		return Assignment{}, true, fmt.Errorf("dps: the enrollment or registration of %q is disabled in scope %s (%w): enable it in DPS / unblock it in IoT Central", o.RegistrationID, o.IDScope, ErrRegistrationDisabled)
	}
	return Assignment{}, true, fmt.Errorf("dps: unexpected registration status %q", status)
}

// Register registers the device with DPS over MQTT and waits for its assignment, polling the
// operation as DPS asks (retry-after) and honouring throttling (429).
func Register(ctx context.Context, o DPSOptions) (Assignment, error) {
	if err := o.validate(); err != nil {
		return Assignment{}, err
	}
	body, err := o.registrationBody()
	if err != nil {
		return Assignment{}, err
	}
	sess, err := dialDPS(ctx, o)
	if err != nil {
		return Assignment{}, err
	}
	defer sess.cl.Disconnect(250)
	cl, replies, lost, log := sess.cl, sess.replies, sess.lost, sess.log

	var rid uint64
	operationID := ""
	for n := 0; n < dpsMaxRequests; n++ {
		rid++
		ridS := strconv.FormatUint(rid, 10)
		var topic string
		var payload []byte
		if operationID == "" {
			topic, payload = fmt.Sprintf(dpsRegisterFormat, ridS), body
		} else {
			topic, payload = fmt.Sprintf(dpsStatusFormat, ridS, url.QueryEscape(operationID)), []byte{}
		}
		if err := waitToken(ctx, cl, cl.Publish(topic, 1, false, payload), lost); err != nil {
			return Assignment{}, fmt.Errorf("dps: %w", err)
		}
		r, err := awaitReply(ctx, replies, ridS, lost)
		if err != nil {
			return Assignment{}, err
		}
		doc, perr := parseDPSReply(r.body)
		wait := r.retryAfter
		if wait <= 0 {
			wait = dpsDefaultRetry
		}
		switch {
		case r.status == 200 || r.status == 202:
			if perr != nil {
				return Assignment{}, fmt.Errorf("dps: %w", perr)
			}
			a, done, err := doc.outcome(o)
			if done {
				if err == nil {
					log.Info("DPS assigned the device", "hub", a.AssignedHub, "device", a.DeviceID, "substatus", a.Substatus)
				}
				return a, err
			}
			operationID = doc.OperationID
			log.Debug("DPS registration pending", "operation", operationID, "retryAfter", wait)
		case r.status == 429:
			log.Warn("DPS is throttling the registration; waiting", "retryAfter", wait)
		case r.status == 401:
			return Assignment{}, fmt.Errorf("dps: registration %q not authorised (%s): %w: check the ID scope %q and the key (group enrollment key vs individual key)", o.RegistrationID, doc.errorText(), ErrNotAuthorized, o.IDScope)
		case r.status == 404:
			return Assignment{}, fmt.Errorf("dps: registration %q not found (%s): check the ID scope %q and that an enrollment covers this device", o.RegistrationID, doc.errorText(), o.IDScope)
		case r.status >= 500:
			wait = max(wait, time.Duration(min(n+1, 10))*time.Second)
			log.Warn("DPS error; retrying", "status", r.status, "detail", doc.errorText(), "retryAfter", wait)
		default:
			return Assignment{}, fmt.Errorf("dps: registration %q refused with status %d (%s): check the enrollment and the registration payload", o.RegistrationID, r.status, doc.errorText())
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return Assignment{}, fmt.Errorf("dps: registration not finished: %w", ctx.Err())
		}
	}
	return Assignment{}, fmt.Errorf("dps: registration %q not assigned after %d requests", o.RegistrationID, dpsMaxRequests)
}

// dpsSession is an MQTT connection to DPS, subscribed to its replies.
type dpsSession struct {
	cl      mqtt.Client
	replies chan response
	lost    chan struct{}
	log     *slog.Logger
}

// dialDPS connects to the DPS endpoint of o with the registration's SAS token and subscribes to
// the replies.
func dialDPS(ctx context.Context, o DPSOptions) (*dpsSession, error) {
	key, err := o.DeviceKey()
	if err != nil {
		return nil, err
	}
	transport, err := ParseTransport(string(o.Transport))
	if err != nil {
		return nil, fmt.Errorf("dps: %w", err)
	}
	addr, serverName, err := splitHostPort(o.endpoint(), transport)
	if err != nil {
		return nil, fmt.Errorf("dps: endpoint: %w", err)
	}
	tc, err := tlsConfig(serverName, o.CAFile)
	if err != nil {
		return nil, fmt.Errorf("dps: %w", err)
	}
	log := o.logger().With("registrationId", o.RegistrationID, "idScope", o.IDScope)
	resource := o.IDScope + "/registrations/" + o.RegistrationID
	tok, err := SASToken(resource, key, "registration", time.Now().Add(dpsTokenLifetime))
	if err != nil {
		return nil, fmt.Errorf("dps: %w", err)
	}
	connectTimeout := o.ConnectTimeout
	if connectTimeout <= 0 {
		connectTimeout = defaultConnectTimeout
	}
	lost := make(chan struct{})
	cl, err := connectMQTT(ctx, mqttSettings{
		addr: addr, clientID: o.RegistrationID, password: tok, tls: tc, transport: transport,
		username:  resource + "/api-version=" + dpsAPIVersion,
		keepAlive: 60 * time.Second, connectTimeout: connectTimeout,
		onLost: func(mqtt.Client, error) { close(lost) },
	})
	if err != nil {
		if errors.Is(err, ErrNotAuthorized) {
			return nil, fmt.Errorf("dps: %s refused registration %q (%w): check the ID scope %q, the registration ID and the key (a group enrollment key derives the device key; an individual enrollment key is used as is)", addr, o.RegistrationID, ErrNotAuthorized, o.IDScope)
		}
		return nil, fmt.Errorf("dps: %w", err)
	}
	replies := make(chan response, 8)
	st := cl.Subscribe(dpsResFilter, 0, func(_ mqtt.Client, m mqtt.Message) {
		r, err := parseResponseTopic(m.Topic(), dpsResPrefix)
		if err != nil {
			log.Warn("ignoring DPS message", "err", err)
			return
		}
		r.body = m.Payload()
		select {
		case replies <- r:
		default:
			log.Warn("dropping unexpected DPS reply", "topic", m.Topic())
		}
	})
	if err := waitToken(ctx, cl, st, lost); err != nil {
		cl.Disconnect(250)
		return nil, fmt.Errorf("dps: subscribe: %w", err)
	}
	return &dpsSession{cl: cl, replies: replies, lost: lost, log: log}, nil
}

// awaitReply waits for the reply with the given rid, skipping stale ones.
func awaitReply(ctx context.Context, replies <-chan response, rid string, lost <-chan struct{}) (response, error) {
	t := time.NewTimer(dpsReplyTimeout)
	defer t.Stop()
	for {
		select {
		case r := <-replies:
			if r.rid == rid {
				return r, nil
			}
		case <-lost:
			return response{}, errors.New("dps: connection lost while waiting for the reply")
		case <-t.C:
			return response{}, fmt.Errorf("dps: no reply within %v", dpsReplyTimeout)
		case <-ctx.Done():
			return response{}, fmt.Errorf("dps: %w", ctx.Err())
		}
	}
}

func (o DPSOptions) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}
