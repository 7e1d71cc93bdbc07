package emulator

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// RegistrationFailure is a fault the DPS endpoint injects into a registration.
type RegistrationFailure int

// Registration faults.
const (
	FailAssignment   RegistrationFailure = iota + 1 // the operation ends with status "failed"
	FailDisabled                                    // the operation ends with status "disabled"
	FailThrottled                                   // the request gets 429 with retry-after
	FailUnauthorized                                // the request gets 401
)

// Registration records one DPS registration request and its outcome.
type Registration struct {
	RegistrationID string
	// Enrollment is "individual" or the group enrollment's name.
	Enrollment string
	// Payload is the "payload" the device sent, ModelID its "modelId".
	Payload json.RawMessage
	ModelID string
	// Status is assigned, failed, disabled, throttled (429) or unauthorized (401).
	Status      string
	AssignedHub string
	DeviceID    string
	Substatus   string
	// ResponsePayload is the payload returned to the device (from a custom allocation webhook).
	ResponsePayload json.RawMessage
	// Polls is how many operation-status requests the device made.
	Polls int
	// WebSocket is true when the device registered over MQTT over WebSockets.
	WebSocket bool
	Time      time.Time
}

// AllocationRequest is what DPS POSTs to a custom allocation webhook.
type AllocationRequest struct {
	IndividualEnrollment *AllocationEnrollment `json:"individualEnrollment,omitempty"`
	EnrollmentGroup      *AllocationEnrollment `json:"enrollmentGroup,omitempty"`
	DeviceRuntimeContext DeviceRuntimeContext  `json:"deviceRuntimeContext"`
	LinkedHubs           []string              `json:"linkedHubs"`
}

// AllocationEnrollment describes the enrollment in an AllocationRequest.
type AllocationEnrollment struct {
	RegistrationID    string            `json:"registrationId,omitempty"`
	EnrollmentGroupID string            `json:"enrollmentGroupId,omitempty"`
	Attestation       map[string]string `json:"attestation"`
	AllocationPolicy  string            `json:"allocationPolicy"`
	IotHubs           []string          `json:"iotHubs"`
	InitialTwin       *InitialTwin      `json:"initialTwin,omitempty"`
}

// DeviceRuntimeContext is the device part of an AllocationRequest.
type DeviceRuntimeContext struct {
	RegistrationID        string          `json:"registrationId"`
	CurrentIotHubHostName string          `json:"currentIotHubHostName,omitempty"`
	CurrentDeviceID       string          `json:"currentDeviceId,omitempty"`
	SymmetricKey          *struct{}       `json:"symmetricKey,omitempty"`
	Payload               json.RawMessage `json:"payload,omitempty"`
}

// AllocationResponse is a custom allocation webhook's answer.
type AllocationResponse struct {
	IotHubHostName string          `json:"iotHubHostName"`
	InitialTwin    *InitialTwin    `json:"initialTwin,omitempty"`
	Payload        json.RawMessage `json:"payload,omitempty"`
}

type dpsService struct {
	e    *Emulator
	host string
	srv  *mqtt.Server
	ln   *listener

	// guarded by e.mu
	enrollments []Enrollment
	groups      []Group
	failures    []RegistrationFailure
	ops         map[string]*operation
	clients     map[*mqtt.Client]enrollmentMatch
}

type enrollmentMatch struct {
	name        string // "individual" or the group name
	individual  *Enrollment
	group       *Group
	key         string // the device's key (individual or derived)
	deviceID    string
	initialTwin *InitialTwin
	disabled    bool
}

type operation struct {
	id      string
	regID   string
	match   enrollmentMatch
	payload json.RawMessage
	modelID string
	created time.Time
	polls   int
	failure RegistrationFailure
	result  []byte
	// websocket: registered over MQTT over WebSockets
	websocket bool
}

