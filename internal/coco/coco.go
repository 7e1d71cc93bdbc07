// Package coco holds the 80 COCO class names that YOLOv5 models are trained on, and the
// name rules edgecam applies to them (case-insensitive lookup, DTDL-safe names, suggestions).
package coco

import (
	"strings"

	"github.com/edgecam/edgecam/internal/suggest"
)

// Names is the COCO-80 class list in model index order.
var Names = [...]string{
	"person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
	"fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
	"elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
	"skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
	"tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
	"sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
	"potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
	"microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear",
	"hair drier", "toothbrush",
}

// Lookup finds a label case-insensitively, also accepting its DTDL-safe form ("traffic_light").
// It returns the canonical COCO name.
func Lookup(label string) (string, bool) {
	want := normalize(label)
	for _, n := range Names {
		if normalize(n) == want {
			return n, true
		}
	}
	return "", false
}

// SafeName turns a label into a DTDL-safe name: letters, digits and underscores, starting with a
// letter and not ending with an underscore ("traffic light" -> "traffic_light").
func SafeName(label string) string {
	var b strings.Builder
	for _, r := range strings.TrimSpace(label) {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	s := strings.Trim(b.String(), "_")
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		s = "label_" + s
	}
	if len(s) > 64 {
		s = strings.TrimRight(s[:64], "_")
	}
	return s
}

// Suggest returns the COCO name closest to label (by edit distance), for "did you mean" hints.
func Suggest(label string) string {
	want := normalize(label)
	best, bestD := "", -1
	for _, n := range Names {
		if d := suggest.Distance(want, normalize(n)); bestD < 0 || d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

func normalize(s string) string {
	return strings.ToLower(strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '_' || r == '-' }), " "))
}
