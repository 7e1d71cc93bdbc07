package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/edgecam/edgecam/internal/emulator"
)

// emulatorOptions are the flags of edgecam-emulator.
type emulatorOptions struct {
	listenHost  string
	host        string
	hubPort     int
	hubs        int
	dpsPort     int
	servicePort int
	stateDir    string
	devices     []string
	enrollments []string
	groupKey    string
	idScope     string
	allocation  string
	webhook     string
	polls       int
	delay       time.Duration
	retryAfter  time.Duration
	names       []string
	blobURL     string
	blobKey     string
	container   string
}

func newEmulatorCmd() *cobra.Command {
	o := &emulatorOptions{}
	cmd := &cobra.Command{
		Use:   "edgecam-emulator",
		Short: "Run a local IoT Hub + DPS stand-in (no Azure account needed)",
		Long: `edgecam-emulator runs a local stand-in for Azure IoT Hub and the Device Provisioning Service (DPS),
speaking MQTT over TLS like the real services, so edgecam can be tried and tested without an
Azure account.

It serves one or more linked hubs (--hubs; hub N listens on --hub-port + N - 1) and a DPS
endpoint (--dps-port). Devices connect with a connection string (--device id=key) or register
through DPS with the demo group enrollment (--id-scope and --group-key, both with working
defaults) or an individual enrollment (--enrollment id=key). Every SAS token is checked
(signature, resource URI, expiry, skn) and the hub's rules are enforced: no QoS 2, one
connection per device, a device's own topics only, 5 subscriptions, 256 KB messages. Every
hub and DPS port also serves MQTT over WebSockets at /$iothub/websocket (azure.transport:
mqtt-ws). Hubs keep persistent sessions: cloud-to-device messages sent while a device with
CleanSession 0 is away wait for it; a clean-session device gets only those sent after it
subscribed.

The hubs also serve IoT Hub's file upload over HTTPS on their MQTT port: a device asks for a blob
SAS URI and gets a real one (a service SAS signed with the account key) for the container
--blob-container of the blob store --blob-url, by default Azurite's development account on
127.0.0.1:10000 (start it with: azurite-blob --inMemoryPersistence). Uploaded images appear
there as <device>/<time>.jpg.

The TLS certificates come from a CA the emulator generates once and keeps in --state-dir;
point the device's azure.caFile (or --ca-file) at the ca.pem printed on start.

It also serves the IoT Hub service REST API over HTTPS (--service-port): GET/PATCH
/twins/{id} and POST /twins/{id}/methods as the service SDKs (azure-iothub) call them, and
POST /devices/{id}/messages/deviceBound to send a cloud-to-device message (properties as
iothub-app-NAME headers), so IoT Central's commands and writable properties can be tried with
curl. Requests carry the printed service token in the Authorization header.

On start it prints the endpoints, the CA file, the service connection string and a service
token (also written to service.env in --state-dir, for curl), and a connection string per
--device; then every
telemetry message as one JSON line on stdout ({"received","hub","deviceId","modelId",
"properties","body"}). Connections, refusals (with the reason) and DPS registrations are logged
on stderr. It runs until interrupted (Ctrl-C or SIGTERM).`,
		Example: `  # the defaults: one hub on 127.0.0.1:8883, DPS on 127.0.0.1:8882 with the demo group key
  # (make run starts it on ports 28883-28885 instead)
  edgecam-emulator

  # then, in another terminal, register a device through its DPS
  EDGECAM_AZURE__DPS__GROUPENROLLMENTKEY=` + emulator.DemoGroupKey + ` \
    edgecam provision --endpoint 127.0.0.1:8882 --ca-file ~/.local/state/edgecam/emulator/ca.pem \
      --id-scope ` + emulator.DefaultIDScope + ` --registration-id cam1

  # a device with a connection string (a key is generated when none is given)
  edgecam-emulator --device cam1 --device cam2=c2VjcmV0LWtleS0xMjM0NTY3ODkw

  # two linked hubs, evenly weighted allocation, two 202 polls before each assignment
  edgecam-emulator --hubs 2 --dps-polls 2

  # a custom allocation policy calling your webhook (AllocationRequest in, AllocationResponse out)
  edgecam-emulator --hubs 2 --allocation custom --webhook http://localhost:7071/api/allocate

  # reachable from other machines as pi.local (added to the server certificate)
  edgecam-emulator --listen-host 0.0.0.0 --host pi.local`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runEmulator(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.listenHost, "listen-host", "127.0.0.1", "address to listen on (0.0.0.0 for every interface)")
	f.StringVar(&o.host, "host", "", "host name devices use to reach the emulator (default: the listen host, or localhost for 0.0.0.0)")
	f.IntVar(&o.hubPort, "hub-port", 8883, "port of the first hub; hub N uses hub-port + N - 1 (0: free ports)")
	f.IntVar(&o.hubs, "hubs", 1, "number of linked hubs")
	f.IntVar(&o.dpsPort, "dps-port", 8882, "port of the DPS endpoint (0: a free port)")
	f.IntVar(&o.servicePort, "service-port", 8443, "port of the HTTPS service API: twins, direct methods, cloud-to-device messages (0: a free port)")
	f.StringVar(&o.stateDir, "state-dir", defaultEmulatorStateDir(), "directory for the CA certificate (ca.pem) and key, reused across runs")
	f.StringArrayVar(&o.devices, "device", nil, "hub device `id[=key]` with a base64 key (generated when omitted); repeatable")
	f.StringArrayVar(&o.enrollments, "enrollment", nil, "DPS individual enrollment `id=key`; repeatable")
	f.StringVar(&o.groupKey, "group-key", emulator.DemoGroupKey, "DPS group enrollment key (\"\" for none); devices use the key derived from it and their registration ID")
	f.StringVar(&o.idScope, "id-scope", emulator.DefaultIDScope, "DPS ID scope")
	f.StringVar(&o.allocation, "allocation", "evenly", "DPS allocation policy across the hubs: evenly, hashed or custom")
	f.StringVar(&o.webhook, "webhook", "", "custom allocation webhook URL (with --allocation custom)")
	f.IntVar(&o.polls, "dps-polls", 0, "operation-status polls answered 202 \"assigning\" before each assignment")
	f.DurationVar(&o.delay, "dps-delay", 0, "least time between a registration request and its assignment")
	f.DurationVar(&o.retryAfter, "retry-after", time.Second, "retry-after sent with DPS 202 and 429 answers (whole seconds)")
	f.StringSliceVar(&o.names, "san", nil, "extra host names or IP addresses for the server certificate")
	f.StringVar(&o.blobURL, "blob-url", emulator.DefaultBlobURL, "blob service URL with the account, for file upload: Azurite's (path style) or https://ACCOUNT.blob.core.windows.net")
	f.StringVar(&o.blobKey, "blob-key", emulator.DefaultBlobKey, "the storage account key (base64) that signs the blob SAS URIs (default: Azurite's well-known development key)")
	f.StringVar(&o.container, "blob-container", emulator.DefaultBlobContainer, "container receiving file uploads (created when missing)")
	return cmd
}

// defaultEmulatorStateDir is $XDG_STATE_HOME/edgecam/emulator, or ~/.local/state/edgecam/emulator.
func defaultEmulatorStateDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "edgecam", "emulator")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "edgecam", "emulator")
	}
	return "edgecam-emulator"
}

