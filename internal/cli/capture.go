package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/edgecam/edgecam/internal/camera"
	"github.com/edgecam/edgecam/internal/config"
)

// deprecatedCameraPassword is the older name of EDGECAM_CAMERAS__<ID>__PASSWORD, read for one
// more release with a warning.
const deprecatedCameraPassword = "EDGECAM_CAMERA_PASSWORD"

type captureOptions struct {
	configFile string
	cameraID   string
	out        string
	cam        config.Camera
	timeout    string
}

func newCaptureCmd() *cobra.Command {
	o := &captureOptions{}
	cmd := &cobra.Command{
		Use:   "capture --out FILE (--config FILE [--camera ID] | --type TYPE ...)",
		Short: "Grab one frame from a camera and save it, to check the camera before running the daemon",
		Long: `capture grabs one frame from a camera and writes it to --out (atomically: a reader never sees a
partial file), then prints its size and dimensions. Encoded frames (rpi, http, file) are written as
the camera sent them; decoded RTSP frames are written as JPEG.

The camera comes from the configuration (--config FILE, and --camera ID when it lists several
cameras) or from flags (--type and the keys of that type). Flags given with --config override
the configured values. A password is never a flag (the process list shows flags to every user):
it comes from the configuration or from EDGECAM_CAMERAS__<ID>__PASSWORD, the variable the
daemon reads (ID is --camera, "capture" without one; "-" and other characters a variable
name cannot hold are written "_"); with --username and no password there, capture asks for
it when standard input is a terminal.

Camera types:
  rpi    Raspberry Pi camera via rpicam-still (or libcamera-still/libcamera-jpeg): --rotation,
         --width, --height, --arg, --command
  http   snapshot URL with Basic or Digest authentication: --url, --username, --auth,
         --redirects
  rtsp   H.264 or H.265 RTSP stream: --url (credentials in the URL or --username),
         --transport tcp|udp|auto
  file   an image file: --path`,
		Example: `  edgecam capture --config edgecam.yaml --camera garage --out frame.jpg
  edgecam capture --type http --url http://192.168.1.64/ISAPI/Streaming/channels/101/picture \
      --username admin --out frame.jpg          # password from EDGECAM_CAMERAS__CAPTURE__PASSWORD or asked
  edgecam capture --type rtsp --url rtsp://192.168.1.65:554/stream1 --username admin --out frame.jpg
  edgecam capture --type rpi --rotation 180 --width 1920 --height 1080 --out frame.jpg
  edgecam capture --type file --path test.jpg --out copy.jpg`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runCapture(ctx, cmd.OutOrStdout(), o, cmd.Flags())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "write the frame to `FILE` (required)")
	f.StringVarP(&o.configFile, "config", "c", "", "configuration `FILE` to take the camera from")
	f.StringVar(&o.cameraID, "camera", "", "`ID` of the configured camera (needed when the configuration has several)")
	f.StringVar(&o.cam.Type, "type", "", "camera type: "+config.KindList(""))
	f.StringVar(&o.cam.URL, "url", "", "http: snapshot URL; rtsp: stream URL")
	f.StringVar(&o.cam.Username, "username", "", "http, rtsp: user name")
	f.StringVar(&o.cam.Transport, "transport", "", "rtsp: tcp (default), udp or auto")
	f.StringVar(&o.cam.Path, "path", "", "file: image file to read")
	f.IntVar(&o.cam.Rotation, "rotation", 0, "rpi: rotation, 0 or 180")
	f.IntVar(&o.cam.Width, "width", 0, "rpi: frame width (0 = camera default)")
	f.IntVar(&o.cam.Height, "height", 0, "rpi: frame height (0 = camera default)")
	f.StringArrayVar(&o.cam.Args, "arg", nil, "rpi: extra rpicam-still argument (repeat for several)")
	f.StringVar(&o.cam.Command, "command", "", "rpi: stills command to run instead of rpicam-still")
	f.StringVar(&o.timeout, "timeout", "", "capture timeout, e.g. 10s or 00:00:10 (default: the type's)")
	f.Int64Var(&o.cam.MaxBytes, "max-bytes", 0, "largest accepted encoded frame in bytes (default 32 MiB)")
	f.Int64Var(&o.cam.MaxPixels, "max-pixels", 0, "largest accepted frame in pixels, checked before decoding (default 40 MP)")
	f.StringVar(&o.cam.Auth, "auth", "", "http: pin the authentication scheme, digest or basic (default: what the camera asks, never Basic after Digest)")
	f.StringVar(&o.cam.Redirects, "redirects", "", "http: redirects to follow: same-host (default), any or none")
	return cmd
}

