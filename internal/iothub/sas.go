package iothub

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// SASToken builds a shared access signature for resourceURI (for example
// "myhub.azure-devices.net/devices/cam1" or "0ne00000000/registrations/cam1") signed with the
// base64 key, valid until expiry. keyName is the policy name (skn), empty for a device key.
// Errors never contain the key.
func SASToken(resourceURI, key, keyName string, expiry time.Time) (string, error) {
	sig, err := Sign(resourceURI, key, expiry.Unix())
	if err != nil {
		return "", err
	}
	sr := url.QueryEscape(resourceURI)
	tok := "SharedAccessSignature sr=" + sr + "&sig=" + url.QueryEscape(sig) + "&se=" + strconv.FormatInt(expiry.Unix(), 10)
	if keyName != "" {
		tok += "&skn=" + url.QueryEscape(keyName)
	}
	return tok, nil
}

// Sign returns base64(HMAC-SHA256(base64dec(key), urlenc(resourceURI) + "\n" + se)).
func Sign(resourceURI, key string, se int64) (string, error) {
	k, err := decodeKey(key)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, k)
	mac.Write([]byte(url.QueryEscape(resourceURI) + "\n" + strconv.FormatInt(se, 10)))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// DeriveDeviceKey computes a device's symmetric key from a DPS group enrollment key:
// base64(HMAC-SHA256(base64dec(groupKey), registrationID)).
func DeriveDeviceKey(groupKey, registrationID string) (string, error) {
	k, err := decodeKey(groupKey)
	if err != nil {
		return "", fmt.Errorf("group enrollment key: %w", err)
	}
	mac := hmac.New(sha256.New, k)
	mac.Write([]byte(registrationID))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// ErrKeyNotBase64 is returned for a key that is not valid base64 (the key itself is never shown).
var ErrKeyNotBase64 = errors.New("key is not valid base64 (copy the primary or secondary key exactly as the Azure portal shows it)")

func decodeKey(key string) ([]byte, error) {
	if key == "" {
		return nil, errors.New("key is empty")
	}
	k, err := base64.StdEncoding.DecodeString(key)
	if err != nil || len(k) == 0 {
		return nil, ErrKeyNotBase64
	}
	return k, nil
}
