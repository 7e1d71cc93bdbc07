package emulator

import (
	"crypto/hmac"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/edgecam/edgecam/internal/iothub"
)

// hubUsername is the parsed MQTT username of an IoT Hub device connection:
// {host}/{deviceId}/?api-version=...&model-id=...
type hubUsername struct {
	host, deviceID, apiVersion, modelID string
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
	if strings.Contains(query, "/") {
		return hubUsername{}, errors.New("username has extra path segments (modules are not supported)")
	}
	q, err := url.ParseQuery(strings.TrimPrefix(query, "?"))
	if err != nil {
		return hubUsername{}, fmt.Errorf("username query: %w", err)
	}
	return hubUsername{host: host, deviceID: dev, apiVersion: q.Get("api-version"), modelID: q.Get("model-id")}, nil
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
	q, err := url.ParseQuery(strings.TrimPrefix(parts[3], "?"))
	if err != nil {
		return dpsUsername{}, fmt.Errorf("username query: %w", err)
	}
	return dpsUsername{idScope: parts[0], registrationID: parts[2], apiVersion: q.Get("api-version")}, nil
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
	for _, k := range keys {
		if k == "" {
			continue
		}
		want, err := iothub.Sign(t.resource, k, t.se)
		if err != nil {
			continue
		}
		if hmac.Equal([]byte(want), []byte(t.signature)) {
			return nil
		}
	}
	return errors.New("SAS token signature does not match the key")
}
