package emulator

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// hubUsername is the parsed MQTT username of an IoT Hub device connection:
// {host}/{deviceId}/?api-version=...&model-id=..., or {host}/{deviceId}/{moduleId}/?... for a
// module.
type hubUsername struct {
	host, deviceID, moduleID, apiVersion, modelID string
}

// identity is the client ID the username calls for.
func (u hubUsername) identity() string { return identity(u.deviceID, u.moduleID) }

// resource is the SAS resource URI of the identity.
func (u hubUsername) resource() string {
	r := u.host + "/devices/" + u.deviceID
	if u.moduleID != "" {
		r += "/modules/" + u.moduleID
	}
	return r
}

func parseHubUsername(s string) (hubUsername, error) {
	host, rest, ok := strings.Cut(s, "/")
	if !ok || host == "" {
		return hubUsername{}, errors.New("username is not {hubHost}/{deviceId}/?api-version=...")
	}
	dev, query, _ := strings.Cut(rest, "/")
	if dev == "" {
		return hubUsername{}, errors.New("username has no device id")
	}
	var mod string
	if !strings.HasPrefix(query, "?") {
		mod, query, _ = strings.Cut(query, "/")
		if mod == "" || !strings.HasPrefix(query, "?") {
			return hubUsername{}, errors.New("username is not {hubHost}/{deviceId}[/{moduleId}]/?api-version=...")
		}
	}
	// The Node SDK does not encode the model ID (its ';' would trip url.ParseQuery).
	q, err := parseBag(query)
	if err != nil {
		return hubUsername{}, fmt.Errorf("username query: %w", err)
	}
	return hubUsername{host: host, deviceID: dev, moduleID: mod, apiVersion: q["api-version"], modelID: q["model-id"]}, nil
}

// dpsUsername is the parsed MQTT username of a DPS connection:
// {idScope}/registrations/{registrationId}/api-version=...
type dpsUsername struct {
	idScope, registrationID, apiVersion string
}

func parseDPSUsername(s string) (dpsUsername, error) {
	parts := strings.SplitN(s, "/", 4)
	if len(parts) != 4 || parts[1] != "registrations" || parts[0] == "" || parts[2] == "" {
		return dpsUsername{}, errors.New("username is not {idScope}/registrations/{registrationId}/api-version=...")
	}
	q, err := parseBag(parts[3])
	if err != nil {
		return dpsUsername{}, fmt.Errorf("username query: %w", err)
	}
	return dpsUsername{idScope: parts[0], registrationID: parts[2], apiVersion: q["api-version"]}, nil
}

// sasToken is a parsed "SharedAccessSignature sr=..&sig=..&se=..[&skn=..]".
type sasToken struct {
	resource, signature, keyName string
	expiry                       time.Time
	se                           int64
}

func parseSASToken(s string) (sasToken, error) {
	const prefix = "SharedAccessSignature "
	if !strings.HasPrefix(s, prefix) {
		return sasToken{}, errors.New("password is not a SharedAccessSignature token")
	}
	q, err := url.ParseQuery(strings.TrimPrefix(s, prefix))
	if err != nil {
		return sasToken{}, fmt.Errorf("SAS token: %w", err)
	}
	for _, k := range []string{"sr", "sig", "se"} {
		if q.Get(k) == "" {
			return sasToken{}, fmt.Errorf("SAS token has no %s", k)
		}
	}
	se, err := strconv.ParseInt(q.Get("se"), 10, 64)
	if err != nil {
		return sasToken{}, errors.New("SAS token se is not a unix time in seconds")
	}
	return sasToken{resource: q.Get("sr"), signature: q.Get("sig"), keyName: q.Get("skn"), se: se, expiry: time.Unix(se, 0)}, nil
}

// verify checks the token against the expected resource URI, key name and any of the keys.
//
// The services accept a signature over the resource URI either URL-encoded (the C, Python and
// .NET SDKs, and the Node SDK's hub tokens) or as is (the Node SDK's DPS tokens, whose sr is
// not encoded either), so both strings to sign are tried. The check is the emulator's own, not
// a call into the client code it tests.
func (t sasToken) verify(resource, keyName string, now time.Time, keys ...string) error {
	if !strings.EqualFold(t.resource, resource) {
		return fmt.Errorf("SAS token sr %q, want %q", t.resource, resource)
	}
	if t.keyName != keyName {
		if keyName == "" {
			return fmt.Errorf("SAS token has skn=%q but a device key token has no skn", t.keyName)
		}
		return fmt.Errorf("SAS token skn %q, want %q", t.keyName, keyName)
	}
	if !now.Before(t.expiry) {
		return fmt.Errorf("SAS token expired at %s", t.expiry.UTC().Format(time.RFC3339))
	}
	sig, err := base64.StdEncoding.DecodeString(t.signature)
	if err != nil {
		return errors.New("SAS token sig is not base64")
	}
	se := "\n" + strconv.FormatInt(t.se, 10)
	signed := []string{percentEncode(t.resource) + se, url.QueryEscape(t.resource) + se, t.resource + se}
	for _, k := range keys {
		key, err := base64.StdEncoding.DecodeString(k)
		if k == "" || err != nil {
			continue
		}
		for _, s := range signed {
			if hmac.Equal(hmacSHA256(key, s), sig) {
				return nil
			}
		}
	}
	return errors.New("SAS token signature does not match the key")
}

func hmacSHA256(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// percentEncode encodes everything but RFC 3986 unreserved characters, as JavaScript's strict
// encodeURIComponent and the C SDK's URL encoder do.
func percentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// deriveDeviceKey is DPS's group enrollment key derivation:
// base64(HMAC-SHA256(base64dec(groupKey), registrationID)).
func deriveDeviceKey(groupKey, registrationID string) (string, error) {
	k, err := base64.StdEncoding.DecodeString(groupKey)
	if err != nil || len(k) == 0 {
		return "", errors.New("group enrollment key is not base64")
	}
	return base64.StdEncoding.EncodeToString(hmacSHA256(k, registrationID)), nil
}