func runCapture(ctx context.Context, stdout io.Writer, o *captureOptions, flags *pflag.FlagSet) error {
	if o.out == "" {
		return errors.New("--out FILE is required: where to write the frame")
	}
	cam, err := captureCamera(o, flags)
	if err != nil {
		return err
	}
	src, err := camera.New(cam)
	if err != nil {
		return err
	}
	defer camera.Close(src)

	start := time.Now()
	frame, err := src.Capture(ctx)
	if err != nil {
		return err
	}
	defer frame.Close()
	took := time.Since(start)
	// The size comes from the header (checked against maxPixels by the source), so a capture
	// never decodes: its memory stays that of the encoded frame.
	w, h, err := frame.Size()
	if err != nil {
		return err
	}
	if err := camera.Save(o.out, frame); err != nil {
		return err
	}
	fi, err := os.Stat(o.out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d bytes, %dx%d, from camera %s (%s) in %v\n",
		o.out, fi.Size(), w, h, cam.ID, cam.Type, took.Round(time.Millisecond))
	return nil
}

// captureCamera returns the camera to capture from: the configured one, with the flags that
// were set on top, or the flags alone.
func captureCamera(o *captureOptions, flags *pflag.FlagSet) (config.Camera, error) {
	var cam config.Camera
	if o.configFile != "" {
		cfg, err := config.Load(config.LoadOptions{File: o.configFile, Only: []string{"cameras"}})
		if err != nil {
			return cam, err
		}
		cam, err = pickCamera(cfg, o.cameraID, o.configFile)
		if err != nil {
			return cam, err
		}
	} else {
		if !flags.Changed("type") {
			return cam, errors.New("say which camera: --config FILE [--camera ID], or --type " + config.KindList("|") + " with its flags")
		}
		cam.ID = o.cameraID
		if cam.ID == "" {
			cam.ID = "capture"
		}
	}
	set := func(name string, apply func()) {
		if flags.Changed(name) {
			apply()
		}
	}
	set("type", func() { cam.Type = strings.ToLower(o.cam.Type) })
	set("url", func() { cam.URL = o.cam.URL })
	set("username", func() { cam.Username = o.cam.Username })
	set("path", func() { cam.Path = o.cam.Path })
	set("rotation", func() { cam.Rotation = o.cam.Rotation })
	set("width", func() { cam.Width = o.cam.Width })
	set("height", func() { cam.Height = o.cam.Height })
	set("arg", func() { cam.Args = o.cam.Args })
	set("command", func() { cam.Command = o.cam.Command })
	set("max-bytes", func() { cam.MaxBytes = o.cam.MaxBytes })
	set("max-pixels", func() { cam.MaxPixels = o.cam.MaxPixels })
	set("auth", func() { cam.Auth = o.cam.Auth })
	set("redirects", func() { cam.Redirects = o.cam.Redirects })
	set("transport", func() { cam.Transport = strings.ToLower(o.cam.Transport) })
	if pw, ok := config.LookupEnv(config.CameraEnv(cam.ID, "password"), deprecatedCameraPassword); ok {
		cam.Password = pw
	}
	if cam.Username != "" && cam.Password == "" && (cam.Type == config.TypeHTTP || cam.Type == config.TypeRTSP) {
		pw, ok, err := promptSecret(os.Stdin, os.Stderr, fmt.Sprintf("password of %s for camera %s (or set %s): ", cam.Username, cam.ID, config.CameraEnv(cam.ID, "password")))
		if err != nil {
			return cam, err
		}
		if ok {
			cam.Password = pw
		}
	}
	if flags.Changed("timeout") {
		d, err := config.ParseDuration(o.timeout)
		if err != nil {
			return cam, fmt.Errorf("--timeout %q: %w", o.timeout, err)
		}
		cam.Timeout = d
	}
	return cam, nil
}

// pickCamera finds the camera id in cfg, or its only camera when id is empty.
func pickCamera(cfg *config.Config, id, file string) (config.Camera, error) {
	ids := make([]string, len(cfg.Cameras))
	for i, c := range cfg.Cameras {
		ids[i] = c.ID
	}
	switch {
	case len(cfg.Cameras) == 0:
		return config.Camera{}, fmt.Errorf("%s configures no cameras", file)
	case id == "" && len(cfg.Cameras) == 1:
		return cfg.Cameras[0], nil
	case id == "":
		return config.Camera{}, fmt.Errorf("%s configures %d cameras (%s): choose one with --camera ID",
			file, len(ids), strings.Join(ids, ", "))
	}
	if i := cfg.CameraIndex(id); i >= 0 {
		return cfg.Cameras[i], nil
	}
	return config.Camera{}, fmt.Errorf("%s has no camera %q: it configures %s", file, id, strings.Join(ids, ", "))
}
