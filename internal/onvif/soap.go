package onvif

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/icholy/digest"

	"github.com/edgecam/edgecam/internal/redact"
)

// Namespaces and the security profile of the requests.
const (
	NSDevice = "http://www.onvif.org/ver10/device/wsdl"
	NSMedia  = "http://www.onvif.org/ver10/media/wsdl"
	nsSchema = "http://www.onvif.org/ver10/schema"

	nsWSSE         = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	nsWSU          = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	passwordDigest = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
	base64Binary   = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-soap-message-security-1.0#Base64Binary"
)

// maxResponseBytes caps a SOAP response (a camera's GetProfiles is a few tens of kB).
const maxResponseBytes = 4 << 20

// DefaultRequestTimeout bounds one SOAP request when the Client has no HTTP client of its own.
const DefaultRequestTimeout = 10 * time.Second

// ErrUnauthorized is wrapped by errors that mean the camera refused the credentials.
var ErrUnauthorized = errors.New("the camera refused the username or password")

// Fault is a SOAP fault returned by a camera.
type Fault struct {
	// Code is the fault code (SOAP 1.2 Code/Value or SOAP 1.1 faultcode), e.g. env:Sender.
	Code string
	// Subcodes are the nested Subcode values, e.g. ter:NotAuthorized.
	Subcodes []string
	// Reason is the human-readable text (Reason/Text or faultstring).
	Reason string
	// Detail is the text of the Detail element, if any.
	Detail string
}

func (f *Fault) Error() string {
	var b strings.Builder
	b.WriteString("SOAP fault")
	code := f.Code
	if len(f.Subcodes) > 0 {
		code = f.Subcodes[len(f.Subcodes)-1]
		if f.Code != "" {
			code += " (" + f.Code + ")"
		}
	}
	if code != "" {
		b.WriteString(" " + code)
	}
	if f.Reason != "" {
		b.WriteString(": " + f.Reason)
	}
	if f.Detail != "" && f.Detail != f.Reason {
		b.WriteString(" (" + f.Detail + ")")
	}
	return b.String()
}

// Unauthorized reports whether the fault says the credentials were refused.
func (f *Fault) Unauthorized() bool {
	for _, s := range append([]string{f.Code}, f.Subcodes...) {
		l := strings.ToLower(localName(s))
		switch l {
		case "notauthorized", "failedauthentication", "invalidsecurity", "invalidsecuritytoken", "failedcheck":
			return true
		}
	}
	r := strings.ToLower(f.Reason)
	return strings.Contains(r, "not authorized") || strings.Contains(r, "unauthorized") || strings.Contains(r, "authentication fail")
}

func localName(q string) string {
	if _, l, ok := strings.Cut(q, ":"); ok {
		return l
	}
	return q
}

type faultXML struct {
	Code struct {
		Value   string      `xml:"Value"`
		Subcode *subcodeXML `xml:"Subcode"`
	} `xml:"Code"`
	Reason      []string `xml:"Reason>Text"`
	Detail      innerText
	FaultCode   string    `xml:"faultcode"`
	FaultString string    `xml:"faultstring"`
	DetailOld   innerText `xml:"detail"`
}

type innerText struct {
	Inner string `xml:",innerxml"`
}

type subcodeXML struct {
	Value   string      `xml:"Value"`
	Subcode *subcodeXML `xml:"Subcode"`
}

func (fx *faultXML) fault() *Fault {
	f := &Fault{Code: clip(fx.Code.Value), Detail: clipText(stripTags(fx.Detail.Inner))}
	for s, n := fx.Code.Subcode, 0; s != nil && n < 8; s, n = s.Subcode, n+1 {
		if v := clip(s.Value); v != "" {
			f.Subcodes = append(f.Subcodes, v)
		}
	}
	for _, r := range fx.Reason {
		if r = clipText(r); r != "" {
			f.Reason = r
			break
		}
	}
	if f.Code == "" {
		f.Code = clip(fx.FaultCode)
	}
	if f.Reason == "" {
		f.Reason = clipText(fx.FaultString)
	}
	if f.Detail == "" {
		f.Detail = clipText(stripTags(fx.DetailOld.Inner))
	}
	return f
}