func (o *emulatorOptions) config(stdout io.Writer) (emulator.Config, []string, error) {
	if o.hubs < 1 {
		return emulator.Config{}, nil, fmt.Errorf("--hubs %d: at least one hub is needed", o.hubs)
	}
	if o.hubPort < 0 || o.hubPort+o.hubs-1 > 65535 || o.dpsPort < 0 || o.dpsPort > 65535 {
		return emulator.Config{}, nil, errors.New("--hub-port and --dps-port must be ports between 0 and 65535")
	}
	if o.hubPort != 0 && o.dpsPort >= o.hubPort && o.dpsPort < o.hubPort+o.hubs {
		return emulator.Config{}, nil, fmt.Errorf("--dps-port %d collides with the hub ports %d-%d", o.dpsPort, o.hubPort, o.hubPort+o.hubs-1)
	}
	if o.servicePort < 0 || o.servicePort > 65535 {
		return emulator.Config{}, nil, errors.New("--service-port must be a port between 0 and 65535")
	}
	if o.servicePort != 0 && (o.servicePort == o.dpsPort || o.hubPort != 0 && o.servicePort >= o.hubPort && o.servicePort < o.hubPort+o.hubs) {
		return emulator.Config{}, nil, fmt.Errorf("--service-port %d collides with the hub or DPS ports", o.servicePort)
	}
	policy, err := emulator.ParseAllocationPolicy(o.allocation)
	if err != nil {
		return emulator.Config{}, nil, fmt.Errorf("--allocation: %w", err)
	}
	if policy == emulator.AllocateCustom && o.webhook == "" {
		return emulator.Config{}, nil, errors.New("--allocation custom needs --webhook URL")
	}
	names := o.names
	if ip := net.ParseIP(o.listenHost); ip != nil && ip.IsUnspecified() {
		// Reachable from other machines: let them use this machine's name too.
		if h, err := os.Hostname(); err == nil {
			names = append(names, h)
		}
	}
	cfg := emulator.Config{
		StateDir:        o.stateDir,
		ExtraNames:      names,
		TelemetryOutput: stdout,
		TelemetryLimit:  10000,
		FileUpload:      emulator.FileUploadConfig{BlobURL: o.blobURL, BlobKey: o.blobKey, Container: o.container},
		Logger:          slog.Default(),
		Service:         emulator.ServiceConfig{Listen: net.JoinHostPort(o.listenHost, strconv.Itoa(o.servicePort)), Host: o.host},
		DPS: emulator.DPSConfig{
			Listen:           net.JoinHostPort(o.listenHost, strconv.Itoa(o.dpsPort)),
			Host:             o.host,
			IDScope:          o.idScope,
			Allocation:       policy,
			WebhookURL:       o.webhook,
			AssignAfterPolls: o.polls,
			AssignDelay:      o.delay,
			RetryAfter:       o.retryAfter,
		},
	}
	for i := range o.hubs {
		port := 0
		if o.hubPort != 0 {
			port = o.hubPort + i
		}
		cfg.Hubs = append(cfg.Hubs, emulator.HubConfig{Listen: net.JoinHostPort(o.listenHost, strconv.Itoa(port)), Host: o.host})
	}
	var ids []string
	for _, d := range o.devices {
		id, key, err := idKey("--device", d, true)
		if err != nil {
			return emulator.Config{}, nil, err
		}
		cfg.Devices = append(cfg.Devices, emulator.Device{ID: id, Key: key})
		ids = append(ids, id)
	}
	for _, en := range o.enrollments {
		id, key, err := idKey("--enrollment", en, false)
		if err != nil {
			return emulator.Config{}, nil, err
		}
		cfg.DPS.Enrollments = append(cfg.DPS.Enrollments, emulator.Enrollment{RegistrationID: id, Key: key})
	}
	if o.groupKey != "" {
		if err := checkKey(o.groupKey); err != nil {
			return emulator.Config{}, nil, fmt.Errorf("--group-key: %w", err)
		}
		cfg.DPS.Groups = []emulator.Group{{Name: "demo", Key: o.groupKey}}
	}
	return cfg, ids, nil
}

