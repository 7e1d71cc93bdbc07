package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/iothub"
)

// provisionOptions are the flags of edgecam provision.
type provisionOptions struct {
	idScope, registrationID string
	groupKey, deviceKey     string
	modelID, endpoint       string
	caFile, stateDir        string
	payload                 string
	force, json             bool
	timeout                 time.Duration
	configFile, camera      string
	deriveKey               string
}

// Environment variables the provision flags fall back to, so keys need not be on the command
// line (where other users can see them in the process list): the configuration's names, so one
// secrets.env serves the daemon and provision. The older EDGECAM_DPS_* names still work for one
// release, with a warning.
var provisionEnv = map[string]struct{ name, deprecated string }{
	"id-scope":        {config.EnvIDScope, "EDGECAM_DPS_ID_SCOPE"},
	"registration-id": {"EDGECAM_DPS_REGISTRATION_ID", ""}, // no configuration key: the camera id
	"group-key":       {config.EnvGroupEnrollmentKey, "EDGECAM_DPS_GROUP_KEY"},
	"device-key":      {config.EnvDPSDeviceKey, "EDGECAM_DPS_DEVICE_KEY"},
	"model-id":        {config.EnvModelID, "EDGECAM_DPS_MODEL_ID"},
	"endpoint":        {config.EnvGlobalEndpoint, "EDGECAM_DPS_ENDPOINT"},
	"ca-file":         {config.EnvCAFile, "EDGECAM_DPS_CA_FILE"},
}

