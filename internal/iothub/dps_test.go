package iothub

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRegistrationBody(t *testing.T) {
	o := DPSOptions{RegistrationID: "cam1"}
	for _, tc := range []struct {
		model   string
		payload string
		want    string
	}{
		{"", "", `{"registrationId":"cam1"}`},
		{"dtmi:com:example:Camera;1", "", `{"registrationId":"cam1","payload":{"modelId":"dtmi:com:example:Camera;1"}}`},
		{"dtmi:x;1", `{"site":"north"}`, `{"registrationId":"cam1","payload":{"modelId":"dtmi:x;1","site":"north"}}`},
	} {
		o.ModelID, o.Payload = tc.model, json.RawMessage(tc.payload)
		b, err := o.registrationBody()
		if err != nil || string(b) != tc.want {
			t.Errorf("got %s %v, want %s", b, err, tc.want)
		}
	}
	o.Payload = json.RawMessage(`[1]`)
	if _, err := o.registrationBody(); err == nil {
		t.Error("non-object payload accepted")
	}
}

func TestDeviceKey(t *testing.T) {
	o := DPSOptions{RegistrationID: "sn-007-888-abc-mac-a1-b2-c3-d4-e5-f6",
		GroupKey: "8isrFI1sGsIlvvFSSFRiMfCNzv21fjbE/+ah/lSh3lF8e2YG1Te7w1KpZhJFFXJrqYKi9yegxkqIChbqOS9Egw=="}
	if k, err := o.DeviceKey(); err != nil || k != "Jsm0lyGpjaVYVP2g3FnmnmG9dI/9qU24wNoykUmermc=" {
		t.Fatalf("%s %v", k, err)
	}
	o.Key = testKey
	if _, err := o.DeviceKey(); err == nil {
		t.Fatal("both keys accepted")
	}
	o.GroupKey = ""
	if k, _ := o.DeviceKey(); k != testKey {
		t.Fatal("individual key not used as is")
	}
	if _, err := (DPSOptions{}).DeviceKey(); err == nil {
		t.Fatal("no key accepted")
	}
}

func TestDPSReplyOutcome(t *testing.T) {
	o := DPSOptions{IDScope: "0ne001", RegistrationID: "cam1"}
	parse := func(s string) dpsReply {
		t.Helper()
		r, err := parseDPSReply([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a, done, err := parse(`{"operationId":"op1","status":"assigned","registrationState":{"registrationId":"cam1",
		"assignedHub":"hub1.azure-devices.net","deviceId":"cam1","status":"assigned","substatus":"initialAssignment",
		"payload":{"site":"north"}}}`).outcome(o)
	if err != nil || !done || a.AssignedHub != "hub1.azure-devices.net" || a.DeviceID != "cam1" || a.Substatus != "initialAssignment" || string(a.Payload) != `{"site":"north"}` {
		t.Fatalf("%+v %v %v", a, done, err)
	}
	r := parse(`{"operationId":"op2","status":"assigning"}`)
	if _, done, err := r.outcome(o); done || err != nil || r.OperationID != "op2" {
		t.Fatalf("assigning: %v %v", done, err)
	}
	for body, want := range map[string]string{
		`{"operationId":"o","status":"failed","registrationState":{"status":"failed","errorCode":400209,"errorMessage":"Custom allocation failed"}}`: "400209: Custom allocation failed",
		`{"operationId":"o","status":"disabled"}`:                        "disabled",
		`{"status":"assigning"}`:                                         "no operation ID",
		`{"operationId":"o","status":"assigned","registrationState":{}}`: "names no hub",
		`{"operationId":"o","status":"weird"}`:                           "unexpected registration status",
	} {
		_, done, err := parse(body).outcome(o)
		if !done || err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v %v, want %q", body, done, err, want)
		}
	}
	if _, err := parseDPSReply([]byte(`not json`)); err == nil {
		t.Fatal("non-JSON accepted")
	}
	if r := parse(`{"errorCode":401002,"message":"Unauthorized"}`); r.errorText() != "error 401002: Unauthorized" {
		t.Fatal(r.errorText())
	}
}

func FuzzDPSReply(f *testing.F) {
	f.Add([]byte(`{"operationId":"o","status":"assigned","registrationState":{"assignedHub":"h","deviceId":"d","status":"assigned","payload":{}}}`))
	f.Add([]byte(`{"operationId":"o","status":"assigning"}`))
	f.Add([]byte(`{"errorCode":429001,"message":"throttled"}`))
	f.Add([]byte(`{"registrationState":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := parseDPSReply(body)
		if err != nil {
			return
		}
		_ = r.errorText()
		a, done, err := r.outcome(DPSOptions{IDScope: "s", RegistrationID: "r"})
		if err == nil && done && (a.AssignedHub == "" || a.DeviceID == "") {
			t.Fatalf("assignment without hub or device from %s", body)
		}
		if err == nil && !done && r.OperationID == "" {
			t.Fatalf("pending without operation ID from %s", body)
		}
	})
}

func TestAssignmentCache(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	c := AssignmentCache{Dir: dir}
	o := DPSOptions{IDScope: "0ne001", RegistrationID: "cam1", ModelID: "dtmi:x;1", GroupKey: testKey}
	if _, ok, err := c.Load(o); ok || err != nil {
		t.Fatalf("empty cache: %v %v", ok, err)
	}
	want := Assignment{AssignedHub: "hub1:8883", DeviceID: "cam1", Status: "assigned", Substatus: "initialAssignment", Payload: json.RawMessage(`{"a":1}`)}
	if err := c.Save(o, want); err != nil {
		t.Fatal(err)
	}
	got, ok, err := c.Load(o)
	if err != nil || !ok || !got.Cached || got.AssignedHub != want.AssignedHub || string(got.Payload) != `{"a":1}` {
		t.Fatalf("%+v %v %v", got, ok, err)
	}
	fi, err := os.Stat(c.path(o))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("cache file mode %v %v", fi.Mode(), err)
	}
	b, _ := os.ReadFile(c.path(o))
	if strings.Contains(string(b), testKey) {
		t.Fatal("cache file holds the key")
	}
	for name, changed := range map[string]DPSOptions{
		"scope":    {IDScope: "0ne002", RegistrationID: "cam1", ModelID: "dtmi:x;1"},
		"model":    {IDScope: "0ne001", RegistrationID: "cam1", ModelID: "dtmi:x;2"},
		"endpoint": {IDScope: "0ne001", RegistrationID: "cam1", ModelID: "dtmi:x;1", GlobalEndpoint: "localhost:1"},
		"id":       {IDScope: "0ne001", RegistrationID: "cam2", ModelID: "dtmi:x;1"},
	} {
		if _, ok, _ := c.Load(changed); ok {
			t.Errorf("changed %s still hits the cache", name)
		}
	}
	if err := os.WriteFile(c.path(o), []byte("{broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := c.Load(o); ok || err != nil {
		t.Fatalf("broken file: %v %v", ok, err)
	}
	if err := c.Remove(o); err != nil {
		t.Fatal(err)
	}
	if err := c.Remove(o); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Fatalf("left files: %v", entries)
	}
	if fileSafe("../x") == "../x" || fileSafe(".hidden") == ".hidden" || fileSafe("cam-1.a_b") != "cam-1.a_b" {
		t.Fatal("fileSafe")
	}
}
