package emulator

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ServicePolicy is the shared access policy name of the emulator's service connection string.
const ServicePolicy = "iothubowner"

// maxServiceBody bounds a service API request body (a C2D message is at most 64 KB in IoT Hub;
// twins and method payloads are smaller still).
const maxServiceBody = 256 * 1024

// ServiceConfig describes the HTTPS endpoint of the IoT Hub service API.
type ServiceConfig struct {
	// Listen is the TCP address; default "127.0.0.1:0".
	Listen string
	// Host is the host name clients use (without port); default as for hubs.
	Host string
	// Key is the base64 key of the iothubowner policy; empty generates a random one.
	Key string
}

// service is the HTTPS listener of the IoT Hub service REST API (twins, direct methods) and of
// the emulator's cloud-to-device endpoint. Other parts of the emulator mount their handlers on
// its mux with Handle.
type service struct {
	host string
	key  string
	mux  *http.ServeMux
	srv  *http.Server
	ln   net.Listener
}

func startService(e *Emulator, tlsCfg *tls.Config) (*service, error) {
	listen := e.cfg.Service.Listen
	if listen == "" {
		listen = DefaultListen
	}
	key := e.cfg.Service.Key
	if key == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("emulator: service key: %w", err)
		}
		key = base64.StdEncoding.EncodeToString(b)
	} else if _, err := base64.StdEncoding.DecodeString(key); err != nil {
		return nil, errors.New("emulator: the service key is not base64")
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("emulator: service API: listen on %s: %w (choose another port or stop the program using it)", listen, err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	s := &service{host: net.JoinHostPort(hostOf(listen, e.cfg.Service.Host), port), key: key, mux: http.NewServeMux(), ln: ln}
	s.srv = &http.Server{
		Handler:           s.mux,
		TLSConfig:         tlsCfg.Clone(), // ServeTLS adds "h2" to it: keep it off the hubs' shared config
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          nil,
	}
	e.routeService(s)
	go func() {
		if err := s.srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.log.Warn("service API stopped", "err", err)
		}
	}()
	return s, nil
}

// ServiceHost is the host name ("host:port") of the HTTPS service API.
func (e *Emulator) ServiceHost() string { return e.svc.host }

// ServiceConnectionString is the IoT Hub service connection string (iothubowner policy) of the
// HTTPS service API, for azure-iothub and other service SDKs.
func (e *Emulator) ServiceConnectionString() string {
	return "HostName=" + e.svc.host + ";SharedAccessKeyName=" + ServicePolicy + ";SharedAccessKey=" + e.svc.key
}

// ServiceToken returns a service SAS token ("SharedAccessSignature sr=..&sig=..&se=..&skn=
// iothubowner") for the Authorization header of service API requests, valid for d.
func (e *Emulator) ServiceToken(d time.Duration) (string, error) {
	key, err := base64.StdEncoding.DecodeString(e.svc.key)
	if err != nil {
		return "", err
	}
	se := strconv.FormatInt(time.Now().Add(d).Unix(), 10)
	sig := base64.StdEncoding.EncodeToString(hmacSHA256(key, percentEncode(e.svc.host)+"\n"+se))
	return "SharedAccessSignature sr=" + percentEncode(e.svc.host) + "&sig=" + percentEncode(sig) + "&se=" + se + "&skn=" + ServicePolicy, nil
}

// Handle mounts h on the HTTPS listener of the service API for pattern (an http.ServeMux
// pattern such as "POST /devices/{id}/files"). Handlers authenticate their callers themselves,
// with AuthorizeService or AuthorizeDevice.
func (e *Emulator) Handle(pattern string, h http.Handler) { e.svc.mux.Handle(pattern, h) }

// AuthorizeService checks a request's service token: "Authorization: SharedAccessSignature
// sr={host}&sig=..&se=..&skn=iothubowner" signed with the policy key, sr being the service host
// or a hub host name.
func (e *Emulator) AuthorizeService(r *http.Request) error {
	tok, err := parseSASToken(r.Header.Get("Authorization"))
	if err != nil {
		return err
	}
	resource := e.svc.host
	for _, h := range e.HubHosts() {
		if strings.EqualFold(tok.resource, h) {
			resource = h
		}
	}
	return tok.verify(resource, ServicePolicy, time.Now(), e.svc.key)
}

