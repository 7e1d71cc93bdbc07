// Package onvif finds IP cameras and asks them for their stream and snapshot addresses: a
// WS-Discovery client (Probe and Hello over UDP multicast, 239.255.255.250:3702) and a SOAP
// client for the ONVIF device and media services (GetSystemDateAndTime, GetDeviceInformation,
// GetCapabilities, GetServices, GetProfiles, GetStreamUri, GetSnapshotUri) with WS-UsernameToken
// PasswordDigest authentication and HTTP Digest when the camera asks for it.
//
// Replies are parsed with encoding/xml by local element names, so the namespace prefixes real
// cameras use (SOAP-ENV, s, env, tds, trt, tt, wsdd, d, ...) and their odd declarations do not
// matter. Parsers take untrusted bytes from the LAN: they bound what they keep and never panic.
package onvif

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
)

// Discovery constants (WS-Discovery 2005/04, which ONVIF uses).
const (
	// MulticastAddr is where WS-Discovery probes go and Hello announcements come from.
	MulticastAddr = "239.255.255.250:3702"
	// TypeNetworkVideoTransmitter is the ONVIF device type of a camera.
	TypeNetworkVideoTransmitter = "NetworkVideoTransmitter"

	nsSOAP12    = "http://www.w3.org/2003/05/soap-envelope"
	nsAddr      = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
	nsDiscovery = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
	nsNetwork   = "http://www.onvif.org/ver10/network/wsdl"

	actionProbe        = nsDiscovery + "/Probe"
	actionProbeMatches = nsDiscovery + "/ProbeMatches"
	actionHello        = nsDiscovery + "/Hello"
	discoveryTo        = "urn:schemas-xmlsoap-org:ws:2005:04:discovery"
	anonymous          = nsAddr + "/role/anonymous"
)

// Bounds on what one discovery message may make edgecam keep.
const (
	maxDatagram   = 64 << 10
	maxMatches    = 32
	maxListItems  = 64 // types, scopes or XAddrs of one match
	maxFieldBytes = 4096
)

// Kinds of discovery message.
const (
	KindProbe        = "Probe"
	KindProbeMatches = "ProbeMatches"
	KindHello        = "Hello"
	KindBye          = "Bye"
)

// Match is one device in a ProbeMatches, Hello or Bye message.
type Match struct {
	// Endpoint is the device's endpoint reference address (a urn:uuid: that stays the same when
	// the device changes address).
	Endpoint string
	// Types are the device's types as written (QNames such as dn:NetworkVideoTransmitter).
	Types []string
	// Scopes are the device's scope URIs (onvif://www.onvif.org/name/..., /hardware/...).
	Scopes []string
	// XAddrs are the device service URLs the device reports.
	XAddrs []string
}

// Message is a parsed WS-Discovery message.
type Message struct {
	// Kind is KindProbe, KindProbeMatches, KindHello or KindBye.
	Kind string
	// MessageID and RelatesTo are the WS-Addressing header fields (RelatesTo: the probe's ID).
	MessageID, RelatesTo string
	// Matches are the devices of a ProbeMatches (one for Hello and Bye).
	Matches []Match
	// ProbeTypes and ProbeScopes are the filters of a Probe.
	ProbeTypes, ProbeScopes []string
}

type wsdMatch struct {
	Address string `xml:"EndpointReference>Address"`
	Types   string `xml:"Types"`
	Scopes  string `xml:"Scopes"`
	XAddrs  string `xml:"XAddrs"`
}

type wsdEnvelope struct {
	Header struct {
		Action    string `xml:"Action"`
		MessageID string `xml:"MessageID"`
		RelatesTo string `xml:"RelatesTo"`
	} `xml:"Header"`
	Body struct {
		ProbeMatches *struct {
			Match []wsdMatch `xml:"ProbeMatch"`
		} `xml:"ProbeMatches"`
		Hello *wsdMatch `xml:"Hello"`
		Bye   *wsdMatch `xml:"Bye"`
		Probe *struct {
			Types  string `xml:"Types"`
			Scopes string `xml:"Scopes"`
		} `xml:"Probe"`
	} `xml:"Body"`
}

