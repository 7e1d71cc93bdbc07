package emulator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
)

// IoT Hub file upload: the hub's HTTPS endpoints hand out SAS URIs for a blob store (Azurite by
// default) and record the devices' outcome notifications.

// Azurite's documented development account, the default blob store.
const (
	DefaultBlobURL       = "http://127.0.0.1:10000/devstoreaccount1"
	DefaultBlobKey       = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
	DefaultBlobContainer = "edgecam"
)

// FileUploadConfig is the storage linked to the hubs for file upload.
type FileUploadConfig struct {
	// BlobURL is the blob service URL with the account: path style for Azurite
	// (http://127.0.0.1:10000/devstoreaccount1) or https://{account}.blob.core.windows.net.
	// Default DefaultBlobURL.
	BlobURL string
	// BlobKey is the account key (base64); default DefaultBlobKey.
	BlobKey string
	// Container receives the uploads (created when missing); default DefaultBlobContainer.
	Container string
	// SASLifetime is how long a handed-out SAS URI is valid; default 1 h (IoT Hub's default).
	SASLifetime time.Duration
}

// FileUpload is one file upload a device started (a SAS URI handed out) and, once notified, its
// outcome.
type FileUpload struct {
	DeviceID      string
	Hub           string
	BlobName      string // as stored: {deviceId}/{requested name}
	CorrelationID string
	Requested     time.Time
	// Set by the device's notification.
	Notified          bool
	IsSuccess         bool
	StatusCode        int
	StatusDescription string
	NotifiedAt        time.Time
}

var containerRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9]|-[a-z0-9]){2,62}$`)

type fileService struct {
	cfg          FileUploadConfig
	account      string
	hostName     string // the hostName answered to devices
	containerURL string
	cred         *container.SharedKeyCredential

	readyMu sync.Mutex
	ready   bool // the container is known to exist

	// under Emulator.mu
	uploads []FileUpload
	refuse  map[string]int // device ID ("" for all) -> status answered to SAS requests
}

func newFileService(cfg FileUploadConfig) (*fileService, error) {
	if cfg.BlobURL == "" {
		cfg.BlobURL = DefaultBlobURL
	}
	if cfg.BlobKey == "" {
		cfg.BlobKey = DefaultBlobKey
	}
	if cfg.Container == "" {
		cfg.Container = DefaultBlobContainer
	}
	if cfg.SASLifetime <= 0 {
		cfg.SASLifetime = time.Hour
	}
	if !containerRE.MatchString(cfg.Container) {
		return nil, fmt.Errorf("container %q: a blob container name is 3 to 63 lowercase letters, digits and single hyphens, starting with a letter or digit", cfg.Container)
	}
	u, err := url.Parse(strings.TrimSuffix(cfg.BlobURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("blob URL %q: want http(s)://host[:port]/account (Azurite) or https://account.blob.core.windows.net", cfg.BlobURL)
	}
	account := strings.Trim(u.Path, "/")
	if account == "" {
		account, _, _ = strings.Cut(u.Hostname(), ".")
	}
	// Devices build https://{hostName}/{containerName}/{blobName}{sasToken}: for an HTTPS store
	// hostName is the URL without its scheme (with Azurite's account path, the concatenation still
	// holds); for plain HTTP (Azurite's default) it keeps the scheme, which edgecam's client honours.
	hostName := cfg.BlobURL
	if u.Scheme == "https" {
		hostName = u.Host + strings.TrimSuffix(u.Path, "/")
	}
	if strings.Contains(account, "/") {
		return nil, fmt.Errorf("blob URL %q: the path must be the account name only", cfg.BlobURL)
	}
	cred, err := container.NewSharedKeyCredential(account, cfg.BlobKey)
	if err != nil {
		return nil, fmt.Errorf("blob key: %w", err)
	}
	return &fileService{
		cfg: cfg, account: account, hostName: strings.TrimSuffix(hostName, "/"), cred: cred,
		containerURL: strings.TrimSuffix(cfg.BlobURL, "/") + "/" + cfg.Container,
		refuse:       map[string]int{},
	}, nil
}

// ensureContainer creates the container once (again after a failed upload: an in-memory
// Azurite that restarted has forgotten it). A failure is only logged: the device's PUT then
// fails and it tries again later, as with an unreachable storage account.
func (f *fileService) ensureContainer(ctx context.Context) error {
	f.readyMu.Lock()
	defer f.readyMu.Unlock()
	if f.ready {
		return nil
	}
	cl, err := container.NewClientWithSharedKeyCredential(f.containerURL, f.cred, &container.ClientOptions{
		ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{MaxRetries: -1}},
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := cl.Create(ctx, nil); err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
		return err
	}
	f.ready = true
	return nil
}

func (f *fileService) forgetContainer() {
	f.readyMu.Lock()
	f.ready = false
	f.readyMu.Unlock()
}

func (f *fileService) sasToken(blobName string) (string, error) {
	now := time.Now().UTC()
	perms := sas.BlobPermissions{Create: true, Write: true}
	qp, err := sas.BlobSignatureValues{
		Protocol:      sas.ProtocolHTTPSandHTTP,
		StartTime:     now.Add(-5 * time.Minute), // clock skew
		ExpiryTime:    now.Add(f.cfg.SASLifetime),
		Permissions:   perms.String(),
		ContainerName: f.cfg.Container,
		BlobName:      blobName,
	}.SignWithSharedKey(f.cred)
	if err != nil {
		return "", err
	}
	return "?" + qp.Encode(), nil
}

// restAPI is the hub's HTTPS API for devices.
func (h *hub) restAPI() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /devices/{id}/files", h.handleFileSAS)
	mux.HandleFunc("POST /devices/{id}/files/notifications", h.handleFileNotification)
	// The Node SDK puts the correlation ID in the path too.
	mux.HandleFunc("POST /devices/{id}/files/notifications/{cid}", h.handleFileNotification)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		hubError(w, http.StatusNotFound, "NotFound", fmt.Sprintf("%s %s is not an endpoint of this emulator", r.Method, r.URL.Path))
	})
	return mux
}

// hubError answers in IoT Hub's error shape.
func hubError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"Message": "ErrorCode:" + code + ";" + msg, "ExceptionMessage": ""})
}

// authorizeHTTP checks the api-version and the device SAS token of a REST request.
func (h *hub) authorizeHTTP(w http.ResponseWriter, r *http.Request, deviceID string) bool {
	if r.URL.Query().Get("api-version") == "" {
		hubError(w, http.StatusBadRequest, "InvalidProtocolVersion", "api-version is missing")
		return false
	}
	tok, err := parseSASToken(r.Header.Get("Authorization"))
	if err == nil {
		host, dev, ok := strings.Cut(tok.resource, "/devices/")
		switch {
		case !ok || !h.names[host]:
			err = fmt.Errorf("SAS token sr %q is not a device of this hub (%s)", tok.resource, h.host)
		case !strings.EqualFold(dev, deviceID):
			err = fmt.Errorf("SAS token is for device %q, not %q", dev, deviceID)
		default:
			h.e.mu.Lock()
			d := h.e.devices[deviceID]
			var key, key2 string
			hubIndex := -1
			if d != nil {
				key, key2, hubIndex = d.key, d.key2, d.hub
			}
			h.e.mu.Unlock()
			switch {
			case d == nil:
				hubError(w, http.StatusNotFound, "DeviceNotFound", fmt.Sprintf("device %q is not registered", deviceID))
				return false
			case hubIndex != h.index:
				err = fmt.Errorf("device %q belongs to hub %s, not %s", deviceID, h.e.hubs[hubIndex].host, h.host)
			default:
				err = tok.verify(tok.resource, "", time.Now(), key, key2)
			}
		}
	}
	if err != nil {
		h.e.refuse(h.host, deviceID, r.Method+" "+r.URL.Path, err)
		hubError(w, http.StatusUnauthorized, "IotHubUnauthorizedAccess", "Unauthorized: "+err.Error())
		return false
	}
	return true
}

func (h *hub) handleFileSAS(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !h.authorizeHTTP(w, r, id) {
		return
	}
	f := h.e.files
	var req struct {
		BlobName string `json:"blobName"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil || req.BlobName == "" {
		hubError(w, http.StatusBadRequest, "ArgumentInvalid", "the body must be {\"blobName\": \"...\"}")
		return
	}
	h.e.mu.Lock()
	status, refused := f.refuse[id]
	if !refused {
		status, refused = f.refuse[""]
	}
	h.e.mu.Unlock()
	if refused {
		h.e.log.Info("file upload refused on request", "device", id, "status", status)
		hubError(w, status, "FileUploadRefused", "the emulator was told to refuse file uploads")
		return
	}
	if err := f.ensureContainer(r.Context()); err != nil {
		h.e.log.Warn("cannot create the blob container; handing out the SAS URI anyway", "container", f.containerURL, "err", err)
	}
	blobName := id + "/" + req.BlobName
	tok, err := f.sasToken(blobName)
	if err != nil {
		hubError(w, http.StatusInternalServerError, "ServerError", "signing the SAS: "+err.Error())
		return
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	up := FileUpload{DeviceID: id, Hub: h.host, BlobName: blobName, CorrelationID: hex.EncodeToString(b[:]), Requested: time.Now()}
	h.e.mu.Lock()
	f.uploads = append(f.uploads, up)
	h.e.broadcastLocked()
	h.e.mu.Unlock()
	h.e.log.Info("file upload started", "device", id, "blob", blobName, "correlationId", up.CorrelationID)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(map[string]string{
		"correlationId": up.CorrelationID,
		"hostName":      f.hostName,
		"containerName": f.cfg.Container,
		"blobName":      blobName,
		"sasToken":      tok,
	})
}

