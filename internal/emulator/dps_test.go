package emulator

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/iothub"
)

// dpsResult is what the test DPS client saw.
type dpsResult struct {
	status     int // MQTT response status of the last answer
	retryAfter string
	doc        operationStatus
	raw        []byte
	polls      int
}

func dpsConnect(t *testing.T, e *Emulator, regID, key string) (*testClient, error) {
	t.Helper()
	scope := e.IDScope()
	tok := must(iothub.SASToken(scope+"/registrations/"+regID, key, "registration", time.Now().Add(time.Hour)))(t)
	return connect(t, e, e.DPSHost(), regID, scope+"/registrations/"+regID+"/api-version=2019-03-31", tok)
}

// register runs a DPS registration the way a device does, polling at once instead of waiting
// retry-after.
func register(t *testing.T, e *Emulator, regID, key string, payload any) dpsResult {
	t.Helper()
	return registerPaced(t, e, regID, key, payload, 0)
}

// registerPaced is register with a pause before every status poll.
func registerPaced(t *testing.T, e *Emulator, regID, key string, payload any, pause time.Duration) dpsResult {
	t.Helper()
	c, err := dpsConnect(t, e, regID, key)
	if err != nil {
		t.Fatalf("DPS connect: %v", err)
	}
	defer c.c.Disconnect(0)
	c.subscribe("$dps/registrations/res/#")
	req := map[string]any{"registrationId": regID}
	if payload != nil {
		req["payload"] = payload
	}
	body, _ := json.Marshal(req)
	if err := c.publish("$dps/registrations/PUT/iotdps-register/?$rid=1", 1, body); err != nil {
		t.Fatal(err)
	}
	var r dpsResult
	for rid := 1; ; rid++ {
		m := c.expect("$dps/registrations/res/")
		statusStr, _, _ := strings.Cut(strings.TrimPrefix(m.topic, "$dps/registrations/res/"), "/")
		r.status, _ = strconv.Atoi(statusStr)
		q := topicQuery(m.topic)
		if q.Get("$rid") != strconv.Itoa(rid) {
			t.Fatalf("response %s does not echo $rid %d", m.topic, rid)
		}
		r.retryAfter = q.Get("retry-after")
		r.raw = m.body
		r.doc = operationStatus{}
		if err := json.Unmarshal(m.body, &r.doc); err != nil {
			t.Fatalf("response body %s: %v", m.body, err)
		}
		if r.status != 202 {
			return r
		}
		if r.doc.OperationID == "" || r.doc.Status != "assigning" {
			t.Fatalf("202 body %s", m.body)
		}
		r.polls++
		time.Sleep(pause)
		topic := fmt.Sprintf("$dps/registrations/GET/iotdps-get-operationstatus/?$rid=%d&operationId=%s", rid+1, r.doc.OperationID)
		if err := c.publish(topic, 1, nil); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDPSGroupEnrollmentWithPolls(t *testing.T) {
	e := startEmulator(t, Config{DPS: DPSConfig{
		Groups:           []Group{{Name: "cams", Key: groupKey}},
		AssignAfterPolls: 2,
		RetryAfter:       3 * time.Second,
	}})
	const regID = "sn-007-888-abc-mac-a1-b2-c3-d4-e5-f6"
	key := must(iothub.DeriveDeviceKey(groupKey, regID))(t)
	r := register(t, e, regID, key, map[string]string{"modelId": "dtmi:com:example:Camera;1"})
	if r.status != 200 || r.doc.Status != "assigned" {
		t.Fatalf("final answer %d %s", r.status, r.raw)
	}
	if r.polls != 3 { // the PUT's 202, then two polls answered 202, the third gets 200
		t.Errorf("%d 202 answers, want 3", r.polls)
	}
	st := r.doc.RegistrationState
	if st.AssignedHub != e.HubHost() || st.DeviceID != regID || st.Status != "assigned" || st.Substatus != "initialAssignment" || st.RegistrationID != regID {
		t.Errorf("registration state %s", r.raw)
	}
	regs := e.Registrations()
	if len(regs) != 1 || regs[0].ModelID != "dtmi:com:example:Camera;1" || regs[0].Enrollment != "cams" || regs[0].Polls != 3 {
		t.Errorf("registrations %+v", regs)
	}
	// The device now exists on its hub with the derived key.
	dev := connectDevice(t, e, regID, key, "")
	if err := dev.publish("devices/"+regID+"/messages/events/", 1, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	msgs := must(e.WaitTelemetry(testCtx(t), 1, FromDevice(regID)))(t)
	if msgs[0].Hub != st.AssignedHub {
		t.Errorf("telemetry arrived at %s, assigned %s", msgs[0].Hub, st.AssignedHub)
	}
}

func TestDPSRetryAfterAndDelay(t *testing.T) {
	e := startEmulator(t, Config{DPS: DPSConfig{
		Enrollments: []Enrollment{{RegistrationID: "cam1", Key: testKey, DeviceID: "front-door"}},
		AssignDelay: 1500 * time.Millisecond,
		RetryAfter:  2500 * time.Millisecond,
	}})
	start := time.Now()
	r := registerPaced(t, e, "cam1", testKey, nil, 100*time.Millisecond)
	if r.status != 200 || r.doc.RegistrationState.DeviceID != "front-door" {
		t.Fatalf("answer %d %s", r.status, r.raw)
	}
	if time.Since(start) < 1500*time.Millisecond {
		t.Error("assigned before the configured delay")
	}
	// The delay showed up as extra 202 answers; they carry retry-after in whole seconds,
	// rounded up.
	e2 := startEmulator(t, Config{DPS: DPSConfig{Enrollments: []Enrollment{{RegistrationID: "cam1", Key: testKey}}, RetryAfter: 2500 * time.Millisecond}})
	c, err := dpsConnect(t, e2, "cam1", testKey)
	if err != nil {
		t.Fatal(err)
	}
	c.subscribe("$dps/registrations/res/#")
	noErr(t, c.publish("$dps/registrations/PUT/iotdps-register/?$rid=a", 1, []byte(`{"registrationId":"cam1"}`)))
	m := c.expect("$dps/registrations/res/202/")
	if q := topicQuery(m.topic); q.Get("retry-after") != "3" || q.Get("$rid") != "a" {
		t.Errorf("202 topic %s", m.topic)
	}
}

func TestDPSAuthentication(t *testing.T) {
	e := startEmulator(t, Config{DPS: DPSConfig{
		Enrollments: []Enrollment{{RegistrationID: "cam1", Key: testKey}},
		Groups:      []Group{{Key: groupKey}},
	}})
	scope := e.IDScope()
	derived := must(iothub.DeriveDeviceKey(groupKey, "cam7"))(t)
	future := time.Now().Add(time.Hour)
	cases := []struct{ name, reg, scope, key, skn string }{
		{"wrong individual key", "cam1", scope, testKey2, "registration"},
		{"group key used directly", "cam7", scope, groupKey, "registration"},
		{"no skn", "cam7", scope, derived, ""},
		{"wrong scope", "cam7", "0ne00000000", derived, "registration"},
		{"derived key of another id", "cam8", scope, derived, "registration"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok := must(iothub.SASToken(c.scope+"/registrations/"+c.reg, c.key, c.skn, future))(t)
			_, err := connect(t, e, e.DPSHost(), c.reg, c.scope+"/registrations/"+c.reg+"/api-version=2019-03-31", tok)
			if err == nil {
				t.Fatal("DPS accepted the connection")
			}
		})
	}
	t.Run("group derived key", func(t *testing.T) {
		if _, err := dpsConnect(t, e, "cam7", derived); err != nil {
			t.Fatal(err)
		}
	})
}

func TestDPSFailureInjection(t *testing.T) {
	e := startEmulator(t, Config{DPS: DPSConfig{
		Enrollments: []Enrollment{{RegistrationID: "cam1", Key: testKey}, {RegistrationID: "off", Key: testKey, Disabled: true}},
	}})
	e.FailNextRegistration(FailThrottled)
	e.FailNextRegistration(FailUnauthorized)
	e.FailNextRegistration(FailAssignment)
	e.FailNextRegistration(FailDisabled)

	r := register(t, e, "cam1", testKey, nil)
	if r.status != 429 || r.retryAfter == "" {
		t.Errorf("throttled: %d retry-after %q %s", r.status, r.retryAfter, r.raw)
	}
	r = register(t, e, "cam1", testKey, nil)
	if r.status != 401 {
		t.Errorf("unauthorized: %d %s", r.status, r.raw)
	}
	r = register(t, e, "cam1", testKey, nil)
	if r.status != 200 || r.doc.Status != "failed" || r.doc.RegistrationState.ErrorCode == 0 {
		t.Errorf("failed: %d %s", r.status, r.raw)
	}
	r = register(t, e, "cam1", testKey, nil)
	if r.status != 200 || r.doc.Status != "disabled" {
		t.Errorf("disabled: %d %s", r.status, r.raw)
	}
	if _, err := e.DeviceHub("cam1"); err == nil {
		t.Error("a failed registration created the device")
	}
	r = register(t, e, "cam1", testKey, nil)
	if r.status != 200 || r.doc.Status != "assigned" {
		t.Errorf("after the faults: %d %s", r.status, r.raw)
	}
	r = register(t, e, "off", testKey, nil)
	if r.doc.Status != "disabled" {
		t.Errorf("disabled enrollment: %d %s", r.status, r.raw)
	}
	var statuses []string
	for _, reg := range e.Registrations() {
		statuses = append(statuses, reg.Status)
	}
	if got := strings.Join(statuses, ","); got != "throttled,unauthorized,failed,disabled,assigned,disabled" {
		t.Errorf("registration statuses %s", got)
	}
}

func TestDPSAllocationAcrossHubs(t *testing.T) {
	for _, policy := range []AllocationPolicy{AllocateHashed, AllocateEvenly} {
		t.Run(policy.String(), func(t *testing.T) {
			e := startEmulator(t, Config{
				Hubs: make([]HubConfig, 2),
				DPS:  DPSConfig{Groups: []Group{{Key: groupKey}}, Allocation: policy},
			})
			hubs := e.HubHosts()
			if len(hubs) != 2 || hubs[0] == hubs[1] {
				t.Fatalf("hubs %v", hubs)
			}
			count := map[string]int{}
			for i := range 6 {
				id := fmt.Sprintf("cam%d", i)
				key := must(iothub.DeriveDeviceKey(groupKey, id))(t)
				r := register(t, e, id, key, nil)
				hub := r.doc.RegistrationState.AssignedHub
				count[hub]++
				if again := register(t, e, id, key, nil); policy == AllocateHashed && again.doc.RegistrationState.AssignedHub != hub {
					t.Errorf("hashed allocation of %s moved from %s to %s", id, hub, again.doc.RegistrationState.AssignedHub)
				}
				if got := must(e.DeviceHub(id))(t); got != r.doc.RegistrationState.AssignedHub {
					t.Errorf("device %s on %s, DPS said %s", id, got, hub)
				}
			}
			if policy == AllocateEvenly && (count[hubs[0]] != 3 || count[hubs[1]] != 3) {
				t.Errorf("evenly weighted allocation %v", count)
			}
			if policy == AllocateHashed && count[hubs[0]]+count[hubs[1]] != 6 {
				t.Errorf("hashed allocation %v", count)
			}
			// A device connects only to its assigned hub.
			key := must(iothub.DeriveDeviceKey(groupKey, "cam0"))(t)
			own := must(e.DeviceHub("cam0"))(t)
			other := hubs[0]
			if other == own {
				other = hubs[1]
			}
			if _, err := connect(t, e, other, "cam0", hubUser(other, "cam0", ""), hubToken(t, other, "cam0", key)); err == nil {
				t.Error("device connected to a hub it is not assigned to")
			}
			connectDevice(t, e, "cam0", key, "")
		})
	}
}

func TestDPSCustomAllocation(t *testing.T) {
	var (
		mu  sync.Mutex
		got []AllocationRequest
	)
	var e *Emulator
	webhook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var req AllocationRequest
		if err := json.Unmarshal(b, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, req)
		mu.Unlock()
		if req.DeviceRuntimeContext.RegistrationID == "bad" {
			json.NewEncoder(w).Encode(AllocationResponse{IotHubHostName: "elsewhere.azure-devices.net"})
			return
		}
		json.NewEncoder(w).Encode(AllocationResponse{
			IotHubHostName: req.LinkedHubs[1],
			InitialTwin:    &InitialTwin{Tags: map[string]any{"site": "lab"}, Properties: InitialTwinProperties{Desired: map[string]any{"interval": 15}}},
			Payload:        json.RawMessage(`{"greeting":"hello","echo":` + string(req.DeviceRuntimeContext.Payload) + `}`),
		})
	}))
	defer webhook.Close()
	e = startEmulator(t, Config{
		Hubs: make([]HubConfig, 2),
		DPS:  DPSConfig{Groups: []Group{{Name: "cams", Key: groupKey}}, Allocation: AllocateCustom, WebhookURL: webhook.URL},
	})
	key := must(iothub.DeriveDeviceKey(groupKey, "cam1"))(t)
	r := register(t, e, "cam1", key, map[string]string{"modelId": "dtmi:x:y;1"})
	st := r.doc.RegistrationState
	if r.doc.Status != "assigned" || st.AssignedHub != e.HubHosts()[1] {
		t.Fatalf("custom allocation answer %s", r.raw)
	}
	var payload struct {
		Greeting string
		Echo     map[string]string
	}
	if err := json.Unmarshal(st.Payload, &payload); err != nil || payload.Greeting != "hello" || payload.Echo["modelId"] != "dtmi:x:y;1" {
		t.Errorf("payload %s (%v)", st.Payload, err)
	}
	mu.Lock()
	req := got[0]
	mu.Unlock()
	if req.EnrollmentGroup == nil || req.EnrollmentGroup.EnrollmentGroupID != "cams" || len(req.LinkedHubs) != 2 ||
		req.DeviceRuntimeContext.RegistrationID != "cam1" || req.DeviceRuntimeContext.SymmetricKey == nil {
		t.Errorf("allocation request %+v", req)
	}

	// The initial twin reaches the device.
	dev := connectDevice(t, e, "cam1", key, "")
	dev.subscribe("$iothub/twin/res/#")
	noErr(t, dev.publish("$iothub/twin/GET/?$rid=1", 0, nil))
	m := dev.expect("$iothub/twin/res/200/")
	var doc map[string]map[string]any
	if err := json.Unmarshal(m.body, &doc); err != nil || doc["desired"]["interval"] != 15.0 {
		t.Errorf("twin %s (%v)", m.body, err)
	}
	if tw := must(e.Twin("cam1"))(t); tw.Tags["site"] != "lab" {
		t.Errorf("tags %v", tw.Tags)
	}

	// A webhook choosing an unknown hub fails the registration.
	bad := must(iothub.DeriveDeviceKey(groupKey, "bad"))(t)
	r = register(t, e, "bad", bad, nil)
	if r.doc.Status != "failed" || !strings.Contains(r.doc.RegistrationState.ErrorMessage, "linked hubs") {
		t.Errorf("bad webhook answer: %s", r.raw)
	}
}