func startDPS(e *Emulator, tlsCfg *tls.Config) (*dpsService, error) {
	listen := e.cfg.DPS.Listen
	if listen == "" {
		listen = DefaultListen
	}
	s := &dpsService{
		e:           e,
		srv:         newBroker(e, "dps"),
		ln:          newListener("dps", listen, tlsCfg),
		enrollments: append([]Enrollment(nil), e.cfg.DPS.Enrollments...),
		groups:      append([]Group(nil), e.cfg.DPS.Groups...),
		ops:         map[string]*operation{},
		clients:     map[*mqtt.Client]enrollmentMatch{},
	}
	if err := s.srv.AddHook(&dpsHook{s: s}, nil); err != nil {
		return nil, fmt.Errorf("emulator: dps: %w", err)
	}
	if err := s.srv.AddListener(s.ln); err != nil {
		return nil, fmt.Errorf("emulator: dps: %w", err)
	}
	_, port, _ := net.SplitHostPort(s.ln.Address())
	s.host = net.JoinHostPort(hostOf(listen, e.cfg.DPS.Host), port)
	if err := s.srv.Serve(); err != nil {
		return nil, fmt.Errorf("emulator: dps: %w", err)
	}
	return s, nil
}

// AddEnrollment adds or replaces a DPS individual enrollment.
func (e *Emulator) AddEnrollment(en Enrollment) error {
	if en.RegistrationID == "" || en.Key == "" {
		return errors.New("emulator: an enrollment needs a registration ID and a key")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range e.dps.enrollments {
		if e.dps.enrollments[i].RegistrationID == en.RegistrationID {
			e.dps.enrollments[i] = en
			return nil
		}
	}
	e.dps.enrollments = append(e.dps.enrollments, en)
	return nil
}

// AddGroup adds a DPS symmetric-key group enrollment.
func (e *Emulator) AddGroup(g Group) error {
	if g.Key == "" {
		return errors.New("emulator: a group enrollment needs a key")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if g.Name == "" {
		g.Name = "group" + strconv.Itoa(len(e.dps.groups))
	}
	e.dps.groups = append(e.dps.groups, g)
	return nil
}

// FailNextRegistration queues a fault for the next registration request; faults queue up
// in order, one per request.
func (e *Emulator) FailNextRegistration(f RegistrationFailure) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.dps.failures = append(e.dps.failures, f)
}

// Registrations returns every finished registration so far, oldest first.
func (e *Emulator) Registrations() []Registration {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Registration(nil), e.registrations...)
}

// WaitRegistrations waits until at least n registrations have finished and returns them all.
func (e *Emulator) WaitRegistrations(ctx context.Context, n int) ([]Registration, error) {
	var out []Registration
	err := e.waitFor(ctx, func() bool {
		out = append(out[:0], e.registrations...)
		return len(out) >= n
	})
	if err != nil {
		return out, fmt.Errorf("waiting for %d registrations: %w", n, err)
	}
	return out, nil
}

type dpsHook struct {
	mqtt.HookBase
	s *dpsService
}

func (k *dpsHook) ID() string { return "dps" }

func (k *dpsHook) Provides(b byte) bool {
	switch b {
	case mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnSessionEstablished, mqtt.OnDisconnect, mqtt.OnPublish:
		return true
	}
	return false
}

func (k *dpsHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	if _, err := k.s.authenticate(pk); err != nil {
		k.s.e.refuse("dps", pk.Connect.ClientIdentifier, string(pk.Connect.Username), err)
		return false
	}
	return true
}