// AuthorizeDevice checks a request's device token (sr={hub}/devices/{id}, or .../modules/{m})
// against the device's keys and returns the identity ("id" or "id/module").
func (e *Emulator) AuthorizeDevice(r *http.Request) (string, error) {
	tok, err := parseSASToken(r.Header.Get("Authorization"))
	if err != nil {
		return "", err
	}
	_, rest, ok := strings.Cut(tok.resource, "/devices/")
	if !ok || rest == "" {
		return "", fmt.Errorf("SAS token sr %q names no device", tok.resource)
	}
	id := rest
	if dev, mod, ok := strings.Cut(rest, "/modules/"); ok {
		id = identity(dev, mod)
	}
	e.mu.Lock()
	d := e.devices[id]
	var key, key2, host string
	if d != nil {
		key, key2, host = d.key, d.key2, e.hubs[d.hub].host
	}
	e.mu.Unlock()
	if d == nil {
		return "", fmt.Errorf("%w %q", ErrUnknownDevice, id)
	}
	return id, tok.verify(host+"/devices/"+strings.Replace(id, "/", "/modules/", 1), "", time.Now(), key, key2)
}

// serviceError writes an IoT Hub style error body.
func serviceError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("iothub-errorcode", strconv.Itoa(code))
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"errorCode": code, "message": msg, "trackingId": "emulator", "timestampUtc": time.Now().UTC().Format(time.RFC3339Nano)})
	w.Write(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		serviceError(w, http.StatusInternalServerError, 500000, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

// authorized wraps a service API handler with the policy token check.
func (e *Emulator) authorized(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := e.AuthorizeService(r); err != nil {
			e.log.Info("service API request refused", "path", r.URL.Path, "reason", err.Error())
			serviceError(w, http.StatusUnauthorized, 401002, "unauthorized: "+err.Error())
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxServiceBody)
		h(w, r)
	})
}

// pathIdentity is the identity a service API path names: {id} or {id}/modules/{module}.
func pathIdentity(r *http.Request) string {
	return identity(r.PathValue("id"), r.PathValue("module"))
}

func (e *Emulator) routeService(s *service) {
	for _, base := range []string{"/twins/{id}", "/twins/{id}/modules/{module}"} {
		s.mux.Handle("GET "+base, e.authorized(e.serveTwinGet))
		s.mux.Handle("PATCH "+base, e.authorized(e.serveTwinUpdate(false)))
		s.mux.Handle("PUT "+base, e.authorized(e.serveTwinUpdate(true)))
		s.mux.Handle("POST "+base+"/methods", e.authorized(e.serveMethod))
	}
	s.mux.Handle("POST /devices/{id}/messages/deviceBound", e.authorized(e.serveC2D))
}

// serviceTwin is a twin in the service API's JSON shape.
func (e *Emulator) serviceTwin(id string) (map[string]any, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.devices[id]
	if d == nil {
		return nil, false
	}
	t := d.twin.snapshot(id)
	state := "Disconnected"
	if d.online() {
		state = "Connected"
	}
	desired, reported := t.Desired, t.Reported
	desired["$version"], reported["$version"] = t.DesiredVersion, t.ReportedVersion
	desired["$metadata"], reported["$metadata"] = map[string]any{}, map[string]any{}
	dev, mod, _ := strings.Cut(id, "/")
	doc := map[string]any{
		"deviceId": dev, "etag": twinETag(t), "version": t.DesiredVersion + t.ReportedVersion,
		"status": "enabled", "connectionState": state, "authenticationType": "sas",
		"tags": t.Tags, "properties": map[string]any{"desired": desired, "reported": reported},
	}
	if mod != "" {
		doc["moduleId"] = mod
	}
	return doc, true
}

func twinETag(t Twin) string {
	return base64.StdEncoding.EncodeToString([]byte(strconv.Itoa(t.DesiredVersion) + "." + strconv.Itoa(t.ReportedVersion)))
}

func (e *Emulator) serveTwinGet(w http.ResponseWriter, r *http.Request) {
	doc, ok := e.serviceTwin(pathIdentity(r))
	if !ok {
		serviceError(w, http.StatusNotFound, 404001, fmt.Sprintf("device %q not found", pathIdentity(r)))
		return
	}
	writeJSON(w, http.StatusOK, doc)
}

