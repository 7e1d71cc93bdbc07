package iothub

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// File upload is IoT Hub's way to put a file in Azure Blob Storage: the device asks the hub for a
// blob SAS URI (POST /devices/{id}/files), PUTs the blob to storage, then tells the hub the
// outcome (POST /devices/{id}/files/notifications). It runs over HTTPS only, with the same device
// SAS token as MQTT. The shapes follow the IoT Hub REST API (api-version 2021-04-12) and the
// official device SDKs (azure-iot-sdk-node FileUploadApi, azure-iot-sdk-c upload-to-blob).

const fileUploadTimeout = 60 * time.Second

// BlobSAS is the hub's answer to a SAS request: where to PUT the blob.
type BlobSAS struct {
	CorrelationID string `json:"correlationId"`
	// HostName is the storage account host (account.blob.core.windows.net). A value with a
	// scheme (http://127.0.0.1:10000/devstoreaccount1) is used as the base URL as given: the
	// local emulator answers so for Azurite, which serves plain HTTP.
	HostName      string `json:"hostName"`
	ContainerName string `json:"containerName"`
	// BlobName is the name in the container; IoT Hub puts it under the device ID
	// ("cam1/20260102T030405.000Z.jpg").
	BlobName string `json:"blobName"`
	// SASToken is the query string ("?sv=...&sig=...") that authorizes the PUT.
	SASToken string `json:"sasToken"`
}

// URL is the blob's SAS URL: https://{hostName}/{containerName}/{blobName}{sasToken}.
func (b BlobSAS) URL() string {
	base := b.HostName
	if !strings.Contains(base, "://") {
		base = "https://" + base
	}
	segs := strings.Split(b.BlobName, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	sas := b.SASToken
	if sas != "" && !strings.HasPrefix(sas, "?") {
		sas = "?" + sas
	}
	return strings.TrimSuffix(base, "/") + "/" + url.PathEscape(b.ContainerName) + "/" + strings.Join(segs, "/") + sas
}

// UploadOutcome is the notification body: the blob PUT's result.
type UploadOutcome struct {
	CorrelationID     string `json:"correlationId"`
	IsSuccess         bool   `json:"isSuccess"`
	StatusCode        int    `json:"statusCode"`
	StatusDescription string `json:"statusDescription"`
}

// HubError is an error answer of the hub's HTTPS API.
type HubError struct {
	Op     string // "request a blob SAS URI", "notify the upload outcome"
	Status int    // HTTP status
	Body   string // the hub's message, trimmed
}

func (e *HubError) Error() string {
	msg := fmt.Sprintf("%s: hub answered %d %s", e.Op, e.Status, http.StatusText(e.Status))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	switch e.Status {
	case http.StatusUnauthorized:
		msg += " (check the device key)"
	case http.StatusForbidden, http.StatusBadRequest:
		msg += " (is file upload configured? IoT Hub: File upload page; IoT Central: Application > Device file upload)"
	}
	return msg
}

// Unwrap makes a 401 match ErrNotAuthorized.
func (e *HubError) Unwrap() error {
	if e.Status == http.StatusUnauthorized {
		return ErrNotAuthorized
	}
	return nil
}

// FileUpload is the device side of IoT Hub file upload. Its methods are safe for concurrent use.
type FileUpload struct {
	base     string // https://host[:port]
	path     string // /devices/{id}
	resource string // SAS resource URI, as for MQTT
	key      string
	keyName  string
	lifetime time.Duration
	server   string // TLS server name of the hub
	caFile   string

	mu    sync.Mutex
	caPEM []byte // CAFile's content the clients trust
	hub   *http.Client
	blob  *http.Client
}

// NewFileUpload makes a file-upload client from the same options as Dial (Host, Gateway,
// DeviceID, Key, KeyName, CAFile, TokenLifetime). The hub is reached at https://{Host} (port 443
// unless Host carries one: the local emulator serves HTTPS on its MQTT port).
func NewFileUpload(opts Options) (*FileUpload, error) {
	if opts.DeviceID == "" {
		return nil, errors.New("iothub: device ID is empty")
	}
	if opts.ModuleID != "" {
		return nil, errors.New("iothub: file upload is for devices, not modules")
	}
	if _, err := decodeKey(opts.Key); err != nil {
		return nil, fmt.Errorf("iothub: device key: %w", err)
	}
	if opts.Host == "" {
		return nil, errors.New("iothub: hub host name is empty")
	}
	dial := opts.Host
	if opts.Gateway != "" {
		dial = opts.Gateway
	}
	host, _, err := net.SplitHostPort(dial)
	if err != nil {
		host = dial
	}
	lifetime := opts.TokenLifetime
	if lifetime <= 0 {
		lifetime = defaultTokenLifetime
	}
	f := &FileUpload{
		base:     "https://" + dial,
		path:     "/devices/" + url.PathEscape(opts.DeviceID),
		resource: opts.Host + "/devices/" + opts.DeviceID,
		key:      opts.Key,
		keyName:  opts.KeyName,
		lifetime: lifetime,
		server:   host,
		caFile:   opts.CAFile,
	}
	var pem []byte
	if f.caFile != "" {
		pem, _ = os.ReadFile(f.caFile) // tlsConfig reports a read error
	}
	if err := f.setClients(pem); err != nil {
		return nil, fmt.Errorf("iothub: %w", err)
	}
	return f, nil
}

// setClients builds the HTTP clients trusting the system roots plus CAFile (read now).
func (f *FileUpload) setClients(pem []byte) error {
	hubTLS, err := tlsConfig(f.server, f.caFile)
	if err != nil {
		return err
	}
	blobTLS := hubTLS.Clone()
	blobTLS.ServerName = "" // storage is another host: verify against the URL's
	f.caPEM = pem
	f.hub = &http.Client{Transport: newTransport(hubTLS), Timeout: fileUploadTimeout}
	f.blob = &http.Client{Transport: newTransport(blobTLS)}
	return nil
}

// clients returns the HTTP clients, rebuilt when CAFile changed (the emulator renews its
// short-lived CA at restart; the MQTT client reads it again at every connect too).
func (f *FileUpload) clients() (hub, blob *http.Client) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.caFile != "" {
		if pem, err := os.ReadFile(f.caFile); err == nil && !bytes.Equal(pem, f.caPEM) {
			_ = f.setClients(pem) // on error the clients trusting the previous CA stay
		}
	}
	return f.hub, f.blob
}

