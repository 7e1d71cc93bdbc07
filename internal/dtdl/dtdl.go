// Package dtdl writes the DTDL v2 model of an edgecam device, the document IoT Central imports as
// a device template, and checks DTDL documents against the language rules that matter for it.
//
// The names of the model's properties and commands are exported as constants so that the daemon
// reports, accepts and answers exactly what the model declares.
//
// Sources: the DTDL v2 language description (github.com/Azure/opendigitaltwins-dtdl,
// DTDL/v2/DTDL.v2.md) and the IoT Central docs (concepts-device-templates.md,
// concepts-telemetry-properties-commands.md).
package dtdl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/edgecam/edgecam/internal/classes"
	"github.com/edgecam/edgecam/internal/coco"
	"github.com/edgecam/edgecam/internal/config"
)

// Context is the JSON-LD context of DTDL version 2, the version IoT Central supports.
const Context = "dtmi:dtdl:context;2"

// Writable properties: IoT Central sets them as desired properties; the device acknowledges each
// with {"value":..,"ac":..,"av":..,"ad":..} in its reported properties.
const (
	// ImageTimerDue is the delay before the first capture (DTDL duration, e.g. "PT5S").
	ImageTimerDue = "ImageTimerDue"
	// ImageTimerPeriod is the time between captures (DTDL duration, e.g. "PT30S").
	ImageTimerPeriod = "ImageTimerPeriod"
	// PredictionScoreThreshold is the minimum detection score counted, 0 to 1 (double).
	PredictionScoreThreshold = "PredictionScoreThreshold"
	// PredictionLabelsOfInterest is the comma-separated list of labels counted; empty counts all.
	PredictionLabelsOfInterest = "PredictionLabelsOfInterest"
	// PredictionLabelsMinimum is the comma-separated list of labels always sent, 0 when unseen.
	PredictionLabelsMinimum = "PredictionLabelsMinimum"
	// PredictionFilters are the per-label filters, one string such as
	// "bus: minScore=0.6; person: minArea=0.01, maxArea=0.5"; empty means none.
	PredictionFilters = "PredictionFilters"
)

// Read-only properties the device reports when it connects.
const (
	ApplicationVersion = "ApplicationVersion" // edgecam version (string)
	OSVersion          = "OSVersion"          // operating system and architecture (string)
	MachineName        = "MachineName"        // host name (string)
	ModelPath          = "ModelPath"          // ONNX model file (string)
	ModelClasses       = "ModelClasses"       // number of classes the model predicts (integer)
	CameraKind         = "CameraKind"         // camera type, one of config.Kinds (string)
)

// Commands, sent by IoT Central as direct methods (or, queued while offline, as cloud-to-device
// messages carrying a method-name property).
const (
	// ImageTimerStart resumes the camera's timed captures.
	ImageTimerStart = "ImageTimerStart"
	// ImageTimerStop pauses the camera's timed captures until ImageTimerStart.
	ImageTimerStop = "ImageTimerStop"
	// CaptureNow captures and scores one frame at once and answers the tally, a map of
	// telemetry name (coco.SafeName of the label) to count: {"person":3,"bus":1}.
	CaptureNow = "CaptureNow"
)

// Options selects what the Interface declares.
type Options struct {
	// ModelID is the Interface's @id, the DTMI the device sends as its model ID
	// (e.g. "dtmi:com:example:edgecam;1").
	ModelID string
	// Classes are the model's class names; the zero value is COCO-80.
	Classes classes.Set
	// Labels are the labels of Classes that get a Telemetry, in any order and spelling
	// classes.Set.Lookup accepts; empty means all of them.
	Labels []string
	// Zones get one Telemetry per label, named "<zone>_<label>" as the daemon sends it.
	Zones []Zone
	// Lines (counting lines) get four Telemetries per label: "<line>_<label>_in" and "_out"
	// (crossings since the previous message), "_inTotal" and "_outTotal" (running totals).
	Lines []Zone
}

// Zone is a zone's part of the model: its name and the labels that get a Telemetry (in any
// spelling classes.Set.Lookup accepts; empty means Options.Labels).
type Zone struct {
	Name   string
	Labels []string
}

