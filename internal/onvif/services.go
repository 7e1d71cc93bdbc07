package onvif

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DeviceInfo is the answer to GetDeviceInformation.
type DeviceInfo struct {
	Manufacturer    string `xml:"Manufacturer" json:"manufacturer"`
	Model           string `xml:"Model" json:"model"`
	FirmwareVersion string `xml:"FirmwareVersion" json:"firmwareVersion"`
	SerialNumber    string `xml:"SerialNumber" json:"serialNumber"`
	HardwareID      string `xml:"HardwareId" json:"hardwareId"`
}

// Services are the service URLs of a camera (from GetServices or GetCapabilities).
type Services struct {
	Device string `json:"device"`
	Media  string `json:"media"`
}

// Profile is a media profile: a video stream configuration the camera offers.
type Profile struct {
	Token    string `json:"token"`
	Name     string `json:"name"`
	Encoding string `json:"encoding,omitempty"`
	Width    int    `json:"width,omitempty"`
	Height   int    `json:"height,omitempty"`
	// StreamURI and SnapshotURI are filled by Inspect (empty when the camera has none).
	StreamURI   string `json:"streamUri,omitempty"`
	SnapshotURI string `json:"snapshotUri,omitempty"`
}

// Pixels is the profile's width x height (0 when unknown).
func (p Profile) Pixels() int { return p.Width * p.Height }

type dateTimeXML struct {
	Time struct {
		Hour   int `xml:"Hour"`
		Minute int `xml:"Minute"`
		Second int `xml:"Second"`
	} `xml:"Time"`
	Date struct {
		Year  int `xml:"Year"`
		Month int `xml:"Month"`
		Day   int `xml:"Day"`
	} `xml:"Date"`
}

type systemDateAndTimeResponse struct {
	SDT struct {
		DateTimeType string       `xml:"DateTimeType"`
		UTC          *dateTimeXML `xml:"UTCDateTime"`
		Local        *dateTimeXML `xml:"LocalDateTime"`
		TZ           string       `xml:"TimeZone>TZ"`
	} `xml:"SystemDateAndTime"`
}

// ParseSystemDateAndTime reads the camera's UTC time from a GetSystemDateAndTime response.
func ParseSystemDateAndTime(data []byte) (time.Time, error) {
	var r systemDateAndTimeResponse
	if err := ParseResponse(data, &r); err != nil {
		return time.Time{}, err
	}
	return r.utc()
}

func (r *systemDateAndTimeResponse) utc() (time.Time, error) {
	dt := r.SDT.UTC
	if dt == nil {
		return time.Time{}, errors.New("no UTCDateTime in the answer")
	}
	d, t := dt.Date, dt.Time
	if d.Year < 1970 || d.Year > 9999 || d.Month < 1 || d.Month > 12 || d.Day < 1 || d.Day > 31 ||
		t.Hour < 0 || t.Hour > 23 || t.Minute < 0 || t.Minute > 59 || t.Second < 0 || t.Second > 60 {
		return time.Time{}, fmt.Errorf("invalid UTCDateTime %04d-%02d-%02d %02d:%02d:%02d", d.Year, d.Month, d.Day, t.Hour, t.Minute, t.Second)
	}
	return time.Date(d.Year, time.Month(d.Month), d.Day, t.Hour, t.Minute, t.Second, 0, time.UTC), nil
}

// SystemDateAndTime asks the camera for its clock (without credentials, as ONVIF allows).
func (c *Client) SystemDateAndTime(ctx context.Context) (time.Time, error) {
	var r systemDateAndTimeResponse
	body := `<tds:GetSystemDateAndTime xmlns:tds="` + NSDevice + `"/>`
	if err := c.call(ctx, c.XAddr, NSDevice+"/GetSystemDateAndTime", body, &r, false); err != nil {
		return time.Time{}, err
	}
	t, err := r.utc()
	if err != nil {
		return time.Time{}, fmt.Errorf("onvif: GetSystemDateAndTime %s: %w", c.XAddr, err)
	}
	return t, nil
}

