package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/onvif"
	"github.com/edgecam/edgecam/internal/redact"
)

type discoverOptions struct {
	interfaces []string
	timeout    time.Duration
	username   string
	profile    string
	stream     bool
	json       bool
	target     string // tests: a directed probe to this host:port instead of multicast
}

func newDiscoverCmd() *cobra.Command {
	o := &discoverOptions{}
	cmd := &cobra.Command{
		Use:   "discover [--interface NAME] [--timeout 3s] [--username USER [--profile NAME] [--stream]] [--json]",
		Short: "Find the ONVIF cameras on the local network, and with credentials their stream and snapshot URLs",
		Long: `discover sends a WS-Discovery probe for ONVIF cameras (NetworkVideoTransmitter) on every network
interface (or --interface) and listens --timeout for answers and Hello announcements. It lists each
camera once, by its endpoint reference (a urn:uuid: that stays the same when its address changes): the
address it answered from, its endpoint, manufacturer, model and name from its scopes, and its ONVIF
service URL. A camera that reports its service on another address than the one it answered from
(a stale or internal address) is shown with a note, and the address it answered from is used.

With --username (the password from $` + envCameraPassword + `, or asked on the terminal; never a flag) it
also reads each camera's clock, device information, media profiles and each profile's RTSP stream
and snapshot URLs (WS-UsernameToken on the camera's clock, HTTP Digest when the camera asks), and
prints a cameras: block for the configuration per camera: a snapshot (type http) camera, or an RTSP
one with --stream, on the profile given by --profile or else the smallest at least 1280x720 (the
largest when none is). The block names the camera by its ONVIF endpoint, so edgecam finds it again
when its address changes; the password goes in EDGECAM_CAMERAS__<ID>__PASSWORD, not in the file.

Probes stay on the local link (multicast TTL 1); nothing is sent to other networks.`,
		Example: `  edgecam discover                            # table of the cameras that answer within 3 s
  edgecam discover --interface eth0 --timeout 5s --json
  EDGECAM_CAMERAS__DISCOVER__PASSWORD=... edgecam discover --username admin        # plus profiles, URLs, YAML
  edgecam discover --username admin --stream --profile sub   # RTSP cameras on their "sub" profile`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			pw := ""
			if o.username != "" {
				var err error
				if pw, err = cameraPassword(cmd.InOrStdin(), cmd.ErrOrStderr(), o.username); err != nil {
					return err
				}
			}
			return runDiscover(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), o, pw)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.interfaces, "interface", nil, "network interface `NAME` to probe on (repeat for several; default: every interface up with IPv4 and multicast)")
	f.DurationVar(&o.timeout, "timeout", onvif.DefaultDiscoverTimeout, "how long to listen for answers")
	f.StringVar(&o.username, "username", "", "ONVIF user: also read profiles, stream and snapshot URLs and print configuration (password from $"+envCameraPassword+" or a prompt)")
	f.StringVar(&o.profile, "profile", "", "media profile `NAME` (or token) for the printed configuration (default: chosen by resolution)")
	f.BoolVar(&o.stream, "stream", false, "print rtsp cameras (the profile's stream) instead of http snapshot cameras")
	f.BoolVar(&o.json, "json", false, "print JSON (one object per camera) instead of a table")
	return cmd
}

// envCameraPassword is the variable discover reads the cameras' password from: the scheme of the
// daemon's EDGECAM_CAMERAS__<ID>__PASSWORD with the ID "discover" (the cameras have no ID yet).
var envCameraPassword = config.CameraEnv("discover", "password")

// cameraPassword is $EDGECAM_CAMERAS__DISCOVER__PASSWORD (or the deprecated
// $EDGECAM_CAMERA_PASSWORD), or the answer to a prompt on the terminal with echo off.
func cameraPassword(in io.Reader, prompt io.Writer, user string) (string, error) {
	if pw, ok := config.LookupEnv(envCameraPassword, deprecatedCameraPassword); ok {
		return pw, nil
	}
	notTerminal := fmt.Errorf("--username %s needs a password: set $%s (standard input is not a terminal)", user, envCameraPassword)
	f, ok := in.(*os.File)
	if !ok {
		return "", notTerminal
	}
	pw, ok, err := promptSecret(f, prompt, fmt.Sprintf("Password for %s: ", user))
	switch {
	case err != nil:
		return "", err
	case !ok:
		return "", notTerminal
	}
	return pw, nil
}