// idKey parses "id=key" (or "id" when a key may be generated).
func idKey(flag, s string, generate bool) (string, string, error) {
	id, key, hasKey := strings.Cut(s, "=")
	if id == "" {
		return "", "", fmt.Errorf("%s %q: want id=key", flag, s)
	}
	if !hasKey || key == "" {
		if !generate {
			return "", "", fmt.Errorf("%s %s: a key is needed (id=base64key)", flag, id)
		}
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return "", "", err
		}
		return id, base64.StdEncoding.EncodeToString(b), nil
	}
	if err := checkKey(key); err != nil {
		return "", "", fmt.Errorf("%s %s: %w", flag, id, err)
	}
	return id, key, nil
}

func checkKey(key string) error {
	if b, err := base64.StdEncoding.DecodeString(key); err != nil || len(b) == 0 {
		return errors.New("the key is not valid base64 (like the keys the Azure portal shows)")
	}
	return nil
}

func runEmulator(cmd *cobra.Command, o *emulatorOptions) error {
	out := cmd.OutOrStdout()
	cfg, ids, err := o.config(out)
	if err != nil {
		return err
	}
	parent := cmd.Context()
	if parent == nil {
		parent = context.Background()
	}
	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer stop()
	e, err := emulator.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer e.Close()

	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for i, h := range e.HubHosts() {
		fmt.Fprintf(tw, "hub %d:\t%s\n", i+1, h)
	}
	fmt.Fprintf(tw, "dps:\t%s\n", e.DPSHost())
	fmt.Fprintf(tw, "id scope:\t%s\n", e.IDScope())
	if o.groupKey != "" {
		fmt.Fprintf(tw, "group key:\t%s\n", o.groupKey)
	}
	fmt.Fprintf(tw, "ca file:\t%s\n", e.CAFile())
	fmt.Fprintf(tw, "service api:\thttps://%s\n", e.ServiceHost())
	fmt.Fprintf(tw, "service connection string:\t%s\n", e.ServiceConnectionString())
	tok, err := e.ServiceToken(24 * time.Hour)
	if err != nil {
		return err
	}
	fmt.Fprintf(tw, "service token (24 h):\t%s\n", tok)
	// For curl: . STATE/service.env; curl --cacert STATE/ca.pem -H "Authorization: $SERVICE_TOKEN" ...
	env := "SERVICE_URL='https://" + e.ServiceHost() + "'\nSERVICE_TOKEN='" + tok + "'\nSERVICE_CONNECTION_STRING='" + e.ServiceConnectionString() + "'\n"
	envFile := filepath.Join(o.stateDir, "service.env")
	if err := os.WriteFile(envFile, []byte(env), 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", envFile, err)
	}
	fmt.Fprintf(tw, "service env file:\t%s\n", envFile)
	fmt.Fprintf(tw, "file uploads:\t%s\n", e.BlobContainerURL())
	// To look at the uploads: . STATE/files.env; curl "$FILES_URL&restype=container&comp=list"
	filesURL, err := e.BlobContainerReadURL(24 * time.Hour)
	if err != nil {
		return err
	}
	filesEnv := filepath.Join(o.stateDir, "files.env")
	if err := os.WriteFile(filesEnv, []byte("FILES_URL='"+filesURL+"'\n"), 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", filesEnv, err)
	}
	fmt.Fprintf(tw, "file uploads env file:\t%s\n", filesEnv)
	for _, id := range ids {
		cs, err := e.ConnectionString(id)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "device %s:\t%s\n", id, cs)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}