func (s *dpsService) authenticate(pk packets.Packet) (enrollmentMatch, error) {
	u, err := parseDPSUsername(string(pk.Connect.Username))
	if err != nil {
		return enrollmentMatch{}, err
	}
	if u.registrationID != pk.Connect.ClientIdentifier {
		return enrollmentMatch{}, fmt.Errorf("client id %q differs from the registration id %q in the username", pk.Connect.ClientIdentifier, u.registrationID)
	}
	if u.idScope != s.e.cfg.DPS.IDScope {
		return enrollmentMatch{}, fmt.Errorf("ID scope %q is not this DPS's (%s)", u.idScope, s.e.cfg.DPS.IDScope)
	}
	tok, err := parseSASToken(string(pk.Connect.Password))
	if err != nil {
		return enrollmentMatch{}, err
	}
	resource := u.idScope + "/registrations/" + u.registrationID
	now := time.Now()
	s.e.mu.Lock()
	enrollments := append([]Enrollment(nil), s.enrollments...)
	groups := append([]Group(nil), s.groups...)
	s.e.mu.Unlock()
	for i := range enrollments {
		en := &enrollments[i]
		if en.RegistrationID != u.registrationID {
			continue
		}
		if err := tok.verify(resource, "registration", now, en.Key); err != nil {
			return enrollmentMatch{}, fmt.Errorf("individual enrollment %q: %w", en.RegistrationID, err)
		}
		id := en.DeviceID
		if id == "" {
			id = en.RegistrationID
		}
		return enrollmentMatch{name: "individual", individual: en, key: en.Key, deviceID: id, initialTwin: en.InitialTwin, disabled: en.Disabled}, nil
	}
	if len(groups) == 0 {
		return enrollmentMatch{}, fmt.Errorf("no enrollment for registration id %q", u.registrationID)
	}
	var lastErr error
	for i := range groups {
		g := &groups[i]
		key, err := deriveDeviceKey(g.Key, u.registrationID)
		if err != nil {
			lastErr = err
			continue
		}
		if lastErr = tok.verify(resource, "registration", now, key); lastErr == nil {
			return enrollmentMatch{name: g.Name, group: g, key: key, deviceID: u.registrationID, initialTwin: g.InitialTwin, disabled: g.Disabled}, nil
		}
	}
	return enrollmentMatch{}, fmt.Errorf("no enrollment group accepts registration id %q: %w", u.registrationID, lastErr)
}

func (k *dpsHook) OnSessionEstablished(cl *mqtt.Client, pk packets.Packet) {
	m, err := k.s.authenticate(pk)
	if err != nil {
		cl.Stop(err)
		return
	}
	k.s.e.mu.Lock()
	k.s.clients[cl] = m
	k.s.e.mu.Unlock()
}

func (k *dpsHook) OnDisconnect(cl *mqtt.Client, _ error, _ bool) {
	k.s.e.mu.Lock()
	delete(k.s.clients, cl)
	k.s.e.mu.Unlock()
}

func (k *dpsHook) OnACLCheck(_ *mqtt.Client, topic string, write bool) bool {
	if write {
		return strings.HasPrefix(topic, "$dps/registrations/PUT/iotdps-register/") ||
			strings.HasPrefix(topic, "$dps/registrations/GET/iotdps-get-operationstatus/")
	}
	return strings.HasPrefix(topic, "$dps/registrations/res/")
}

func (k *dpsHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	s := k.s
	if pk.FixedHeader.Qos > 1 {
		cl.Stop(errQoS2)
		return pk, packets.ErrRejectPacket
	}
	switch {
	case strings.HasPrefix(pk.TopicName, "$dps/registrations/PUT/iotdps-register/"):
		s.onRegister(cl, pk.TopicName, pk.Payload)
	case strings.HasPrefix(pk.TopicName, "$dps/registrations/GET/iotdps-get-operationstatus/"):
		s.onStatus(cl, pk.TopicName)
	}
	return pk, packets.CodeSuccessIgnore
}

func (s *dpsService) retryAfter() string {
	return strconv.Itoa(max(1, int(math.Ceil(s.e.cfg.DPS.RetryAfter.Seconds()))))
}

func (s *dpsService) respond(cl *mqtt.Client, status int, rid string, extra string, body any) {
	b, err := json.Marshal(body)
	if err != nil {
		return
	}
	topic := "$dps/registrations/res/" + strconv.Itoa(status) + "/?$rid=" + url.QueryEscape(rid) + extra
	if err := deliverTo(cl, topic, b, 0); err != nil {
		s.e.log.Info("DPS response not delivered", "client", cl.ID, "topic", topic, "err", err)
	}
}

