package emulator

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/iothub"
)

// closedBlobURL is a blob store nobody listens on: SAS URIs are signed without contacting it.
func closedBlobURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/devstoreaccount1"
}

// The hub's TLS port answers the file-upload REST calls of the device SDKs, checking the SAS
// token like MQTT CONNECT does, and hands out a service SAS for {deviceId}/{blobName}.
func TestFileUploadEndpoints(t *testing.T) {
	blobURL := closedBlobURL(t)
	e := startEmulator(t, Config{Devices: []Device{{ID: "cam1", Key: testKey}}, FileUpload: FileUploadConfig{BlobURL: blobURL, Container: "pics"}})
	ctx := testCtx(t)
	fu, err := iothub.NewFileUpload(iothub.Options{Host: e.HubHost(), DeviceID: "cam1", Key: testKey, CAFile: e.CAFile()})
	if err != nil {
		t.Fatal(err)
	}
	sas, err := fu.RequestSAS(ctx, "20260102T030405.000Z.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if sas.HostName != blobURL || sas.ContainerName != "pics" || sas.BlobName != "cam1/20260102T030405.000Z.jpg" || sas.CorrelationID == "" {
		t.Fatalf("SAS answer %+v", sas)
	}
	q, err := url.ParseQuery(strings.TrimPrefix(sas.SASToken, "?"))
	if err != nil || q.Get("sr") != "b" || q.Get("sp") != "cw" || q.Get("sig") == "" || q.Get("se") == "" {
		t.Fatalf("sasToken %q: want a blob service SAS with create and write", sas.SASToken)
	}
	if want := blobURL + "/pics/cam1/20260102T030405.000Z.jpg?"; !strings.HasPrefix(sas.URL(), want) {
		t.Fatalf("URL %s, want prefix %s", sas.URL(), want)
	}
	if err := fu.Notify(ctx, iothub.UploadOutcome{CorrelationID: sas.CorrelationID, IsSuccess: false, StatusCode: 503, StatusDescription: "storage unreachable"}); err != nil {
		t.Fatal(err)
	}
	ups := e.FileUploads()
	if len(ups) != 1 || !ups[0].Notified || ups[0].IsSuccess || ups[0].StatusCode != 503 || ups[0].StatusDescription != "storage unreachable" {
		t.Fatalf("recorded %+v", ups)
	}
	// A correlation ID is notified once.
	err = fu.Notify(ctx, iothub.UploadOutcome{CorrelationID: sas.CorrelationID, IsSuccess: true, StatusCode: 201})
	var he *iothub.HubError
	if !errors.As(err, &he) || he.Status != http.StatusBadRequest || !strings.Contains(he.Body, "InvalidCorrelationId") {
		t.Fatalf("second notification: %v", err)
	}

	// The Node SDK's form: correlation ID in the path.
	sas2, err := fu.RequestSAS(ctx, "b.jpg")
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := iothub.SASToken(e.HubHost()+"/devices/cam1", testKey, "", time.Now().Add(time.Hour))
	status := post(t, e, "/devices/cam1/files/notifications/"+sas2.CorrelationID+"?api-version=2021-04-12", tok,
		`{"isSuccess":true,"statusCode":201,"statusDescription":"ok"}`)
	if status != http.StatusNoContent {
		t.Fatalf("Node-style notification: %d", status)
	}

	for _, c := range []struct {
		name, path, tok, body string
		want                  int
	}{
		{"wrong key", "/devices/cam1/files?api-version=2021-04-12", sasWith(t, e, "cam1", testKey2), `{"blobName":"x.jpg"}`, http.StatusUnauthorized},
		{"other device's token", "/devices/cam1/files?api-version=2021-04-12", sasWith(t, e, "cam2", testKey), `{"blobName":"x.jpg"}`, http.StatusUnauthorized},
		{"no token", "/devices/cam1/files?api-version=2021-04-12", "", `{"blobName":"x.jpg"}`, http.StatusUnauthorized},
		{"unknown device", "/devices/nobody/files?api-version=2021-04-12", sasWith(t, e, "nobody", testKey), `{"blobName":"x.jpg"}`, http.StatusNotFound},
		{"no api-version", "/devices/cam1/files", tok, `{"blobName":"x.jpg"}`, http.StatusBadRequest},
		{"no blobName", "/devices/cam1/files?api-version=2021-04-12", tok, `{}`, http.StatusBadRequest},
		{"unknown path", "/devices/cam1/messages/events?api-version=2021-04-12", tok, `{}`, http.StatusNotFound},
	} {
		if got := post(t, e, c.path, c.tok, c.body); got != c.want {
			t.Errorf("%s: status %d, want %d", c.name, got, c.want)
		}
	}
	if n := len(e.Refusals()); n != 3 {
		t.Errorf("%d refusals recorded, want 3 (the unauthorized requests)", n)
	}

	e.RefuseFileUploads("", http.StatusForbidden)
	if _, err := fu.RequestSAS(ctx, "c.jpg"); !errors.As(err, &he) || he.Status != http.StatusForbidden {
		t.Fatalf("refusing hub: %v", err)
	}
}

