package config

import (
	"fmt"
	"maps"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"

	"github.com/edgecam/edgecam/internal/iothub"
	"github.com/edgecam/edgecam/internal/onnxmodel"
)

// Warnings are settings that are valid but probably not what was meant, each with its key.
func (c *Config) Warnings() []string {
	var w []string
	if c.Azure.CAFile != "" {
		if host, key := c.azureHost(); host != "" && !isLoopback(host) {
			w = append(w, fmt.Sprintf("azure.caFile: %s is trusted for %s (%s), which is not this machine: a CA file is for the local emulator; "+
				"Azure's certificates chain to public roots, so leave caFile empty for Azure, or make sure the file holds only a CA you control", c.Azure.CAFile, host, key))
		}
	}
	w = append(w, c.thresholdWarnings()...)
	if data, err := os.ReadFile(c.Model.Path); err == nil {
		if info, err := onnxmodel.Parse(data); err == nil && info.DynamicInt8() {
			w = append(w, fmt.Sprintf("model.path: %s is dynamically quantized (%d ConvInteger nodes fed by DynamicQuantizeLinear): ONNX Runtime's CPU kernels for it are no faster than fp32 "+
				"(slower for some models), and its scores differ; use the fp32 export, or a statically quantized (QDQ) one measured faster on this machine (docs/models.md)", c.Model.Path, info.Ops["ConvInteger"]))
		}
	}
	for i, cam := range c.Cameras {
		if cam.DeviceKeyFile == "" {
			continue
		}
		if st, err := os.Stat(cam.DeviceKeyFile); err == nil && st.Mode().Perm()&0o077 != 0 {
			w = append(w, fmt.Sprintf("cameras[%d].deviceKeyFile: %s is readable by other users (mode %v): chmod 600 it, owned by the user edgecam runs as", i, cam.DeviceKeyFile, st.Mode().Perm()))
		}
	}
	return w
}

// MeasuredOptimum is, per model file name, the single scoreThreshold with the least count error
// on coco128 (person, bicycle, car, motorcycle, bus, truck; docs/models.md says how it was
// measured). Other COCO-80 models are compared with DefaultScoreThreshold.
var MeasuredOptimum = map[string]float64{
	"yolov5n.onnx":      0.22,
	"yolo11n.onnx":      0.22, // 0.21 and 0.22 tie
	"yolo11n-int8.onnx": 0.20,
	"yolo11n-320.onnx":  0.17,
	"yolo26n.onnx":      0.16, // 0.10-0.16 within 0.01
}

// OptimumSlack is how far a scoreThreshold may be from the measured optimum before config check
// says so.
const OptimumSlack = 0.2

// optimum returns the measured best threshold for the configured model and what it was measured
// for; ok is false for a model with its own classes (its scores are its own).
func (c *Config) optimum() (t float64, what string, ok bool) {
	name := filepath.Base(c.Model.Path)
	if t, ok := MeasuredOptimum[name]; ok {
		return t, name, true
	}
	if c.Classes.IsCOCO() {
		return DefaultScoreThreshold, "COCO models", true
	}
	return 0, "", false
}

// thresholdWarnings flags score thresholds below the detector's floor, which act as the floor,
// and thresholds far from the measured optimum.
func (c *Config) thresholdWarnings() []string {
	var w []string
	check := func(key string, t float64) {
		if t < DetectorFloor {
			w = append(w, fmt.Sprintf("%s: %v is below the detector's floor %v, so it acts as %v", key, t, DetectorFloor, DetectorFloor))
			return
		}
		opt, what, ok := c.optimum()
		if ok && math.Abs(t-opt) > OptimumSlack+1e-9 {
			more := "counts more false detections"
			if t > opt {
				more = "misses objects"
			}
			w = append(w, fmt.Sprintf("%s: %v is far from %v, the threshold with the least count error measured for %s on coco128 photos: it probably %s. "+
				"`edgecam eval` measures the best one for a camera from ~20 labelled frames (docs/models.md); keep %v if it is what you mean",
				key, t, opt, what, more, t))
		}
	}
	// A label's minScore may differ from the optimum on purpose; only the floor applies to it.
	floor := func(key string, filters map[string]Filter) {
		for _, l := range slices.Sorted(maps.Keys(filters)) {
			if t := filters[l].MinScore; t > 0 && t < DetectorFloor {
				w = append(w, fmt.Sprintf("%s.filters.%s.minScore: %v is below the detector's floor %v, so it acts as %v", key, l, t, DetectorFloor, DetectorFloor))
			}
		}
	}
	check("detection.scoreThreshold", c.Detection.ScoreThreshold)
	floor("detection", c.Detection.Filters)
	for i, cam := range c.Cameras {
		if cam.Detection != nil && cam.Detection.ScoreThreshold != nil {
			check(fmt.Sprintf("cameras[%d].detection.scoreThreshold", i), *cam.Detection.ScoreThreshold)
		}
		if cam.Detection != nil {
			floor(fmt.Sprintf("cameras[%d].detection", i), cam.Detection.Filters)
		}
	}
	return w
}

// azureHost is the host the device dials first, with the key it comes from.
func (c *Config) azureHost() (host, key string) {
	hostport := c.Azure.DPS.GlobalEndpoint
	key = "azure.dps.globalEndpoint"
	if c.Azure.ConnectionString != "" {
		cs, err := iothub.ParseConnectionString(c.Azure.ConnectionString)
		if err != nil {
			return "", ""
		}
		hostport, key = cs.HostName, "azure.connectionString HostName"
		if cs.GatewayHostName != "" {
			hostport, key = cs.GatewayHostName, "azure.connectionString GatewayHostName"
		}
	}
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h, key
	}
	return hostport, key
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