// ParseDiscovery parses one WS-Discovery datagram. Element names are matched without their
// namespace, so any prefixes work. An error says why the bytes are not a discovery message.
func ParseDiscovery(data []byte) (*Message, error) {
	if len(data) > maxDatagram {
		return nil, fmt.Errorf("discovery message of %d bytes (over %d)", len(data), maxDatagram)
	}
	var env wsdEnvelope
	if err := unmarshalLenient(data, &env); err != nil {
		return nil, fmt.Errorf("discovery message: %w", err)
	}
	m := &Message{MessageID: clip(env.Header.MessageID), RelatesTo: clip(env.Header.RelatesTo)}
	b := &env.Body
	switch {
	case b.ProbeMatches != nil:
		m.Kind = KindProbeMatches
		for i, pm := range b.ProbeMatches.Match {
			if i >= maxMatches {
				break
			}
			m.Matches = append(m.Matches, pm.match())
		}
	case b.Hello != nil:
		m.Kind = KindHello
		m.Matches = []Match{b.Hello.match()}
	case b.Bye != nil:
		m.Kind = KindBye
		m.Matches = []Match{b.Bye.match()}
	case b.Probe != nil:
		m.Kind = KindProbe
		m.ProbeTypes = fieldList(b.Probe.Types)
		m.ProbeScopes = fieldList(b.Probe.Scopes)
	default:
		return nil, errors.New("discovery message: no Probe, ProbeMatches, Hello or Bye in the SOAP body")
	}
	return m, nil
}

func (w wsdMatch) match() Match {
	return Match{
		Endpoint: clip(w.Address),
		Types:    fieldList(w.Types),
		Scopes:   fieldList(w.Scopes),
		XAddrs:   fieldList(w.XAddrs),
	}
}

// fieldList splits a whitespace-separated list, keeping at most maxListItems items.
func fieldList(s string) []string {
	f := strings.Fields(s)
	if len(f) > maxListItems {
		f = f[:maxListItems]
	}
	for i := range f {
		f[i] = clip(f[i])
	}
	return f
}

// clip trims space and bounds a field's length.
func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > maxFieldBytes {
		s = s[:maxFieldBytes]
	}
	return s
}

// unmarshalLenient is xml.Unmarshal that also reads documents real cameras send: an XML
// declaration with typographic quotes or a wrong version, and undeclared prefixes.
func unmarshalLenient(data []byte, v any) error {
	data = stripDeclaration(data)
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = false
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	return d.Decode(v)
}

// stripDeclaration removes a leading <?xml ...?> declaration (encoding/xml refuses some that
// cameras send, such as version=”1.0” with typographic quotes).
func stripDeclaration(data []byte) []byte {
	t := bytes.TrimLeft(data, " \t\r\n\ufeff")
	t = bytes.TrimPrefix(t, []byte("\xef\xbb\xbf"))
	if bytes.HasPrefix(t, []byte("<?xml")) {
		if i := bytes.Index(t, []byte("?>")); i >= 0 {
			return t[i+2:]
		}
	}
	return data
}

// HasType reports whether types (QNames) include the local name want.
func HasType(types []string, want string) bool {
	for _, t := range types {
		if _, local, ok := strings.Cut(t, ":"); ok {
			t = local
		}
		if strings.EqualFold(t, want) {
			return true
		}
	}
	return false
}

// ScopeInfo is what a camera's ONVIF scopes say about it.
type ScopeInfo struct {
	Name, Manufacturer, Model, Location string
}

// ParseScopes reads the name, manufacturer, model (hardware) and location from ONVIF scopes
// (onvif://www.onvif.org/name/Front%20door). Vendors spell the manufacturer scope in several
// ways (mfr, manufacturer, MfrName); all are taken.
func ParseScopes(scopes []string) ScopeInfo {
	var si ScopeInfo
	const prefix = "onvif://www.onvif.org/"
	for _, s := range scopes {
		if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
			continue
		}
		key, val, ok := strings.Cut(s[len(prefix):], "/")
		if !ok {
			continue
		}
		if v, err := url.PathUnescape(val); err == nil {
			val = v
		}
		val = strings.TrimSpace(strings.TrimRight(val, "/"))
		switch strings.ToLower(key) {
		case "name":
			si.Name = joinScope(si.Name, val)
		case "hardware", "model":
			si.Model = joinScope(si.Model, val)
		case "mfr", "manufacturer", "mfrname", "vendor", "brand":
			si.Manufacturer = joinScope(si.Manufacturer, val)
		case "location":
			si.Location = joinScope(si.Location, val)
		}
	}
	return si
}

func joinScope(have, v string) string {
	if have == "" {
		return v
	}
	if v == "" || have == v {
		return have
	}
	return have + " " + v
}