func newTransport(tc *tls.Config) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = tc
	t.ForceAttemptHTTP2 = false // HTTP/1.1, as the device SDKs speak to the hub and storage
	t.Proxy = nil
	return t
}

// BlobHTTPClient is an HTTP client for the storage PUT that trusts the same CAs as the hub
// connection (the system roots plus CAFile).
func (f *FileUpload) BlobHTTPClient() *http.Client {
	_, blob := f.clients()
	return blob
}

// RequestSAS asks the hub for a SAS URI to upload blobName (IoT Hub stores it as
// {deviceId}/{blobName} in the container linked to the hub).
func (f *FileUpload) RequestSAS(ctx context.Context, blobName string) (BlobSAS, error) {
	const op = "request a blob SAS URI"
	body, err := json.Marshal(struct {
		BlobName string `json:"blobName"`
	}{blobName})
	if err != nil {
		return BlobSAS{}, err
	}
	resp, err := f.post(ctx, op, f.path+"/files", body)
	if err != nil {
		return BlobSAS{}, err
	}
	var sas BlobSAS
	if err := json.Unmarshal(resp, &sas); err != nil {
		return BlobSAS{}, fmt.Errorf("iothub: %s: unreadable answer: %v", op, err)
	}
	if sas.CorrelationID == "" || sas.HostName == "" || sas.ContainerName == "" || sas.BlobName == "" || sas.SASToken == "" {
		return BlobSAS{}, fmt.Errorf("iothub: %s: the answer lacks correlationId, hostName, containerName, blobName or sasToken", op)
	}
	return sas, nil
}

// Notify tells the hub the outcome of the upload started by RequestSAS, success or failure, so
// it can release the correlation ID (and, on success, notify the back end).
func (f *FileUpload) Notify(ctx context.Context, o UploadOutcome) error {
	body, err := json.Marshal(o)
	if err != nil {
		return err
	}
	_, err = f.post(ctx, "notify the upload outcome", f.path+"/files/notifications", body)
	return err
}

func (f *FileUpload) post(ctx context.Context, op, path string, body []byte) ([]byte, error) {
	tok, err := SASToken(f.resource, f.key, f.keyName, time.Now().Add(f.lifetime))
	if err != nil {
		return nil, fmt.Errorf("iothub: %s: %w", op, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.base+path+"?api-version="+apiVersion, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("iothub: %s: %w", op, err)
	}
	req.Header.Set("Authorization", tok)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Accept", "application/json")
	hub, _ := f.clients()
	resp, err := hub.Do(req)
	if err != nil {
		return nil, fmt.Errorf("iothub: %s: %w", op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("iothub: %s: reading the answer: %w", op, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("iothub: %w", &HubError{Op: op, Status: resp.StatusCode, Body: hubMessage(data)})
	}
	return data, nil
}

// hubMessage extracts the readable part of an IoT Hub error body ({"Message":"...", ...}).
func hubMessage(b []byte) string {
	var m struct {
		Message          string
		ExceptionMessage string
	}
	if json.Unmarshal(b, &m) == nil && m.Message != "" {
		if m.ExceptionMessage != "" {
			return m.Message + " " + m.ExceptionMessage
		}
		return m.Message
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// FileUpload returns a file-upload client with this client's identity and CAs. Each call makes
// a new one (with its own connections): keep it for as long as the client.
func (c *Client) FileUpload() (*FileUpload, error) { return NewFileUpload(c.opts) }