// SyncClock sets ClockOffset from the camera's clock (GetSystemDateAndTime), so that the
// UsernameToken's Created time is in the camera's time. It returns the offset.
func (c *Client) SyncClock(ctx context.Context) (time.Duration, error) {
	t0 := c.clock()
	cam, err := c.SystemDateAndTime(ctx)
	if err != nil {
		return 0, err
	}
	t1 := c.clock()
	mid := t0.Add(t1.Sub(t0) / 2)
	off := cam.Sub(mid).Truncate(time.Second)
	// The camera's clock has one-second resolution: within a second is no skew.
	if off > -2*time.Second && off < 2*time.Second {
		off = 0
	}
	c.ClockOffset = off
	return off, nil
}

// DeviceInformation calls GetDeviceInformation.
func (c *Client) DeviceInformation(ctx context.Context) (DeviceInfo, error) {
	var r struct {
		DeviceInfo
	}
	body := `<tds:GetDeviceInformation xmlns:tds="` + NSDevice + `"/>`
	if err := c.Call(ctx, c.XAddr, NSDevice+"/GetDeviceInformation", body, &r); err != nil {
		return DeviceInfo{}, err
	}
	d := r.DeviceInfo
	d.Manufacturer, d.Model, d.FirmwareVersion = clip(d.Manufacturer), clip(d.Model), clip(d.FirmwareVersion)
	d.SerialNumber, d.HardwareID = clip(d.SerialNumber), clip(d.HardwareID)
	return d, nil
}

type servicesResponse struct {
	Service []struct {
		Namespace string `xml:"Namespace"`
		XAddr     string `xml:"XAddr"`
	} `xml:"Service"`
}

type capabilitiesResponse struct {
	Device string `xml:"Capabilities>Device>XAddr"`
	Media  string `xml:"Capabilities>Media>XAddr"`
}

// ParseServices reads the device and media service URLs from a GetServices response.
func ParseServices(data []byte) (Services, error) {
	var r servicesResponse
	if err := ParseResponse(data, &r); err != nil {
		return Services{}, err
	}
	return r.services(), nil
}

func (r *servicesResponse) services() Services {
	var s Services
	for _, sv := range r.Service {
		switch strings.TrimSpace(sv.Namespace) {
		case NSDevice:
			s.Device = clip(sv.XAddr)
		case NSMedia:
			s.Media = clip(sv.XAddr)
		}
	}
	return s
}

// ParseCapabilities reads the device and media service URLs from a GetCapabilities response.
func ParseCapabilities(data []byte) (Services, error) {
	var r capabilitiesResponse
	if err := ParseResponse(data, &r); err != nil {
		return Services{}, err
	}
	return Services{Device: clip(r.Device), Media: clip(r.Media)}, nil
}

// Services asks for the service URLs with GetServices, and with GetCapabilities when the camera
// does not know GetServices (ONVIF before 2.0). A service URL on another host than XAddr's (a
// camera that reports a stale or internal address) is moved to XAddr's host.
func (c *Client) Services(ctx context.Context) (Services, error) {
	var r servicesResponse
	body := `<tds:GetServices xmlns:tds="` + NSDevice + `"><tds:IncludeCapability>false</tds:IncludeCapability></tds:GetServices>`
	err := c.Call(ctx, c.XAddr, NSDevice+"/GetServices", body, &r)
	s := r.services()
	if err != nil || s.Media == "" {
		if errors.Is(err, ErrUnauthorized) {
			return Services{}, err
		}
		var cr capabilitiesResponse
		body := `<tds:GetCapabilities xmlns:tds="` + NSDevice + `"><tds:Category>All</tds:Category></tds:GetCapabilities>`
		if cerr := c.Call(ctx, c.XAddr, NSDevice+"/GetCapabilities", body, &cr); cerr != nil {
			if err != nil {
				return Services{}, fmt.Errorf("%w; and %w", err, cerr)
			}
			return Services{}, cerr
		}
		s = Services{Device: clip(cr.Device), Media: clip(cr.Media)}
	}
	if s.Media == "" {
		return Services{}, fmt.Errorf("onvif: %s reports no media service: is it a camera?", c.XAddr)
	}
	s.Device = c.onOurOrigin(s.Device)
	s.Media = c.onOurOrigin(s.Media)
	return s, nil
}

// onOurOrigin moves a service URL the camera reported on another host than the one we reach it
// at to our scheme, host and port (the camera is behind NAT or reports a stale address).
func (c *Client) onOurOrigin(raw string) string {
	u, err := url.Parse(raw)
	ours, err2 := url.Parse(c.XAddr)
	if raw == "" || err != nil || err2 != nil || u.Host == "" || u.Hostname() == ours.Hostname() {
		return raw
	}
	u.Scheme, u.Host = ours.Scheme, ours.Host
	return u.String()
}