// discovered is one camera in the output.
type discovered struct {
	onvif.Device
	Info     *onvif.DeviceInfo `json:"info,omitempty"`
	Profiles []onvif.Profile   `json:"profiles,omitempty"`
	// ClockOffset is the camera's clock minus ours, in seconds.
	ClockOffset *float64 `json:"clockOffsetSeconds,omitempty"`
	Problems    []string `json:"problems,omitempty"`
	ID          string   `json:"id,omitempty"`
	YAML        string   `json:"yaml,omitempty"`
	Error       string   `json:"error,omitempty"`
}

func runDiscover(ctx context.Context, stdout, stderr io.Writer, o *discoverOptions, password string) error {
	devs, err := onvif.Discover(ctx, onvif.DiscoverOptions{Interfaces: o.interfaces, Timeout: o.timeout, Target: o.target, Logger: slog.Default()})
	if err != nil {
		return err
	}
	out := make([]discovered, len(devs))
	ids := map[string]bool{}
	failed := 0
	for i, d := range devs {
		out[i].Device = d
		if o.username == "" {
			continue
		}
		if err := inspect(ctx, &out[i], o, password, ids); err != nil {
			out[i].Error = err.Error()
			failed++
		}
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		for _, d := range out {
			if err := enc.Encode(d); err != nil {
				return err
			}
		}
	} else {
		printDiscovered(stdout, out, o)
	}
	if len(devs) == 0 {
		fmt.Fprintf(stderr, "no ONVIF camera answered within %v on %s: check that the cameras are on and on this network, that ONVIF is enabled on them, or try --timeout 10s\n",
			o.timeout, ifaceNames(o.interfaces))
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d cameras could not be read (see above)", failed, len(devs))
	}
	return nil
}

func ifaceNames(names []string) string {
	if len(names) == 0 {
		return "every interface"
	}
	return strings.Join(names, ", ")
}

func inspect(ctx context.Context, d *discovered, o *discoverOptions, password string, ids map[string]bool) error {
	if d.XAddr == "" {
		return errors.New("the camera reports no http service URL")
	}
	c := onvif.NewClient(d.XAddr, o.username, password)
	cam, err := c.Inspect(ctx)
	if err != nil {
		return err
	}
	d.Info, d.Profiles, d.Problems = &cam.Info, cam.Profiles, cam.Problems
	off := cam.ClockOffset.Seconds()
	d.ClockOffset = &off
	p, ok := onvif.PickProfile(cam.Profiles, o.profile, !o.stream, o.stream)
	if !ok {
		what := "a snapshot URL"
		if o.stream {
			what = "an RTSP stream URL"
		}
		if o.profile != "" {
			return fmt.Errorf("no profile %q with %s (profiles: %s)", o.profile, what, profileList(cam.Profiles))
		}
		return fmt.Errorf("no profile with %s (profiles: %s)", what, profileList(cam.Profiles))
	}
	d.ID = uniqueID(cameraID(d.Device, cam.Info), ids)
	d.YAML = cameraYAML(d, p, o)
	return nil
}