type dpsError struct {
	ErrorCode  int    `json:"errorCode"`
	TrackingID string `json:"trackingId"`
	Message    string `json:"message"`
	Timestamp  string `json:"timestampUtc"`
}

func newDPSError(code int, msg string) dpsError {
	return dpsError{ErrorCode: code, TrackingID: "emulator", Message: msg, Timestamp: time.Now().UTC().Format(time.RFC3339Nano)}
}

type registrationState struct {
	RegistrationID         string          `json:"registrationId"`
	CreatedDateTimeUTC     string          `json:"createdDateTimeUtc,omitempty"`
	AssignedHub            string          `json:"assignedHub,omitempty"`
	DeviceID               string          `json:"deviceId,omitempty"`
	Status                 string          `json:"status"`
	Substatus              string          `json:"substatus,omitempty"`
	ErrorCode              int             `json:"errorCode,omitempty"`
	ErrorMessage           string          `json:"errorMessage,omitempty"`
	LastUpdatedDateTimeUTC string          `json:"lastUpdatedDateTimeUtc,omitempty"`
	ETag                   string          `json:"etag,omitempty"`
	Payload                json.RawMessage `json:"payload,omitempty"`
}

type operationStatus struct {
	OperationID       string             `json:"operationId"`
	Status            string             `json:"status"`
	RegistrationState *registrationState `json:"registrationState,omitempty"`
}

func (s *dpsService) onRegister(cl *mqtt.Client, topic string, body []byte) {
	e := s.e
	rid := topicQuery(topic).Get("$rid")
	var req struct {
		RegistrationID string          `json:"registrationId"`
		Payload        json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		s.respond(cl, 400, rid, "", newDPSError(400004, "registration request body is not JSON: "+err.Error()))
		return
	}
	if req.RegistrationID != cl.ID {
		s.respond(cl, 400, rid, "", newDPSError(400004, fmt.Sprintf("registrationId %q in the body differs from the connection's %q", req.RegistrationID, cl.ID)))
		return
	}
	var modelID string
	if len(req.Payload) > 0 {
		var p struct {
			ModelID string `json:"modelId"`
		}
		if json.Unmarshal(req.Payload, &p) == nil {
			modelID = p.ModelID
		}
	}
	e.mu.Lock()
	m, ok := s.clients[cl]
	if !ok {
		e.mu.Unlock()
		return
	}
	var failure RegistrationFailure
	if len(s.failures) > 0 {
		failure = s.failures[0]
		s.failures = s.failures[1:]
	}
	rec := Registration{RegistrationID: req.RegistrationID, Enrollment: m.name, Payload: bytes.Clone(req.Payload), ModelID: modelID, Time: time.Now(), WebSocket: isWebSocket(cl.Net.Conn)}
	switch failure {
	case FailThrottled:
		rec.Status = "throttled"
		e.registrations = append(e.registrations, rec)
		e.broadcastLocked()
		e.mu.Unlock()
		s.respond(cl, 429, rid, "&retry-after="+s.retryAfter(), newDPSError(429001, "Operations are being throttled (injected)."))
		return
	case FailUnauthorized:
		rec.Status = "unauthorized"
		e.registrations = append(e.registrations, rec)
		e.broadcastLocked()
		e.mu.Unlock()
		s.respond(cl, 401, rid, "", newDPSError(401002, "The caller is unauthorized (injected)."))
		return
	}
	op := &operation{
		id: "4." + strconv.FormatInt(time.Now().UnixNano(), 16) + "." + e.nextID(), regID: req.RegistrationID,
		match: m, payload: rec.Payload, modelID: modelID, created: time.Now(), failure: failure, websocket: rec.WebSocket,
	}
	s.ops[op.id] = op
	e.mu.Unlock()
	e.log.Info("DPS registration", "registrationId", req.RegistrationID, "enrollment", m.name, "modelId", modelID)
	s.respond(cl, 202, rid, "&retry-after="+s.retryAfter(), operationStatus{
		OperationID: op.id, Status: "assigning",
		RegistrationState: &registrationState{RegistrationID: op.regID, Status: "assigning"},
	})
}

