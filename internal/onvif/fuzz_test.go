package onvif

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Seeds: messages in the shapes cameras send (the captured replies in mockup_test.go are longer
// forms of the same); the corpus found by fuzzing lives in testdata/fuzz.
var discoverySeeds = []string{
	string(ProbeMessage("11111111-2222-3333-4444-555555555555", "dn:NetworkVideoTransmitter")),
	string(ProbeMatchesMessage("urn:uuid:1", Match{Endpoint: "urn:uuid:2", Types: []string{"dn:NetworkVideoTransmitter"},
		Scopes: []string{"onvif://www.onvif.org/name/Front%20door", "onvif://www.onvif.org/hardware/X1"}, XAddrs: []string{"http://10.0.0.2/onvif/device_service"}})),
	string(HelloMessage(Match{Endpoint: "urn:uuid:3", Types: []string{"wsdp:Device", "pub:Computer"}})),
	`<SOAP-ENV:Envelope><SOAP-ENV:Body><wsdd:Bye><wsa:EndpointReference><wsa:Address>uuid:x</wsa:Address></wsa:EndpointReference></wsdd:Bye></SOAP-ENV:Body></SOAP-ENV:Envelope>`,
	`<?xml version=”1.0” ?><e:Envelope xmlns:e="x"><e:Body/></e:Envelope>`,
}

func FuzzParseDiscovery(f *testing.F) {
	for _, s := range discoverySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseDiscovery(data)
		if err != nil {
			return
		}
		if len(m.Matches) > maxMatches {
			t.Fatalf("%d matches kept", len(m.Matches))
		}
		for _, x := range m.Matches {
			if len(x.Types) > maxListItems || len(x.Scopes) > maxListItems || len(x.XAddrs) > maxListItems || len(x.Endpoint) > maxFieldBytes {
				t.Fatalf("unbounded match %+v", x)
			}
			d := deviceFrom(x, []byte{10, 1, 2, 3}, "eth0", false)
			_ = ParseScopes(d.Scopes)
			if d.XAddr != "" && !strings.HasPrefix(d.XAddr, "http") {
				t.Fatalf("xaddr %q", d.XAddr)
			}
		}
	})
}

var responseSeeds = []string{
	`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>ter:NotAuthorized</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en">Sender not Authorized</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>`,
	`<Envelope><Body><Fault><faultcode>SOAP-ENV:Client</faultcode><faultstring>bad</faultstring><detail><x>y</x></detail></Fault></Body></Envelope>`,
	`<e:Envelope><e:Body><trt:GetProfilesResponse><trt:Profiles token="a"><tt:Name>main</tt:Name><tt:VideoEncoderConfiguration><tt:Encoding>H264</tt:Encoding><tt:Resolution><tt:Width>1920</tt:Width><tt:Height>1080</tt:Height></tt:Resolution></tt:VideoEncoderConfiguration></trt:Profiles></trt:GetProfilesResponse></e:Body></e:Envelope>`,
	`<e:Envelope><e:Body><trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>rtsp://10.0.0.2/a?b=1&amp;c=2</tt:Uri></trt:MediaUri></trt:GetStreamUriResponse></e:Body></e:Envelope>`,
	`<e:Envelope><e:Body><tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:UTCDateTime><tt:Time><tt:Hour>25</tt:Hour></tt:Time><tt:Date><tt:Year>2014</tt:Year><tt:Month>12</tt:Month><tt:Day>24</tt:Day></tt:Date></tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse></e:Body></e:Envelope>`,
	`<e:Envelope><e:Body><tds:GetServicesResponse><tds:Service><tds:Namespace>http://www.onvif.org/ver10/media/wsdl</tds:Namespace><tds:XAddr>http://h/m</tds:XAddr></tds:Service></tds:GetServicesResponse></e:Body></e:Envelope>`,
}

func FuzzParseResponse(f *testing.F) {
	for _, s := range responseSeeds {
		f.Add([]byte(s))
	}
	// The replies captured from real cameras, when installed (make deps).
	if pkg := os.Getenv("EDGECAM_ONVIF"); pkg != "" {
		files, _ := filepath.Glob(filepath.Join(pkg, "test", "serverMockup", "*.xml"))
		for _, name := range files {
			if b, err := os.ReadFile(name); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := ParseResponse(data, nil); err != nil {
			if fe, ok := err.(*Fault); ok {
				if len(fe.Reason) > 310 || len(fe.Subcodes) > 8 {
					t.Fatalf("unbounded fault %+v", fe)
				}
				_ = fe.Unauthorized()
				_ = fe.Error()
			}
		}
		if ps, err := ParseProfiles(data); err == nil {
			for _, p := range ps {
				if p.Token == "" || p.Width < 0 || p.Height < 0 || p.Width > 1<<16 {
					t.Fatalf("profile %+v", p)
				}
			}
		}
		if tm, err := ParseSystemDateAndTime(data); err == nil && (tm.Year() < 1970 || tm.Location() != time.UTC) {
			t.Fatalf("time %v", tm)
		}
		_, _ = ParseMediaURI(data)
		_, _ = ParseServices(data)
		_, _ = ParseCapabilities(data)
	})
}

func FuzzVerifyUsernameToken(f *testing.F) {
	tok := NewUsernameToken("admin", "pw", time.Unix(1700000000, 0))
	f.Add(Envelope(&tok, "<x/>"), "pw")
	f.Add([]byte(`<Envelope><Header><Security><UsernameToken><Username>a</Username><Password>x</Password><Nonce>%%%</Nonce><Created>nope</Created></UsernameToken></Security></Header></Envelope>`), "pw")
	f.Fuzz(func(t *testing.T, data []byte, pw string) {
		req, err := ParseRequest(data)
		if err != nil || req.Token == nil {
			return
		}
		_ = req.Token.Verify("admin", pw, time.Unix(1700000000, 0), time.Minute)
		if !utf8.ValidString(req.Operation) && req.Operation != "" {
			return
		}
	})
}