func (h *hub) handleFileNotification(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !h.authorizeHTTP(w, r, id) {
		return
	}
	var n struct {
		CorrelationID     string `json:"correlationId"`
		IsSuccess         *bool  `json:"isSuccess"`
		StatusCode        int    `json:"statusCode"`
		StatusDescription string `json:"statusDescription"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&n); err != nil || n.IsSuccess == nil {
		hubError(w, http.StatusBadRequest, "ArgumentInvalid", "the body must be {\"correlationId\", \"isSuccess\", \"statusCode\", \"statusDescription\"}")
		return
	}
	if cid := r.PathValue("cid"); cid != "" && n.CorrelationID == "" {
		n.CorrelationID = cid
	}
	f := h.e.files
	h.e.mu.Lock()
	found := false
	for i := range f.uploads {
		u := &f.uploads[i]
		if u.CorrelationID == n.CorrelationID && u.DeviceID == id && !u.Notified {
			u.Notified, u.IsSuccess, u.StatusCode, u.StatusDescription, u.NotifiedAt = true, *n.IsSuccess, n.StatusCode, n.StatusDescription, time.Now()
			found = true
			break
		}
	}
	h.e.broadcastLocked()
	h.e.mu.Unlock()
	if !found {
		hubError(w, http.StatusBadRequest, "InvalidCorrelationId", fmt.Sprintf("no pending file upload of device %q has correlation ID %q", id, n.CorrelationID))
		return
	}
	if !*n.IsSuccess {
		f.forgetContainer()
	}
	h.e.log.Info("file upload notified", "device", id, "correlationId", n.CorrelationID, "isSuccess", *n.IsSuccess, "statusCode", n.StatusCode)
	w.WriteHeader(http.StatusNoContent)
}

// FileUploads returns every file upload started so far, oldest first.
func (e *Emulator) FileUploads() []FileUpload {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]FileUpload(nil), e.files.uploads...)
}

// WaitFileUploads waits until at least n file uploads matching filter (nil: all) exist and
// returns every matching one.
func (e *Emulator) WaitFileUploads(ctx context.Context, n int, filter func(FileUpload) bool) ([]FileUpload, error) {
	var out []FileUpload
	err := e.waitFor(ctx, func() bool {
		out = out[:0]
		for _, u := range e.files.uploads {
			if filter == nil || filter(u) {
				out = append(out, u)
			}
		}
		return len(out) >= n
	})
	if err != nil {
		return nil, fmt.Errorf("waiting for %d file uploads (have %d): %w", n, len(out), err)
	}
	return out, nil
}

// RefuseFileUploads makes the hub answer the device's SAS requests with status (deviceID ""
// for every device), as a hub without storage configured does; status 0 stops refusing.
func (e *Emulator) RefuseFileUploads(deviceID string, status int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if status == 0 {
		delete(e.files.refuse, deviceID)
		return
	}
	e.files.refuse[deviceID] = status
}

// BlobContainerURL is the URL of the container that receives file uploads.
func (e *Emulator) BlobContainerURL() string { return e.files.containerURL }

// BlobContainerReadURL is the container's URL with a SAS that lists and reads its blobs for d,
// to look at the uploads: add "&restype=container&comp=list" to list, or put a blob's name after
// the container's path to read it.
func (e *Emulator) BlobContainerReadURL(d time.Duration) (string, error) {
	now := time.Now().UTC()
	perms := sas.ContainerPermissions{Read: true, List: true}
	qp, err := sas.BlobSignatureValues{
		Protocol:      sas.ProtocolHTTPSandHTTP,
		StartTime:     now.Add(-5 * time.Minute),
		ExpiryTime:    now.Add(d),
		Permissions:   perms.String(),
		ContainerName: e.files.cfg.Container,
	}.SignWithSharedKey(e.files.cred)
	if err != nil {
		return "", err
	}
	return e.files.containerURL + "?" + qp.Encode(), nil
}