// NormalizeEndpoint returns the UUID of an endpoint reference ("urn:uuid:X", "uuid:X" or "X"),
// lower-cased, so that the forms compare equal. Other URIs are returned lower-cased.
func NormalizeEndpoint(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "urn:")
	s = strings.TrimPrefix(s, "uuid:")
	return s
}

// EndpointURN returns an endpoint in its urn:uuid: form when it is a UUID, else as given.
func EndpointURN(s string) string {
	n := NormalizeEndpoint(s)
	if isUUID(n) {
		return "urn:uuid:" + n
	}
	return strings.TrimSpace(s)
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// NewUUID returns a random (version 4) UUID from crypto/rand.
func NewUUID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// ProbeMessage returns a WS-Discovery Probe for devices of the given types (QNames with the
// prefix dn for the ONVIF network namespace, e.g. "dn:NetworkVideoTransmitter"; none: every
// device) with message ID urn:uuid:id.
func ProbeMessage(id string, types ...string) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` +
		`<s:Envelope xmlns:s="` + nsSOAP12 + `" xmlns:a="` + nsAddr + `" xmlns:d="` + nsDiscovery + `" xmlns:dn="` + nsNetwork + `">` +
		`<s:Header><a:Action s:mustUnderstand="1">` + actionProbe + `</a:Action>` +
		`<a:MessageID>urn:uuid:` + xmlEscape(id) + `</a:MessageID>` +
		`<a:ReplyTo><a:Address>` + anonymous + `</a:Address></a:ReplyTo>` +
		`<a:To s:mustUnderstand="1">` + discoveryTo + `</a:To></s:Header>` +
		`<s:Body><d:Probe>`)
	if len(types) > 0 {
		b.WriteString(`<d:Types>` + xmlEscape(strings.Join(types, " ")) + `</d:Types>`)
	}
	b.WriteString(`</d:Probe></s:Body></s:Envelope>`)
	return b.Bytes()
}

// matchXML is the body of one ProbeMatch or Hello: endpoint, types, scopes, XAddrs.
func matchXML(m Match) string {
	return `<a:EndpointReference><a:Address>` + xmlEscape(m.Endpoint) + `</a:Address></a:EndpointReference>` +
		`<d:Types>` + xmlEscape(strings.Join(m.Types, " ")) + `</d:Types>` +
		`<d:Scopes>` + xmlEscape(strings.Join(m.Scopes, " ")) + `</d:Scopes>` +
		`<d:XAddrs>` + xmlEscape(strings.Join(m.XAddrs, " ")) + `</d:XAddrs>` +
		`<d:MetadataVersion>1</d:MetadataVersion>`
}

func discoveryEnvelope(action, relatesTo, body string) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` +
		`<s:Envelope xmlns:s="` + nsSOAP12 + `" xmlns:a="` + nsAddr + `" xmlns:d="` + nsDiscovery + `" xmlns:dn="` + nsNetwork + `" xmlns:tds="http://www.onvif.org/ver10/device/wsdl">` +
		`<s:Header><a:MessageID>urn:uuid:` + NewUUID() + `</a:MessageID>`)
	if relatesTo != "" {
		b.WriteString(`<a:RelatesTo>` + xmlEscape(relatesTo) + `</a:RelatesTo>`)
	}
	b.WriteString(`<a:To s:mustUnderstand="1">` + anonymous + `</a:To>` +
		`<a:Action s:mustUnderstand="1">` + action + `</a:Action></s:Header><s:Body>` + body + `</s:Body></s:Envelope>`)
	return []byte(b.String())
}

// ProbeMatchesMessage returns the ProbeMatches answer to the probe with message ID relatesTo.
func ProbeMatchesMessage(relatesTo string, m Match) []byte {
	return discoveryEnvelope(actionProbeMatches, relatesTo, `<d:ProbeMatches><d:ProbeMatch>`+matchXML(m)+`</d:ProbeMatch></d:ProbeMatches>`)
}

// HelloMessage returns the Hello a device multicasts when it joins the network.
func HelloMessage(m Match) []byte {
	return discoveryEnvelope(actionHello, "", `<d:Hello>`+matchXML(m)+`</d:Hello>`)
}

func xmlEscape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// hostOf returns the host (without port or brackets) of a URL, or "".
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// withHost returns raw with its host replaced by host, keeping the port.
func withHost(raw, host string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return raw
	}
	if p := u.Port(); p != "" {
		u.Host = net.JoinHostPort(host, p)
	} else if strings.Contains(host, ":") {
		u.Host = "[" + host + "]"
	} else {
		u.Host = host
	}
	return u.String()
}