// serveTwinUpdate applies a twin patch (PATCH: merged) or replacement (PUT: desired properties
// and tags replaced) from the service side: desired changes reach a connected device as a
// desired-property patch.
func (e *Emulator) serveTwinUpdate(replace bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := pathIdentity(r)
		var body struct {
			Tags       map[string]any `json:"tags"`
			Properties struct {
				Desired map[string]any `json:"desired"`
			} `json:"properties"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			serviceError(w, http.StatusBadRequest, 400004, "twin body is not JSON: "+err.Error())
			return
		}
		desired := body.Properties.Desired
		delete(desired, "$version")
		delete(desired, "$metadata")
		e.mu.Lock()
		d := e.devices[id]
		if d != nil {
			if replace {
				// Properties the replacement drops are deleted (null in the patch sent to the device).
				if desired == nil {
					desired = map[string]any{}
				}
				for k := range d.twin.desired {
					if _, keep := desired[k]; !keep {
						desired[k] = nil
					}
				}
				d.twin.tags = map[string]any{}
			}
			mergePatch(d.twin.tags, deepCopy(body.Tags))
		}
		e.mu.Unlock()
		if d == nil {
			serviceError(w, http.StatusNotFound, 404001, fmt.Sprintf("device %q not found", id))
			return
		}
		if len(desired) > 0 {
			if _, err := e.UpdateDesired(id, desired); err != nil {
				serviceError(w, http.StatusNotFound, 404001, err.Error())
				return
			}
		}
		doc, _ := e.serviceTwin(id)
		writeJSON(w, http.StatusOK, doc)
	}
}

// serveMethod invokes a direct method: {"methodName","payload","responseTimeoutInSeconds",
// "connectTimeoutInSeconds"} -> {"status","payload"}.
func (e *Emulator) serveMethod(w http.ResponseWriter, r *http.Request) {
	id := pathIdentity(r)
	var req struct {
		MethodName      string          `json:"methodName"`
		Payload         json.RawMessage `json:"payload"`
		ResponseTimeout int             `json:"responseTimeoutInSeconds"`
		ConnectTimeout  int             `json:"connectTimeoutInSeconds"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.MethodName == "" {
		serviceError(w, http.StatusBadRequest, 400004, "want {\"methodName\":...,\"payload\":...}")
		return
	}
	respT := time.Duration(req.ResponseTimeout) * time.Second
	if respT <= 0 {
		respT = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(r.Context(), respT+time.Duration(max(req.ConnectTimeout, 0))*time.Second)
	defer cancel()
	if req.ConnectTimeout > 0 {
		// Wait for the device to connect and subscribe, as the hub does with connectTimeout.
		if err := e.WaitSubscribed(ctx, id, "$iothub/methods/POST/"+req.MethodName+"/?$rid=0"); err != nil {
			e.log.Info("direct method: device did not connect in time", "device", id)
		}
	}
	status, body, err := e.InvokeMethod(ctx, id, req.MethodName, req.Payload)
	switch {
	case errors.Is(err, ErrUnknownDevice):
		serviceError(w, http.StatusNotFound, 404001, err.Error())
	case errors.Is(err, ErrDeviceNotConnected), errors.Is(err, ErrNotSubscribed):
		serviceError(w, http.StatusNotFound, 404103, "Timed out waiting for device to connect: "+err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		serviceError(w, http.StatusGatewayTimeout, 504101, "Timed out waiting for the response from device.")
	case err != nil:
		serviceError(w, http.StatusBadRequest, 400000, err.Error())
	default:
		var payload any = json.RawMessage(body)
		if !json.Valid(body) {
			payload = string(body)
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": status, "payload": payload})
	}
}

// serveC2D is the emulator's way to send a cloud-to-device message over HTTPS (IoT Hub itself
// takes them over AMQP only): the body is the message, headers "iothub-app-{name}: value" its
// application properties. 204 when delivered or queued; 409 when the device's clean session
// discards it.
func (e *Emulator) serveC2D(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		serviceError(w, http.StatusRequestEntityTooLarge, 413000, err.Error())
		return
	}
	props := map[string]string{}
	for k, v := range r.Header {
		if name, ok := strings.CutPrefix(strings.ToLower(k), "iothub-app-"); ok && len(v) > 0 {
			props[name] = v[0]
		}
	}
	err = e.SendC2D(r.PathValue("id"), body, props)
	switch {
	case errors.Is(err, ErrUnknownDevice):
		serviceError(w, http.StatusNotFound, 404001, err.Error())
	case errors.Is(err, ErrNotDelivered):
		serviceError(w, http.StatusConflict, 409000, err.Error())
	case err != nil:
		serviceError(w, http.StatusBadRequest, 400000, err.Error())
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}