func profileList(ps []onvif.Profile) string {
	var s []string
	for _, p := range ps {
		s = append(s, fmt.Sprintf("%s %dx%d", p.Name, p.Width, p.Height))
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// cameraID makes a configuration id from the camera's name (or model): lower case, words
// joined with '-'.
func cameraID(d onvif.Device, info onvif.DeviceInfo) string {
	for _, s := range []string{d.Name, info.Model, d.Model, "camera"} {
		var b strings.Builder
		dash := false
		for _, r := range strings.ToLower(s) {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
				if dash && b.Len() > 0 {
					b.WriteByte('-')
				}
				b.WriteRune(r)
				dash = false
			} else {
				dash = true
			}
		}
		if id := b.String(); id != "" {
			if len(id) > 40 {
				id = strings.TrimRight(id[:40], "-")
			}
			return id
		}
	}
	return "camera"
}

func uniqueID(id string, seen map[string]bool) string {
	out := id
	for n := 2; seen[out]; n++ {
		out = id + "-" + strconv.Itoa(n)
	}
	seen[out] = true
	return out
}

// envName is the variable that holds a camera's password (config's EDGECAM_CAMERAS__<ID>__ keys).
func envName(id string) string {
	return "EDGECAM_CAMERAS__" + strings.ToUpper(strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, id)) + "__PASSWORD"
}

func cameraYAML(d *discovered, p onvif.Profile, o *discoverOptions) string {
	typ, uri := "http", p.SnapshotURI
	if o.stream {
		typ, uri = "rtsp", p.StreamURI
	}
	desc := strings.TrimSpace(d.Info.Manufacturer + " " + d.Info.Model)
	var b strings.Builder
	fmt.Fprintf(&b, "  # %s, %s at %s, profile %s (%dx%d %s); now at %s\n", d.ID, desc, d.Address, p.Name, p.Width, p.Height, p.Encoding, redact.URL(uri))
	fmt.Fprintf(&b, "  # password: %s=... (in /etc/edgecam/secrets.env)\n", envName(d.ID))
	fmt.Fprintf(&b, "  - id: %s\n", d.ID)
	fmt.Fprintf(&b, "    type: %s\n", typ)
	fmt.Fprintf(&b, "    username: %s\n", yamlString(o.username))
	fmt.Fprintf(&b, "    onvif: {endpoint: %s, profile: %s}\n", yamlString(onvif.EndpointURN(d.Endpoint)), yamlString(p.Name))
	return b.String()
}

// yamlString quotes s for YAML (JSON strings are YAML).
func yamlString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func printDiscovered(w io.Writer, ds []discovered, o *discoverOptions) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tENDPOINT\tMANUFACTURER\tMODEL\tNAME\tSERVICE URL")
	for _, d := range ds {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.Address, d.Endpoint, dash(d.Manufacturer), dash(d.Model), dash(d.Name), d.XAddr)
	}
	tw.Flush()
	for _, d := range ds {
		if d.ReportedXAddr != "" {
			fmt.Fprintf(w, "note: %s reports its service at %s but answered from %s; using %s\n", d.Endpoint, d.ReportedXAddr, d.Address, d.Address)
		}
	}
	if o.username == "" {
		return
	}
	var blocks []string
	for _, d := range ds {
		fmt.Fprintf(w, "\n%s (%s)\n", d.Address, d.Endpoint)
		if d.Error != "" {
			fmt.Fprintf(w, "  error: %s\n", d.Error)
			continue
		}
		if d.Info != nil {
			fmt.Fprintf(w, "  %s %s, firmware %s, serial %s, clock %+.0f s from ours\n", d.Info.Manufacturer, d.Info.Model, d.Info.FirmwareVersion, d.Info.SerialNumber, *d.ClockOffset)
		}
		for _, p := range d.Profiles {
			fmt.Fprintf(w, "  profile %s (token %s): %dx%d %s\n    stream   %s\n    snapshot %s\n", p.Name, p.Token, p.Width, p.Height, dash(p.Encoding),
				dash(redact.URL(p.StreamURI)), dash(redact.URL(p.SnapshotURI)))
		}
		for _, pr := range d.Problems {
			fmt.Fprintf(w, "  note: %s\n", pr)
		}
		if d.YAML != "" {
			blocks = append(blocks, d.YAML)
		}
	}
	if len(blocks) > 0 {
		fmt.Fprintf(w, "\n# edgecam configuration (edgecam discover); the cameras are found by their ONVIF endpoint\ncameras:\n%s", strings.Join(blocks, ""))
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