// Interface returns the DTDL v2 Interface of an edgecam camera as indented JSON: one integer
// Telemetry per label, named coco.SafeName(label) (the key the daemon sends), the writable and
// read-only Properties and the Commands named by this package's constants.
func Interface(opts Options) ([]byte, error) {
	if err := ValidateModelID(opts.ModelID); err != nil {
		return nil, err
	}
	labels, err := canonicalLabels(opts.Classes, opts.Labels)
	if err != nil {
		return nil, err
	}

	doc := iface{
		Context:     Context,
		ID:          opts.ModelID,
		Type:        "Interface",
		DisplayName: "edgecam smart camera",
		Description: "A camera that counts the objects a YOLO model detects in its frames, per label (and per zone), and sends the tally as telemetry.",
	}
	doc.Contents, err = telemetries(opts, labels)
	if err != nil {
		return nil, err
	}
	doc.Contents = append(doc.Contents, operations()...)

	if n := len(doc.Contents); n > maxContents {
		return nil, fmt.Errorf("the model would hold %d telemetries, properties and commands, more than the %d DTDL allows: "+
			"model fewer labels (edgecam dtdl --labels minimum or interest) or give the zones their own labels", n, maxContents)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encode the DTDL interface: %w", err)
	}
	return buf.Bytes(), nil
}

// telemetries declares one integer Telemetry per label, then one per zone and label
// ("<zone>_<label>").
func telemetries(opts Options, labels []string) ([]element, error) {
	var out []element
	for _, l := range labels {
		out = append(out, element{
			Type:        "Telemetry",
			Name:        coco.SafeName(l),
			DisplayName: l,
			Schema:      "integer",
		})
	}
	seen := map[string]bool{}
	for _, z := range opts.Zones {
		zl := labels
		if len(z.Labels) > 0 {
			var err error
			if zl, err = canonicalLabels(opts.Classes, z.Labels); err != nil {
				return nil, fmt.Errorf("zone %s: %w", z.Name, err)
			}
		}
		for _, l := range zl {
			name := z.Name + "_" + coco.SafeName(l)
			if seen[name] {
				continue // two cameras with a zone of the same name share its telemetry
			}
			seen[name] = true
			out = append(out, element{
				Type:        "Telemetry",
				Name:        name,
				DisplayName: displayName(z.Name + ": " + l),
				Schema:      "integer",
			})
		}
	}
	for _, z := range opts.Lines {
		zl := labels
		if len(z.Labels) > 0 {
			var err error
			if zl, err = canonicalLabels(opts.Classes, z.Labels); err != nil {
				return nil, fmt.Errorf("line %s: %w", z.Name, err)
			}
		}
		for _, l := range zl {
			for _, k := range []struct{ suffix, what string }{
				{"_in", "in"}, {"_out", "out"}, {"_inTotal", "in, total"}, {"_outTotal", "out, total"},
			} {
				name := z.Name + "_" + coco.SafeName(l) + k.suffix
				if seen[name] {
					continue
				}
				seen[name] = true
				out = append(out, element{
					Type:        "Telemetry",
					Name:        name,
					DisplayName: displayName(z.Name + ": " + l + " " + k.what),
					Schema:      "integer",
				})
			}
		}
	}
	return out, nil
}