func sasWith(t *testing.T, e *Emulator, device, key string) string {
	tok, err := iothub.SASToken(e.HubHost()+"/devices/"+device, key, "", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func post(t *testing.T, e *Emulator, path, tok, body string) int {
	t.Helper()
	cl := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig(t, e)}, Timeout: 10 * time.Second}
	req, _ := http.NewRequest(http.MethodPost, "https://"+e.HubHost()+path, bytes.NewReader([]byte(body)))
	if tok != "" {
		req.Header.Set("Authorization", tok)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// For an HTTPS blob store the hub answers hostName without a scheme, as IoT Hub does, so SDKs that
// prepend https:// reach it; an account path (Azurite) stays in it.
func TestFileUploadHTTPSHostName(t *testing.T) {
	e := startEmulator(t, Config{Devices: []Device{{ID: "cam1", Key: testKey}}, FileUpload: FileUploadConfig{BlobURL: "https://127.0.0.1:1/devstoreaccount1"}})
	fu, err := iothub.NewFileUpload(iothub.Options{Host: e.HubHost(), DeviceID: "cam1", Key: testKey, CAFile: e.CAFile()})
	if err != nil {
		t.Fatal(err)
	}
	sas, err := fu.RequestSAS(testCtx(t), "x.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if sas.HostName != "127.0.0.1:1/devstoreaccount1" || !strings.HasPrefix(sas.URL(), "https://127.0.0.1:1/devstoreaccount1/edgecam/cam1/x.jpg?") {
		t.Fatalf("hostName %q, URL %s", sas.HostName, sas.URL())
	}
}

func TestFileUploadConfigErrors(t *testing.T) {
	for _, c := range []FileUploadConfig{{BlobURL: "ftp://x/y"}, {Container: "Bad_Name"}, {BlobKey: "not base64!"}} {
		if _, err := Start(t.Context(), Config{StateDir: t.TempDir(), FileUpload: c}); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// The file-upload client reads the CA file again when it changed, as the MQTT client does at
// every connect (the emulator renews its CA at restart).
func TestFileUploadReadsNewCA(t *testing.T) {
	other := startEmulator(t, Config{})
	e := startEmulator(t, Config{Devices: []Device{{ID: "cam1", Key: testKey}}, FileUpload: FileUploadConfig{BlobURL: closedBlobURL(t)}})
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, other.CAPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	fu, err := iothub.NewFileUpload(iothub.Options{Host: e.HubHost(), DeviceID: "cam1", Key: testKey, CAFile: ca})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	if _, err := fu.RequestSAS(ctx, "a.jpg"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("with another CA: %v, want a certificate error", err)
	}
	if err := os.WriteFile(ca, e.CAPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := fu.RequestSAS(ctx, "b.jpg"); err != nil {
		t.Fatalf("after the CA file changed: %v", err)
	}
}