// stripTags keeps the text of an XML fragment.
func stripTags(s string) string {
	var b strings.Builder
	d := xml.NewDecoder(strings.NewReader(s))
	d.Strict = false
	for {
		t, err := d.Token()
		if err != nil {
			break
		}
		if cd, ok := t.(xml.CharData); ok {
			b.Write(cd)
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// clipText collapses white space and bounds a message's length.
func clipText(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

type responseEnvelope struct {
	Body struct {
		Fault *faultXML `xml:"Fault"`
		Inner []byte    `xml:",innerxml"`
	} `xml:"Body"`
}

// ParseResponse parses a SOAP response envelope: a *Fault error when its body is a fault, else
// the body's first element decoded into out (when out is not nil).
func ParseResponse(data []byte, out any) error {
	var env responseEnvelope
	if err := unmarshalLenient(data, &env); err != nil {
		return fmt.Errorf("not a SOAP envelope: %w", err)
	}
	if env.Body.Fault != nil {
		return env.Body.Fault.fault()
	}
	if len(bytes.TrimSpace(env.Body.Inner)) == 0 {
		return errors.New("empty SOAP body")
	}
	if out == nil {
		return nil
	}
	if err := unmarshalLenient(env.Body.Inner, out); err != nil {
		return fmt.Errorf("SOAP body: %w", err)
	}
	return nil
}

// UsernameToken is a WS-Security UsernameToken with a PasswordDigest.
type UsernameToken struct {
	Username string
	// Digest is base64(SHA-1(nonce + created + password)).
	Digest string
	// Nonce is base64 of the random bytes.
	Nonce   string
	Created string
}

// NewUsernameToken returns a token for username and password created at the given time (the
// camera's clock), with a 16-byte nonce from crypto/rand.
func NewUsernameToken(username, password string, created time.Time) UsernameToken {
	var nonce [16]byte
	rand.Read(nonce[:]) // never fails (crypto/rand, Go 1.24+)
	c := created.UTC().Format("2006-01-02T15:04:05.000Z")
	return UsernameToken{
		Username: username,
		Digest:   PasswordDigest(nonce[:], c, password),
		Nonce:    base64.StdEncoding.EncodeToString(nonce[:]),
		Created:  c,
	}
}

// PasswordDigest is base64(SHA-1(nonce + created + password)), the WS-Security
// UsernameToken Profile 1.0 password digest.
func PasswordDigest(nonce []byte, created, password string) string {
	h := sha1.New()
	h.Write(nonce)
	h.Write([]byte(created))
	h.Write([]byte(password))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

func (t UsernameToken) header() string {
	return `<wsse:Security s:mustUnderstand="1" xmlns:wsse="` + nsWSSE + `" xmlns:wsu="` + nsWSU + `">` +
		`<wsse:UsernameToken><wsse:Username>` + xmlEscape(t.Username) + `</wsse:Username>` +
		`<wsse:Password Type="` + passwordDigest + `">` + t.Digest + `</wsse:Password>` +
		`<wsse:Nonce EncodingType="` + base64Binary + `">` + t.Nonce + `</wsse:Nonce>` +
		`<wsu:Created>` + t.Created + `</wsu:Created></wsse:UsernameToken></wsse:Security>`
}

// Envelope returns a SOAP 1.2 request with body (one element, which declares its own
// namespaces) and, when token is not nil, its WS-Security header.
func Envelope(token *UsernameToken, body string) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="` + nsSOAP12 + `"><s:Header>`)
	if token != nil {
		b.WriteString(token.header())
	}
	b.WriteString(`</s:Header><s:Body>` + body + `</s:Body></s:Envelope>`)
	return []byte(b.String())
}

// Client talks to one camera's ONVIF services.
type Client struct {
	// XAddr is the device service URL (from discovery, e.g. http://192.168.1.64/onvif/device_service).
	XAddr string
	// Username and Password authenticate requests; an empty username sends none.
	Username, Password string
	// HTTP sends the requests; nil means a client with DefaultRequestTimeout. HTTP Digest is
	// answered by the client NewClient builds.
	HTTP *http.Client

	// ClockOffset is the camera's clock minus ours, learned by SyncClock; the UsernameToken's
	// Created time is our clock plus this offset, so a camera with a wrong clock still accepts it.
	ClockOffset time.Duration
	// now is time.Now (tests set it).
	now func() time.Time
}

// NewClient returns a client for the device service at xaddr that answers HTTP Digest
// challenges with the same credentials.
func NewClient(xaddr, username, password string) *Client {
	c := &Client{XAddr: xaddr, Username: username, Password: password}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // cameras are on the LAN
	var rt http.RoundTripper = tr
	if username != "" {
		rt = &digest.Transport{Username: username, Password: password, Transport: tr}
	}
	c.HTTP = &http.Client{Timeout: DefaultRequestTimeout, Transport: rt}
	return c
}

func (c *Client) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

// Call posts a SOAP request (body: one element with its namespaces) for action to the service
// at url and decodes the response's first body element into out. Errors name the operation and
// URL and never hold the password; refused credentials wrap ErrUnauthorized.
func (c *Client) Call(ctx context.Context, url, action, body string, out any) error {
	return c.call(ctx, url, action, body, out, c.Username != "")
}

func (c *Client) call(ctx context.Context, url, action, body string, out any, auth bool) error {
	op := action[strings.LastIndexByte(action, '/')+1:]
	var token *UsernameToken
	if auth {
		t := NewUsernameToken(c.Username, c.Password, c.clock().Add(c.ClockOffset))
		token = &t
	}
	err := c.post(ctx, url, action, Envelope(token, body), out)
	if err != nil {
		return c.redact(fmt.Errorf("onvif: %s %s: %w", op, redact.URL(url), err))
	}
	return nil
}

func (c *Client) post(ctx context.Context, url, action string, env []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(env))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", `application/soap+xml; charset=utf-8; action="`+action+`"`)
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: DefaultRequestTimeout}
	}
	resp, err := hc.Do(req)
	if err != nil {
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) {
			// url.Error repeats method and URL, which the caller adds once.
			if inner := ue.Unwrap(); inner != nil {
				err = inner
			}
		}
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return fmt.Errorf("reading the response: %w", err)
	}
	if len(data) > maxResponseBytes {
		return fmt.Errorf("response larger than %d bytes", maxResponseBytes)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		who := "user " + fmt.Sprintf("%q", c.Username)
		if c.Username == "" {
			who = "a request without credentials (give a username)"
		}
		return fmt.Errorf("%w: HTTP 401 for %s: check the username and password", ErrUnauthorized, who)
	}
	perr := ParseResponse(data, out)
	var f *Fault
	if errors.As(perr, &f) {
		if f.Unauthorized() || resp.StatusCode == http.StatusForbidden {
			return fmt.Errorf("%w (user %q): %v: check the username and password, and the camera's clock", ErrUnauthorized, c.Username, f)
		}
		return f
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %s (%q)", resp.Status, snippet(data))
	}
	if perr != nil {
		return fmt.Errorf("%w (%q)", perr, snippet(data))
	}
	return nil
}

// redact takes the password out of an error's text (a camera could echo it).
func (c *Client) redact(err error) error {
	if err == nil || c.Password == "" || !strings.Contains(err.Error(), c.Password) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(err.Error(), c.Password, redact.Mask), err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func snippet(data []byte) string {
	s := strings.Join(strings.Fields(string(data)), " ")
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}
