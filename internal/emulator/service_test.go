package emulator

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serviceCall makes a service API request as curl would, with the token in Authorization.
func serviceCall(t *testing.T, e *Emulator, method, path, token, body string, header map[string]string) (int, map[string]any) {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(e.CAPEM())
	hc := &http.Client{Timeout: waitLong, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	req, err := http.NewRequest(method, "https://"+e.ServiceHost()+path, strings.NewReader(body))
	noErr(t, err)
	req.Header.Set("Authorization", token)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	noErr(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var doc map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s %s: %s is not JSON", method, path, b)
		}
	}
	return resp.StatusCode, doc
}

func TestServiceAPI(t *testing.T) {
	e := startEmulator(t, Config{Devices: []Device{{ID: "cam1", Key: testKey}}})
	ctx := testCtx(t)
	tok := must(e.ServiceToken(time.Hour))(t)

	if status, doc := serviceCall(t, e, "GET", "/twins/cam1?api-version=2021-04-12", "SharedAccessSignature sr=x&sig=eA%3D%3D&se=9999999999&skn=iothubowner", "", nil); status != 401 || doc["errorCode"] != 401002.0 {
		t.Fatalf("bad token: %d %v", status, doc)
	}
	if status, _ := serviceCall(t, e, "GET", "/twins/nobody?api-version=2021-04-12", tok, "", nil); status != 404 {
		t.Fatalf("unknown device: %d", status)
	}

	dev := connectDeviceSession(t, e, "cam1", testKey, "", false)
	dev.subscribe("$iothub/methods/POST/#", "$iothub/twin/PATCH/properties/desired/#", "devices/cam1/messages/devicebound/#")
	noErr(t, e.WaitSubscribed(ctx, "cam1", "devices/cam1/messages/devicebound/#"))

	// A writable property from the cloud reaches the device as a desired patch.
	status, doc := serviceCall(t, e, "PATCH", "/twins/cam1?api-version=2021-04-12", tok, `{"properties":{"desired":{"ImageTimerPeriod":"PT10S"}}}`, map[string]string{"If-Match": `"*"`})
	if status != 200 || doc["connectionState"] != "Connected" {
		t.Fatalf("twin patch: %d %v", status, doc)
	}
	if m := dev.expect("$iothub/twin/PATCH/properties/desired/"); !strings.Contains(string(m.body), `"ImageTimerPeriod":"PT10S"`) {
		t.Errorf("desired patch %s", m.body)
	}
	_, doc = serviceCall(t, e, "GET", "/twins/cam1?api-version=2021-04-12", tok, "", nil)
	desired := doc["properties"].(map[string]any)["desired"].(map[string]any)
	if desired["ImageTimerPeriod"] != "PT10S" || desired["$version"] != 2.0 || doc["etag"] == "" {
		t.Errorf("twin %v", doc)
	}

	// A command: the device answers on the methods topic.
	go func() {
		m := dev.expect("$iothub/methods/POST/CaptureNow/")
		rid := topicQuery(m.topic).Get("$rid")
		dev.publish("$iothub/methods/res/200/?$rid="+rid, 1, []byte(`{"person":1}`))
	}()
	status, doc = serviceCall(t, e, "POST", "/twins/cam1/methods?api-version=2021-04-12", tok, `{"methodName":"CaptureNow","payload":{},"responseTimeoutInSeconds":30}`, nil)
	if status != 200 || doc["status"] != 200.0 || doc["payload"].(map[string]any)["person"] != 1.0 {
		t.Fatalf("method: %d %v", status, doc)
	}

	// A queued command: a C2D message with its properties from iothub-app-* headers.
	if status, _ := serviceCall(t, e, "POST", "/devices/cam1/messages/deviceBound?api-version=2021-04-12", tok, `{}`, map[string]string{"iothub-app-method-name": "ImageTimerStop"}); status != 204 {
		t.Fatalf("C2D: %d", status)
	}
	m := dev.expect("devices/cam1/messages/devicebound/")
	if bag, _ := parseBag(strings.TrimPrefix(m.topic, "devices/cam1/messages/devicebound/")); bag["method-name"] != "ImageTimerStop" {
		t.Errorf("C2D topic %s", m.topic)
	}

	// Offline: the method fails as the hub's does (404103), the C2D message waits.
	dev.c.Disconnect(0)
	noErr(t, e.WaitDisconnected(ctx, "cam1"))
	if status, doc := serviceCall(t, e, "POST", "/twins/cam1/methods?api-version=2021-04-12", tok, `{"methodName":"CaptureNow","payload":{}}`, nil); status != 404 || doc["errorCode"] != 404103.0 {
		t.Fatalf("method on an offline device: %d %v", status, doc)
	}
}
