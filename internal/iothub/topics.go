package iothub

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// MQTT topics of IoT Hub and DPS (see docs/azure-iot-mqtt.md).
const (
	methodsPrefix     = "$iothub/methods/POST/"
	methodsFilter     = "$iothub/methods/POST/#"
	methodsResFormat  = "$iothub/methods/res/%d/?$rid=%s"
	twinResPrefix     = "$iothub/twin/res/"
	twinResFilter     = "$iothub/twin/res/#"
	twinGetFormat     = "$iothub/twin/GET/?$rid=%s"
	twinPatchFormat   = "$iothub/twin/PATCH/properties/reported/?$rid=%s"
	desiredPrefix     = "$iothub/twin/PATCH/properties/desired/"
	desiredFilter     = "$iothub/twin/PATCH/properties/desired/#"
	dpsResPrefix      = "$dps/registrations/res/"
	dpsResFilter      = "$dps/registrations/res/#"
	dpsRegisterFormat = "$dps/registrations/PUT/iotdps-register/?$rid=%s"
	dpsStatusFormat   = "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=%s&operationId=%s"
)

// errBadTopic is wrapped by every topic parse error.
var errBadTopic = errors.New("unexpected topic")

// encodeBagComponent URL-encodes a property-bag key or value: everything but RFC 3986 unreserved
// characters is percent-encoded (spaces as %20, never '+').
func encodeBagComponent(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// messageID is a telemetry message's IoT Hub message-id ($.mid): 32 hex digits of a SHA-256 of
// its property bag (content type, capture time, properties) and its body. A message delivered
// twice (the hub recorded it but its PUBACK was lost, so the spool sent it again) carries the
// same ID both times, and a consumer (Stream Analytics, a Function) can drop the repeat by it;
// two messages that differ in body, capture time or a property never share one.
func messageID(bag string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(bag))
	h.Write([]byte{0})
	h.Write(body)
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}

// telemetryBag builds the property bag of a telemetry message: content type and encoding for
// JSON, the creation time (UTC, RFC 3339 with milliseconds) and the caller's properties (sorted
// by name, URL-encoded). Names starting with '$' or "iothub-" are reserved by the hub.
func telemetryBag(created time.Time, props map[string]string) (string, error) {
	var b strings.Builder
	b.WriteString("$.ct=application%2Fjson&$.ce=utf-8")
	if !created.IsZero() {
		b.WriteString("&iothub-creation-time-utc=")
		b.WriteString(encodeBagComponent(created.UTC().Format("2006-01-02T15:04:05.000Z07:00")))
	}
	names := make([]string, 0, len(props))
	for k := range props {
		if k == "" {
			return "", errors.New("telemetry property with an empty name")
		}
		if strings.HasPrefix(k, "$") || strings.HasPrefix(strings.ToLower(k), "iothub-") {
			return "", fmt.Errorf("telemetry property %q: names starting with '$' or 'iothub-' are reserved by IoT Hub", k)
		}
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		b.WriteByte('&')
		b.WriteString(encodeBagComponent(k))
		b.WriteByte('=')
		b.WriteString(encodeBagComponent(props[k]))
	}
	return b.String(), nil
}

// parseBag decodes a URL-encoded property bag "k=v&k2=v2" (an optional leading '?' is skipped).
// A name without '=' has an empty value. Only percent-escapes are decoded: a '+' stays a '+'
// (the hub and the SDKs encode a space as %20, and a literal '+' may come unencoded).
func parseBag(s string) (map[string]string, error) {
	s = strings.TrimPrefix(s, "?")
	m := map[string]string{}
	if s == "" {
		return m, nil
	}
	for _, kv := range strings.Split(s, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		dk, err := url.PathUnescape(k)
		if err != nil {
			return nil, fmt.Errorf("property bag: name %q: %w", k, err)
		}
		dv, err := url.PathUnescape(v)
		if err != nil {
			return nil, fmt.Errorf("property bag: value of %q: %w", dk, err)
		}
		m[dk] = dv
	}
	return m, nil
}

