package onvif

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"time"
)

// Request is a parsed SOAP request, as a camera (or the test camera) sees it.
type Request struct {
	// Operation is the local name of the body's element, e.g. GetProfiles.
	Operation string
	// Token is the WS-Security UsernameToken of the header, nil without one.
	Token *UsernameToken
	// ProfileToken is the operation's ProfileToken argument, if any.
	ProfileToken string
}

type requestEnvelope struct {
	Header struct {
		Token *struct {
			Username string `xml:"Username"`
			Password string `xml:"Password"`
			Nonce    string `xml:"Nonce"`
			Created  string `xml:"Created"`
		} `xml:"Security>UsernameToken"`
	} `xml:"Header"`
	Body struct {
		Inner []byte `xml:",innerxml"`
	} `xml:"Body"`
}

// ParseRequest parses a SOAP request envelope.
func ParseRequest(data []byte) (*Request, error) {
	if len(data) > maxResponseBytes {
		return nil, fmt.Errorf("request of %d bytes", len(data))
	}
	var env requestEnvelope
	if err := unmarshalLenient(data, &env); err != nil {
		return nil, fmt.Errorf("not a SOAP envelope: %w", err)
	}
	r := &Request{}
	if t := env.Header.Token; t != nil {
		r.Token = &UsernameToken{Username: clip(t.Username), Digest: clip(t.Password), Nonce: clip(t.Nonce), Created: clip(t.Created)}
	}
	d := xml.NewDecoder(bytes.NewReader(env.Body.Inner))
	d.Strict = false
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, errors.New("empty SOAP body")
		}
		if se, ok := tok.(xml.StartElement); ok {
			r.Operation = se.Name.Local
			var args struct {
				ProfileToken string `xml:"ProfileToken"`
			}
			if err := d.DecodeElement(&args, &se); err == nil {
				r.ProfileToken = clip(args.ProfileToken)
			}
			return r, nil
		}
	}
}

// Verify checks the token against the user's password: the digest, and Created within skew of
// now (the camera's clock). The error says which failed, never the password.
func (t *UsernameToken) Verify(username, password string, now time.Time, skew time.Duration) error {
	if t.Username != username {
		return fmt.Errorf("unknown user %q", t.Username)
	}
	nonce, err := base64.StdEncoding.DecodeString(t.Nonce)
	if err != nil {
		return fmt.Errorf("nonce is not base64: %w", err)
	}
	want := PasswordDigest(nonce, t.Created, password)
	if subtle.ConstantTimeCompare([]byte(want), []byte(t.Digest)) != 1 {
		return errors.New("wrong password digest")
	}
	created, err := time.Parse(time.RFC3339Nano, t.Created)
	if err != nil {
		return fmt.Errorf("created %q: %w", t.Created, err)
	}
	if d := now.Sub(created); d > skew || d < -skew {
		return fmt.Errorf("created %s is %v from the camera's clock %s", t.Created, d.Round(time.Second), now.UTC().Format(time.RFC3339))
	}
	return nil
}
