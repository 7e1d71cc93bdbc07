package onnxmodel

import (
	"fmt"
	"strconv"
	"strings"
)

// Ultralytics is what an Ultralytics export says about itself in its metadata_props (besides
// the class names, see ParseNames). Zero fields were not said: YOLOv5's exports carry only
// stride and names; YOLOv8 and later add task, imgsz, batch and args, and end2end for NMS-free
// models (YOLOv10, YOLO26).
type Ultralytics struct {
	// Task is detect, segment, pose, obb or classify.
	Task string
	// ImgW and ImgH are the input size the model was exported at (imgsz).
	ImgW, ImgH int
	// Stride is the model's largest stride; input sizes are multiples of it.
	Stride int
	// EndToEnd is set when the model says whether its output is already NMS'd (end2end).
	EndToEnd *bool
}

// DetectTask is the Ultralytics task of detection models, the only one edgecam counts with.
const DetectTask = "detect"

// Ultralytics reads the Ultralytics metadata. Malformed values are errors that name the key.
func (m *Info) Ultralytics() (Ultralytics, error) {
	var u Ultralytics
	md := m.Metadata
	u.Task = strings.TrimSpace(md["task"])
	if s := strings.TrimSpace(md["imgsz"]); s != "" {
		h, w, err := parseImgsz(s)
		if err != nil {
			return u, fmt.Errorf("imgsz metadata %q: %v", s, err)
		}
		u.ImgH, u.ImgW = h, w
	}
	if s := strings.TrimSpace(md["stride"]); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			return u, fmt.Errorf("stride metadata %q: want a positive whole number", s)
		}
		u.Stride = v
	}
	if s := strings.TrimSpace(md["end2end"]); s != "" {
		switch strings.ToLower(s) {
		case "true", "1":
			t := true
			u.EndToEnd = &t
		case "false", "0":
			f := false
			u.EndToEnd = &f
		default:
			return u, fmt.Errorf("end2end metadata %q: want True or False", s)
		}
	}
	return u, nil
}

// parseImgsz reads "[640, 640]" (height, width), "(640, 640)" or "640".
func parseImgsz(s string) (h, w int, err error) {
	s = strings.Trim(s, "[]() ")
	parts := strings.Split(s, ",")
	if len(parts) > 2 {
		return 0, 0, fmt.Errorf("want [height, width]")
	}
	var v [2]int
	for i, p := range parts {
		if v[i], err = strconv.Atoi(strings.TrimSpace(p)); err != nil || v[i] <= 0 {
			return 0, 0, fmt.Errorf("want [height, width] in pixels")
		}
	}
	if len(parts) == 1 {
		v[1] = v[0]
	}
	return v[0], v[1], nil
}

// checkTask refuses models that are not detection models, with what to export instead.
func checkTask(task string) error {
	switch task {
	case "", DetectTask:
		return nil
	case "segment", "pose", "obb", "classify":
		suffix := map[string]string{"segment": "-seg", "pose": "-pose", "obb": "-obb", "classify": "-cls"}[task]
		return fmt.Errorf("is a %s model (Ultralytics task metadata %q): edgecam counts the boxes of detection models only; "+
			"export a detection model instead (e.g. yolo11n.pt, not yolo11n%s.pt)", taskName(task), task, suffix)
	}
	return fmt.Errorf("has Ultralytics task metadata %q: edgecam counts the boxes of detection models (task %q) only", task, DetectTask)
}

func taskName(task string) string {
	switch task {
	case "segment":
		return "segmentation"
	case "obb":
		return "oriented-box (OBB)"
	case "classify":
		return "classification"
	}
	return task
}