// onOurHost moves a stream or snapshot URI the camera reported on another host than the one we
// reach it at to our host, keeping its port.
func (c *Client) onOurHost(raw string) string {
	if raw == "" {
		return raw
	}
	ours := hostOf(c.XAddr)
	if h := hostOf(raw); ours != "" && h != "" && h != ours {
		return withHost(raw, ours)
	}
	return raw
}

type profilesResponse struct {
	Profiles []struct {
		Token string `xml:"token,attr"`
		Name  string `xml:"Name"`
		VEC   *struct {
			Encoding string `xml:"Encoding"`
			Width    string `xml:"Resolution>Width"`
			Height   string `xml:"Resolution>Height"`
		} `xml:"VideoEncoderConfiguration"`
		VSC *struct {
			Bounds struct {
				Width  string `xml:"width,attr"`
				Height string `xml:"height,attr"`
			} `xml:"Bounds"`
		} `xml:"VideoSourceConfiguration"`
	} `xml:"Profiles"`
}

// maxProfiles bounds the profiles kept from one answer.
const maxProfiles = 64

// ParseProfiles reads the media profiles from a GetProfiles response.
func ParseProfiles(data []byte) ([]Profile, error) {
	var r profilesResponse
	if err := ParseResponse(data, &r); err != nil {
		return nil, err
	}
	return r.profiles(), nil
}

func (r *profilesResponse) profiles() []Profile {
	var out []Profile
	for i, p := range r.Profiles {
		if i >= maxProfiles {
			break
		}
		pr := Profile{Token: clip(p.Token), Name: clip(p.Name)}
		if p.VEC != nil {
			pr.Encoding = clip(p.VEC.Encoding)
			pr.Width, pr.Height = atoiDim(p.VEC.Width), atoiDim(p.VEC.Height)
		}
		if (pr.Width == 0 || pr.Height == 0) && p.VSC != nil {
			pr.Width, pr.Height = atoiDim(p.VSC.Bounds.Width), atoiDim(p.VSC.Bounds.Height)
		}
		if pr.Token == "" {
			continue
		}
		if pr.Name == "" {
			pr.Name = pr.Token
		}
		out = append(out, pr)
	}
	return out
}

func atoiDim(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 || n > 1<<16 {
		return 0
	}
	return n
}

// Profiles calls GetProfiles on the media service at mediaURL.
func (c *Client) Profiles(ctx context.Context, mediaURL string) ([]Profile, error) {
	var r profilesResponse
	body := `<trt:GetProfiles xmlns:trt="` + NSMedia + `"/>`
	if err := c.Call(ctx, mediaURL, NSMedia+"/GetProfiles", body, &r); err != nil {
		return nil, err
	}
	ps := r.profiles()
	if len(ps) == 0 {
		return nil, fmt.Errorf("onvif: GetProfiles %s: the camera has no media profile", mediaURL)
	}
	return ps, nil
}

type mediaURIResponse struct {
	URI string `xml:"MediaUri>Uri"`
}

// ParseMediaURI reads the URI of a GetStreamUri or GetSnapshotUri response.
func ParseMediaURI(data []byte) (string, error) {
	var r mediaURIResponse
	if err := ParseResponse(data, &r); err != nil {
		return "", err
	}
	if r.URI = clip(r.URI); r.URI == "" {
		return "", errors.New("no MediaUri/Uri in the answer")
	}
	return r.URI, nil
}

// StreamURI calls GetStreamUri for an RTSP unicast stream of the profile.
func (c *Client) StreamURI(ctx context.Context, mediaURL, profileToken string) (string, error) {
	body := `<trt:GetStreamUri xmlns:trt="` + NSMedia + `" xmlns:tt="` + nsSchema + `">` +
		`<trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream><tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup>` +
		`<trt:ProfileToken>` + xmlEscape(profileToken) + `</trt:ProfileToken></trt:GetStreamUri>`
	return c.mediaURI(ctx, mediaURL, "GetStreamUri", body, "rtsp", "rtsps")
}