func (s *dpsService) onStatus(cl *mqtt.Client, topic string) {
	e := s.e
	q := topicQuery(topic)
	rid, opID := q.Get("$rid"), q.Get("operationId")
	e.mu.Lock()
	op := s.ops[opID]
	if op == nil || op.regID != cl.ID {
		e.mu.Unlock()
		s.respond(cl, 404, rid, "", newDPSError(404104, fmt.Sprintf("operation %q not found", opID)))
		return
	}
	op.polls++
	result := op.result
	waiting := op.polls <= e.cfg.DPS.AssignAfterPolls || time.Since(op.created) < e.cfg.DPS.AssignDelay
	e.mu.Unlock()
	if result != nil {
		s.respondRaw(cl, 200, rid, result)
		return
	}
	if waiting {
		s.respond(cl, 202, rid, "&retry-after="+s.retryAfter(), operationStatus{
			OperationID: op.id, Status: "assigning",
			RegistrationState: &registrationState{RegistrationID: op.regID, Status: "assigning"},
		})
		return
	}
	result = s.finish(op)
	s.respondRaw(cl, 200, rid, result)
}

func (s *dpsService) respondRaw(cl *mqtt.Client, status int, rid string, body []byte) {
	topic := "$dps/registrations/res/" + strconv.Itoa(status) + "/?$rid=" + url.QueryEscape(rid)
	if err := deliverTo(cl, topic, body, 0); err != nil {
		s.e.log.Info("DPS response not delivered", "client", cl.ID, "topic", topic, "err", err)
	}
}

// finish decides the operation's outcome, creates or moves the hub device, records the
// registration and returns the final operation status document.
func (s *dpsService) finish(op *operation) []byte {
	e := s.e
	now := time.Now().UTC()
	st := &registrationState{RegistrationID: op.regID, CreatedDateTimeUTC: now.Format(time.RFC3339Nano), LastUpdatedDateTimeUTC: now.Format(time.RFC3339Nano)}
	rec := Registration{RegistrationID: op.regID, Enrollment: op.match.name, Payload: op.payload, ModelID: op.modelID, WebSocket: op.websocket}
	var moved *mqtt.Client
	switch {
	case op.match.disabled || op.failure == FailDisabled:
		st.Status = "disabled"
		st.ErrorCode, st.ErrorMessage = 401003, "the enrollment is disabled"
	case op.failure == FailAssignment:
		st.Status = "failed"
		st.ErrorCode, st.ErrorMessage = 500000, "assignment failed (injected)"
	default:
		hubIndex, twin, payload, err := s.allocate(op)
		if err != nil {
			st.Status = "failed"
			st.ErrorCode, st.ErrorMessage = 400209, err.Error()
			e.log.Warn("DPS allocation failed", "registrationId", op.regID, "err", err)
			break
		}
		e.mu.Lock()
		d := e.devices[op.match.deviceID]
		st.Substatus = "initialAssignment"
		if d == nil {
			d = &device{id: op.match.deviceID, twin: newTwinState(), created: time.Now(), registration: op.regID}
			d.twin.applyInitial(op.match.initialTwin)
			d.twin.applyInitial(twin)
			e.devices[d.id] = d
		} else if d.hub != hubIndex {
			st.Substatus = "deviceDataMigrated"
			if d.conn != nil {
				moved = d.conn.cl
			}
		}
		d.key, d.key2, d.hub = op.match.key, "", hubIndex
		e.mu.Unlock()
		st.Status = "assigned"
		st.AssignedHub = e.hubs[hubIndex].host
		st.DeviceID = op.match.deviceID
		st.ETag = `"` + strconv.FormatInt(now.UnixNano(), 16) + `"`
		st.Payload = payload
	}
	if moved != nil {
		moved.Stop(errors.New("emulator: device moved to another hub"))
	}
	rec.Status, rec.AssignedHub, rec.DeviceID, rec.Substatus, rec.ResponsePayload = st.Status, st.AssignedHub, st.DeviceID, st.Substatus, st.Payload
	body, _ := json.Marshal(operationStatus{OperationID: op.id, Status: st.Status, RegistrationState: st})
	e.mu.Lock()
	if op.result == nil {
		op.result = body
		rec.Polls = op.polls
		rec.Time = time.Now()
		e.registrations = append(e.registrations, rec)
		e.broadcastLocked()
	} else {
		body = op.result
	}
	e.mu.Unlock()
	e.log.Info("DPS registration finished", "registrationId", op.regID, "status", st.Status, "hub", st.AssignedHub)
	return body
}