func newProvisionCmd() *cobra.Command {
	o := &provisionOptions{}
	cmd := &cobra.Command{
		Use:   "provision",
		Short: "Register the device with Azure DPS (or IoT Central) and show its assignment",
		Long: `provision registers a device with the Azure IoT Hub Device Provisioning Service over MQTT,
using a symmetric key: the enrollment group key (the device key is derived from it and the
registration ID) or the device's individual enrollment key. It prints the assigned hub,
device ID, status, substatus and the optional payload of a custom allocation policy, so an
ID scope and key can be checked before deploying.

With --config FILE --camera ID the settings come from edgecam's configuration (the camera's id
is the registration ID) and the assignment is cached where the daemon keeps it, so the daemon
reuses it; flags and the variables below still win over the file.

With --state-dir the assignment is cached in that directory (as the daemon does) and reused
by later runs; --force registers again anyway. Without --state-dir it always registers and
caches nothing.

Keys come from the environment (or --config), never from the command line, under the
configuration's names (the same as in /etc/edgecam/secrets.env):
  EDGECAM_AZURE__DPS__GROUPENROLLMENTKEY, EDGECAM_AZURE__DPS__DEVICEKEY, and likewise
  EDGECAM_AZURE__DPS__IDSCOPE, EDGECAM_AZURE__DPS__GLOBALENDPOINT, EDGECAM_AZURE__MODELID,
  EDGECAM_AZURE__CAFILE, and EDGECAM_DPS_REGISTRATION_ID. Flags win over the environment. The
  older names EDGECAM_DPS_GROUP_KEY, EDGECAM_DPS_DEVICE_KEY, ... still work this release, with a
  warning.`,
		Example: `  # IoT Central: ID scope and group key from Permissions > Device connection groups
  EDGECAM_AZURE__DPS__GROUPENROLLMENTKEY='...' edgecam provision --id-scope 0ne00ABCDEF --registration-id cam1 \
      --model-id 'dtmi:edgecam:Camera;1'

  # against the local emulator started with plain "edgecam-emulator" (DPS on 127.0.0.1:8882,
  # its demo ID scope and group key; it prints the CA file to trust)
  EDGECAM_AZURE__DPS__GROUPENROLLMENTKEY=ZWRnZWNhbS1lbXVsYXRvci1kZW1vLWdyb3VwLWVucm9sbG1lbnQta2V5LTIwMjYhIQ== \
    edgecam provision --endpoint 127.0.0.1:8882 --ca-file ~/.local/state/edgecam/emulator/ca.pem \
      --id-scope 0ne0000DEMO --registration-id cam1 --model-id 'dtmi:edgecam:Camera;1'

  # the DPS settings of a configured camera (azure.dps.*, azure.modelId, azure.caFile), with
  # the daemon's assignment cache in state.dir/dps (--force to register again)
  edgecam provision --config /etc/edgecam/config.yaml --camera garage

  # a camera's own key, computed off the device from the group key (the group key then stays
  # on the admin's machine; the camera gets only cameras[].deviceKey)
  EDGECAM_AZURE__DPS__GROUPENROLLMENTKEY='...' edgecam provision --derive-key garage

  # cache the assignment like the daemon, as JSON
  edgecam provision --id-scope 0ne00ABCDEF --registration-id cam1 --state-dir /var/lib/edgecam --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runProvision(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.idScope, "id-scope", "", "DPS ID scope, e.g. 0ne00ABCDEF (env EDGECAM_AZURE__DPS__IDSCOPE)")
	f.StringVar(&o.registrationID, "registration-id", "", "registration ID = device ID (env EDGECAM_DPS_REGISTRATION_ID)")
	f.StringVar(&o.groupKey, "group-key", "", "enrollment group symmetric key; the device key is derived (env EDGECAM_AZURE__DPS__GROUPENROLLMENTKEY)")
	f.StringVar(&o.deviceKey, "device-key", "", "individual enrollment (device) key (env EDGECAM_AZURE__DPS__DEVICEKEY)")
	f.StringVar(&o.modelID, "model-id", "", "DTDL model ID sent with the registration, e.g. dtmi:edgecam:Camera;1 (env EDGECAM_AZURE__MODELID)")
	f.StringVar(&o.endpoint, "endpoint", "", "DPS endpoint host[:port] (default "+iothub.DefaultDPSEndpoint+"; env EDGECAM_AZURE__DPS__GLOBALENDPOINT)")
	f.StringVar(&o.caFile, "ca-file", "", "PEM file of an extra CA to trust, e.g. the emulator's (env EDGECAM_AZURE__CAFILE)")
	f.StringVar(&o.stateDir, "state-dir", "", "cache the assignment in this directory and reuse it")
	f.StringVar(&o.payload, "payload", "", "JSON object sent as the registration payload (for custom allocation policies)")
	f.BoolVar(&o.force, "force", false, "register even when --state-dir holds an assignment")
	f.BoolVar(&o.json, "json", false, "print the assignment as JSON")
	f.DurationVar(&o.timeout, "timeout", 2*time.Minute, "give up after this long")
	f.StringVarP(&o.configFile, "config", "c", "", "take the DPS settings from this edgecam configuration (with --camera)")
	f.StringVar(&o.camera, "camera", "", "the configured camera to register (with --config)")
	// A key on the command line is visible to every user in the process list: the flags work for
	// one more release, with a warning, and are hidden from the help.
	_ = f.MarkDeprecated("group-key", "a key on the command line is visible to every user: set "+config.EnvGroupEnrollmentKey+" instead (the flag goes in the next release)")
	_ = f.MarkDeprecated("device-key", "a key on the command line is visible to every user: set "+config.EnvDPSDeviceKey+" instead (the flag goes in the next release)")
	f.StringVar(&o.deriveKey, "derive-key", "", "print the device key of registration `ID` derived from the group key (EDGECAM_AZURE__DPS__GROUPENROLLMENTKEY), without contacting DPS; put it in cameras[].deviceKey so the group key stays off the device")
	return cmd
}

func runProvision(cmd *cobra.Command, o *provisionOptions) error {
	if o.deriveKey != "" {
		return deriveKey(cmd, o)
	}
	if err := provisionFromConfig(cmd, o); err != nil {
		return err
	}
	for flag, dst := range map[string]*string{
		"id-scope": &o.idScope, "registration-id": &o.registrationID, "group-key": &o.groupKey,
		"device-key": &o.deviceKey, "model-id": &o.modelID, "endpoint": &o.endpoint, "ca-file": &o.caFile,
	} {
		if !cmd.Flags().Changed(flag) {
			if v, ok := config.LookupEnv(provisionEnv[flag].name, provisionEnv[flag].deprecated); ok {
				*dst = v
			}
		}
	}
	switch {
	case o.idScope == "":
		return errors.New("--id-scope is required (or " + config.EnvIDScope + ")")
	case o.registrationID == "":
		return errors.New("--registration-id is required (or EDGECAM_DPS_REGISTRATION_ID)")
	case o.groupKey == "" && o.deviceKey == "":
		return errors.New("a key is required: " + config.EnvGroupEnrollmentKey + " for a group enrollment, or " + config.EnvDPSDeviceKey + " for an individual one")
	case o.groupKey != "" && o.deviceKey != "":
		return errors.New("give either a group key or a device key, not both")
	case o.force && o.stateDir == "":
		return errors.New("--force needs --state-dir (without it provision always registers)")
	}
	dps := iothub.DPSOptions{
		GlobalEndpoint: o.endpoint, IDScope: o.idScope, RegistrationID: o.registrationID,
		Key: o.deviceKey, GroupKey: o.groupKey, ModelID: o.modelID, CAFile: o.caFile,
	}
	if o.payload != "" {
		if !json.Valid([]byte(o.payload)) {
			return errors.New("--payload is not valid JSON")
		}
		dps.Payload = json.RawMessage(o.payload)
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout)
	defer cancel()
	var (
		a   iothub.Assignment
		err error
	)
	if o.stateDir != "" {
		a, err = iothub.RegisterCached(ctx, dps, o.stateDir, o.force)
	} else {
		a, err = iothub.Register(ctx, dps)
	}
	if err != nil {
		return err
	}
	return printAssignment(cmd, a, o.json)
}

// deriveKey prints the device key of --derive-key ID: HMAC-SHA256 of the ID under the group key,
// as DPS computes it for a group enrollment.
func deriveKey(cmd *cobra.Command, o *provisionOptions) error {
	groupKey := o.groupKey
	if !cmd.Flags().Changed("group-key") {
		groupKey, _ = config.LookupEnv(provisionEnv["group-key"].name, provisionEnv["group-key"].deprecated)
	}
	if groupKey == "" {
		return errors.New("--derive-key needs the group key in " + config.EnvGroupEnrollmentKey + " (the environment keeps it out of the process list)")
	}
	if err := config.CheckRegistrationID(o.deriveKey); err != nil {
		return fmt.Errorf("--derive-key: %w", err)
	}
	key, err := iothub.DeriveDeviceKey(groupKey, o.deriveKey)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(cmd.OutOrStdout(), key)
	return err
}

func printAssignment(cmd *cobra.Command, a iothub.Assignment, asJSON bool) error {
	out := cmd.OutOrStdout()
	if asJSON {
		v := struct {
			iothub.Assignment
			Cached bool `json:"cached"`
		}{a, a.Cached}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	source := "DPS registration"
	if a.Cached {
		source = "cached assignment (--force to register again)"
	}
	payload := "-"
	if len(a.Payload) > 0 {
		payload = string(a.Payload)
	}
	substatus := a.Substatus
	if substatus == "" {
		substatus = "-"
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "hub:\t%s\n", a.AssignedHub)
	fmt.Fprintf(tw, "device ID:\t%s\n", a.DeviceID)
	fmt.Fprintf(tw, "status:\t%s\n", a.Status)
	fmt.Fprintf(tw, "substatus:\t%s\n", substatus)
	fmt.Fprintf(tw, "payload:\t%s\n", payload)
	fmt.Fprintf(tw, "source:\t%s\n", source)
	return tw.Flush()
}

// provisionFromConfig fills the options the command line left unset from the configuration of
// the camera --camera, as the daemon would register it.
func provisionFromConfig(cmd *cobra.Command, o *provisionOptions) error {
	if o.configFile == "" {
		if o.camera != "" {
			return errors.New("--camera needs --config")
		}
		return nil
	}
	cfg, err := config.Load(config.LoadOptions{File: o.configFile, Only: []string{"azure", "state"}})
	if err != nil {
		return err
	}
	if o.camera == "" {
		return errors.New("--config needs --camera ID: the camera (device) to register")
	}
	if cfg.CameraIndex(o.camera) < 0 {
		return fmt.Errorf("--camera %q: no such camera in %s", o.camera, o.configFile)
	}
	az := cfg.Azure
	if az.DPS.IDScope == "" {
		return fmt.Errorf("%s: azure.dps.idScope is not set: this camera connects by connection string, not through DPS", o.configFile)
	}
	set := func(flag string, dst *string, v string) {
		if !cmd.Flags().Changed(flag) {
			*dst = v
		}
	}
	set("id-scope", &o.idScope, az.DPS.IDScope)
	set("registration-id", &o.registrationID, o.camera)
	cam := cfg.Cameras[cfg.CameraIndex(o.camera)]
	if cam.DeviceKey == "" && cam.DeviceKeyFile != "" {
		b, err := os.ReadFile(cam.DeviceKeyFile)
		if err != nil {
			return fmt.Errorf("cameras[].deviceKeyFile of %q: %w", o.camera, err)
		}
		cam.DeviceKey = strings.TrimSpace(string(b))
	}
	if cam.DeviceKey != "" {
		set("device-key", &o.deviceKey, cam.DeviceKey)
	} else {
		set("group-key", &o.groupKey, az.DPS.GroupEnrollmentKey)
		set("device-key", &o.deviceKey, az.DPS.DeviceKey)
	}
	set("model-id", &o.modelID, az.ModelID)
	set("endpoint", &o.endpoint, az.DPS.GlobalEndpoint)
	set("ca-file", &o.caFile, az.CAFile)
	set("state-dir", &o.stateDir, filepath.Join(cfg.State.Dir, "dps"))
	return nil
}