// splitTopic cuts prefix off topic and splits the rest at "/?" into a path and a decoded query.
func splitTopic(topic, prefix string) (path string, query map[string]string, err error) {
	rest, ok := strings.CutPrefix(topic, prefix)
	if !ok {
		return "", nil, fmt.Errorf("%w %q (want %s...)", errBadTopic, topic, prefix)
	}
	path, q, _ := strings.Cut(rest, "?")
	path = strings.TrimSuffix(path, "/")
	query, err = parseBag(q)
	if err != nil {
		return "", nil, fmt.Errorf("%w %q: %v", errBadTopic, topic, err)
	}
	return path, query, nil
}

// methodRequest is a direct-method call: $iothub/methods/POST/{name}/?$rid={rid}.
type methodRequest struct {
	name, rid string
}

func parseMethodTopic(topic string) (methodRequest, error) {
	path, q, err := splitTopic(topic, methodsPrefix)
	if err != nil {
		return methodRequest{}, err
	}
	if path == "" || strings.Contains(path, "/") {
		return methodRequest{}, fmt.Errorf("%w %q: no method name", errBadTopic, topic)
	}
	name, err := url.PathUnescape(path)
	if err != nil {
		return methodRequest{}, fmt.Errorf("%w %q: %v", errBadTopic, topic, err)
	}
	rid := q["$rid"]
	if rid == "" {
		return methodRequest{}, fmt.Errorf("%w %q: no $rid", errBadTopic, topic)
	}
	return methodRequest{name: name, rid: rid}, nil
}

// response is a status-carrying reply: $iothub/twin/res/{status}/?$rid=..&$version=.. or
// $dps/registrations/res/{status}/?$rid=..&retry-after=..
type response struct {
	status     int
	rid        string
	version    int64         // $version of a twin PATCH reply, 0 if absent
	retryAfter time.Duration // retry-after of a DPS reply, 0 if absent
	body       []byte
}

func parseResponseTopic(topic, prefix string) (response, error) {
	path, q, err := splitTopic(topic, prefix)
	if err != nil {
		return response{}, err
	}
	status, err := strconv.Atoi(path)
	if err != nil || status < 100 || status > 999 {
		return response{}, fmt.Errorf("%w %q: status %q is not a number", errBadTopic, topic, path)
	}
	r := response{status: status, rid: q["$rid"]}
	if r.rid == "" {
		return response{}, fmt.Errorf("%w %q: no $rid", errBadTopic, topic)
	}
	if v, ok := q["$version"]; ok {
		if r.version, err = strconv.ParseInt(v, 10, 64); err != nil {
			return response{}, fmt.Errorf("%w %q: $version %q is not a number", errBadTopic, topic, v)
		}
	}
	if v, ok := q["retry-after"]; ok {
		secs, err := strconv.Atoi(v)
		if err != nil || secs < 0 {
			return response{}, fmt.Errorf("%w %q: retry-after %q is not a number of seconds", errBadTopic, topic, v)
		}
		r.retryAfter = time.Duration(min(secs, 3600)) * time.Second
	}
	return r, nil
}

// parseDesiredTopic returns the twin version of $iothub/twin/PATCH/properties/desired/?$version={v}.
func parseDesiredTopic(topic string) (int64, error) {
	path, q, err := splitTopic(topic, desiredPrefix)
	if err != nil {
		return 0, err
	}
	if path != "" {
		return 0, fmt.Errorf("%w %q", errBadTopic, topic)
	}
	v, err := strconv.ParseInt(q["$version"], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w %q: $version %q is not a number", errBadTopic, topic, q["$version"])
	}
	return v, nil
}

// parseC2DTopic returns the properties of devices/{id}/messages/devicebound/{bag}.
func parseC2DTopic(topic, deviceID string) (map[string]string, error) {
	prefix := "devices/" + deviceID + "/messages/devicebound/"
	rest, ok := strings.CutPrefix(topic, prefix)
	if !ok {
		return nil, fmt.Errorf("%w %q (want %s...)", errBadTopic, topic, prefix)
	}
	props, err := parseBag(rest)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", errBadTopic, topic, err)
	}
	return props, nil
}