// operations declares the writable and read-only Properties and the Commands.
func operations() []element {
	return []element{
		property(ImageTimerDue, "Image timer due", "duration", true,
			"Delay before the first capture, as an ISO 8601 duration such as PT5S."),
		property(ImageTimerPeriod, "Image timer period", "duration", true,
			"Time between captures, as an ISO 8601 duration such as PT30S or PT5M."),
		property(PredictionScoreThreshold, "Prediction score threshold", "double", true,
			"Minimum score, from 0 to 1, of a detection that is counted."),
		property(PredictionLabelsOfInterest, "Labels of interest", "string", true,
			"Comma-separated labels to count (e.g. person,car,bus). Empty counts every label."),
		property(PredictionLabelsMinimum, "Labels always sent", "string", true,
			"Comma-separated labels sent in every tally, with 0 when none is seen."),
		property(PredictionFilters, "Per-label filters", "string", true,
			"Per-label filters applied before counting, e.g. bus: minScore=0.6; person: minArea=0.01, maxArea=0.5 (areas in fractions of the frame). Empty: none."),
		property(ApplicationVersion, "Application version", "string", false, "edgecam version."),
		property(OSVersion, "Operating system", "string", false, "Operating system and architecture."),
		property(MachineName, "Machine name", "string", false, "Host name of the machine running edgecam."),
		property(ModelPath, "Model file", "string", false, "ONNX model file the detections come from."),
		property(ModelClasses, "Model classes", "integer", false, "Number of classes the model predicts."),
		property(CameraKind, "Camera kind", "string", false, "Camera type: "+config.KindList("")+"."),
		element{
			Type:        "Command",
			Name:        ImageTimerStart,
			DisplayName: "Start image timer",
			Description: "Resume timed captures.",
		},
		element{
			Type:        "Command",
			Name:        ImageTimerStop,
			DisplayName: "Stop image timer",
			Description: "Pause timed captures until Start image timer.",
		},
		element{
			Type:        "Command",
			Name:        CaptureNow,
			DisplayName: "Capture now",
			Description: "Capture and score one frame now; the response is the tally.",
			Response: &payload{
				Name:        "tally",
				DisplayName: "Tally",
				Schema: mapSchema{
					Type:     "Map",
					MapKey:   mapPart{Name: "label", Schema: "string"},
					MapValue: mapPart{Name: "count", Schema: "integer"},
				},
			},
		},
	}
}

// displayName keeps a display name within DTDL's 64 characters.
func displayName(s string) string {
	r := []rune(s)
	if len(r) <= maxDisplayNameLen {
		return s
	}
	return string(r[:maxDisplayNameLen-1]) + "…"
}

func property(name, display, schema string, writable bool, description string) element {
	return element{Type: "Property", Name: name, DisplayName: display, Description: description, Schema: schema, Writable: writable}
}

// canonicalLabels maps labels to their canonical names in set, in model index order without
// duplicates; no labels means all of set's.
func canonicalLabels(set classes.Set, in []string) ([]string, error) {
	if len(in) == 0 {
		return set.Names(), nil
	}
	canon, err := set.Canonical(in)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(canon))
	for _, n := range set.Names() {
		if slices.Contains(canon, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// The JSON shapes of the generated document. Field order is the output order.
type iface struct {
	Context     string    `json:"@context"`
	ID          string    `json:"@id"`
	Type        string    `json:"@type"`
	DisplayName string    `json:"displayName"`
	Description string    `json:"description,omitempty"`
	Contents    []element `json:"contents"`
}

type element struct {
	Type        string   `json:"@type"`
	Name        string   `json:"name"`
	DisplayName string   `json:"displayName,omitempty"`
	Description string   `json:"description,omitempty"`
	Schema      any      `json:"schema,omitempty"`
	Writable    bool     `json:"writable,omitempty"`
	Response    *payload `json:"response,omitempty"`
}

type payload struct {
	Name        string `json:"name"`
	DisplayName string `json:"displayName,omitempty"`
	Schema      any    `json:"schema"`
}

type mapSchema struct {
	Type     string  `json:"@type"`
	MapKey   mapPart `json:"mapKey"`
	MapValue mapPart `json:"mapValue"`
}

type mapPart struct {
	Name   string `json:"name"`
	Schema string `json:"schema"`
}

// TelemetryNames returns the telemetry names (the keys of the daemon's tally) declared in a DTDL
// document, one Interface (e.g. from Interface) or an array of them, in document order.
func TelemetryNames(doc []byte) ([]string, error) {
	type contents struct {
		Contents []struct {
			Type json.RawMessage `json:"@type"`
			Name string          `json:"name"`
		} `json:"contents"`
	}
	var list []contents
	if bytes.HasPrefix(bytes.TrimSpace(doc), []byte("[")) {
		if err := json.Unmarshal(doc, &list); err != nil {
			return nil, fmt.Errorf("read DTDL document: %w", err)
		}
	} else {
		var one contents
		if err := json.Unmarshal(doc, &one); err != nil {
			return nil, fmt.Errorf("read DTDL document: %w", err)
		}
		list = append(list, one)
	}
	var names []string
	for _, d := range list {
		for _, c := range d.Contents {
			if slices.Contains(types(c.Type), "Telemetry") {
				names = append(names, c.Name)
			}
		}
	}
	return names, nil
}

// types reads an @type value, a string or an array of strings.
func types(raw json.RawMessage) []string {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil {
		return many
	}
	return nil
}