// SnapshotURI calls GetSnapshotUri for the profile.
func (c *Client) SnapshotURI(ctx context.Context, mediaURL, profileToken string) (string, error) {
	body := `<trt:GetSnapshotUri xmlns:trt="` + NSMedia + `"><trt:ProfileToken>` + xmlEscape(profileToken) + `</trt:ProfileToken></trt:GetSnapshotUri>`
	return c.mediaURI(ctx, mediaURL, "GetSnapshotUri", body, "http", "https")
}

func (c *Client) mediaURI(ctx context.Context, mediaURL, op, body string, schemes ...string) (string, error) {
	var r mediaURIResponse
	if err := c.Call(ctx, mediaURL, NSMedia+"/"+op, body, &r); err != nil {
		return "", err
	}
	uri := clip(r.URI)
	u, err := url.Parse(uri)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("onvif: %s %s: the camera answered %q, not a URL", op, mediaURL, uri)
	}
	ok := false
	for _, s := range schemes {
		ok = ok || strings.EqualFold(u.Scheme, s)
	}
	if !ok {
		return "", fmt.Errorf("onvif: %s %s: the camera answered %q: want a %s URL", op, mediaURL, uri, strings.Join(schemes, " or "))
	}
	return uri, nil
}

// Camera is what Inspect learned about a camera.
type Camera struct {
	XAddr       string        `json:"xaddr"`
	ClockOffset time.Duration `json:"clockOffsetNs"`
	Info        DeviceInfo    `json:"info"`
	Services    Services      `json:"services"`
	Profiles    []Profile     `json:"profiles"`
	// Problems are what could not be learned (a profile without a snapshot URI, ...).
	Problems []string `json:"problems,omitempty"`
}

// Inspect syncs the clock with the camera, then asks for its device information, services,
// profiles and each profile's stream and snapshot URIs. A URI the camera cannot give is a
// Problem, not an error; refused credentials are an error (wrapping ErrUnauthorized).
func (c *Client) Inspect(ctx context.Context) (*Camera, error) {
	cam := &Camera{XAddr: c.XAddr}
	if _, err := c.SyncClock(ctx); err != nil {
		// Some cameras want credentials even for the time: go on with our clock.
		cam.Problems = append(cam.Problems, err.Error())
	}
	cam.ClockOffset = c.ClockOffset
	info, err := c.DeviceInformation(ctx)
	if err != nil {
		return nil, err
	}
	cam.Info = info
	if cam.Services, err = c.Services(ctx); err != nil {
		return nil, err
	}
	if cam.Profiles, err = c.Profiles(ctx, cam.Services.Media); err != nil {
		return nil, err
	}
	for i := range cam.Profiles {
		p := &cam.Profiles[i]
		if u, err := c.StreamURI(ctx, cam.Services.Media, p.Token); err != nil {
			if errors.Is(err, ErrUnauthorized) {
				return nil, err
			}
			cam.Problems = append(cam.Problems, err.Error())
		} else {
			p.StreamURI = c.onOurHost(u)
		}
		if u, err := c.SnapshotURI(ctx, cam.Services.Media, p.Token); err != nil {
			if errors.Is(err, ErrUnauthorized) {
				return nil, err
			}
			cam.Problems = append(cam.Problems, err.Error())
		} else {
			p.SnapshotURI = c.onOurHost(u)
		}
	}
	return cam, nil
}

// PickProfile returns the profile named name (its name or token, case-insensitive), or with an
// empty name the one best for detection: the smallest at least 1280x720, else the largest. With
// needSnapshot or needStream, only profiles with that URI count. It returns false when none fits.
func PickProfile(ps []Profile, name string, needSnapshot, needStream bool) (Profile, bool) {
	var cands []Profile
	for _, p := range ps {
		if needSnapshot && p.SnapshotURI == "" || needStream && p.StreamURI == "" {
			continue
		}
		if name != "" {
			if strings.EqualFold(p.Name, name) || strings.EqualFold(p.Token, name) {
				return p, true
			}
			continue
		}
		cands = append(cands, p)
	}
	if len(cands) == 0 {
		return Profile{}, false
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].Pixels() < cands[j].Pixels() })
	for _, p := range cands {
		if p.Width >= 1280 && p.Height >= 720 {
			return p, true
		}
	}
	return cands[len(cands)-1], true
}