// allocate picks the hub under the configured policy, among the hubs not removed.
func (s *dpsService) allocate(op *operation) (int, *InitialTwin, json.RawMessage, error) {
	e := s.e
	e.mu.Lock()
	var linked []int
	for i, h := range e.hubs {
		if !h.gone {
			linked = append(linked, i)
		}
	}
	e.mu.Unlock()
	switch e.cfg.DPS.Allocation {
	case AllocateHashed:
		h := fnv.New32a()
		h.Write([]byte(op.regID))
		return linked[int(h.Sum32()%uint32(len(linked)))], nil, nil, nil
	case AllocateCustom:
		return s.allocateCustom(op, linked)
	default:
		counts := make([]int, len(e.hubs))
		e.mu.Lock()
		for id, d := range e.devices {
			if id != op.match.deviceID {
				counts[d.hub]++
			}
		}
		e.mu.Unlock()
		best := linked[0]
		for _, i := range linked {
			if counts[i] < counts[best] {
				best = i
			}
		}
		return best, nil, nil, nil
	}
}

func (s *dpsService) allocateCustom(op *operation, indexes []int) (int, *InitialTwin, json.RawMessage, error) {
	e := s.e
	linked := make([]string, len(indexes))
	for i, h := range indexes {
		linked[i] = e.hubs[h].host
	}
	req := AllocationRequest{
		DeviceRuntimeContext: DeviceRuntimeContext{RegistrationID: op.regID, SymmetricKey: &struct{}{}, Payload: op.payload},
		LinkedHubs:           linked,
	}
	enr := &AllocationEnrollment{
		Attestation:      map[string]string{"type": "symmetricKey"},
		AllocationPolicy: "custom",
		IotHubs:          linked,
		InitialTwin:      op.match.initialTwin,
	}
	if op.match.individual != nil {
		enr.RegistrationID = op.regID
		req.IndividualEnrollment = enr
	} else {
		enr.EnrollmentGroupID = op.match.name
		req.EnrollmentGroup = enr
	}
	e.mu.Lock()
	if d := e.devices[op.match.deviceID]; d != nil {
		req.DeviceRuntimeContext.CurrentIotHubHostName = e.hubs[d.hub].host
		req.DeviceRuntimeContext.CurrentDeviceID = d.id
	}
	e.mu.Unlock()
	body, err := json.Marshal(req)
	if err != nil {
		return 0, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), webhookTimeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, e.cfg.DPS.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("custom allocation webhook: %w", err)
	}
	hr.Header.Set("Content-Type", "application/json")
	resp, err := e.cfg.DPS.HTTPClient.Do(hr)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("custom allocation webhook: %w", err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("custom allocation webhook: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return 0, nil, nil, fmt.Errorf("custom allocation webhook answered %s", resp.Status)
	}
	var ar AllocationResponse
	if err := json.Unmarshal(rb, &ar); err != nil {
		return 0, nil, nil, fmt.Errorf("custom allocation webhook answer is not an AllocationResponse: %w", err)
	}
	for i, h := range linked {
		if strings.EqualFold(h, ar.IotHubHostName) {
			return indexes[i], ar.InitialTwin, ar.Payload, nil
		}
	}
	return 0, nil, nil, fmt.Errorf("custom allocation webhook chose hub %q, which is not one of the linked hubs %v", ar.IotHubHostName, linked)
}
