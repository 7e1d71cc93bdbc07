package classes

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/edgecam/edgecam/internal/coco"
	"github.com/edgecam/edgecam/internal/onnxmodel"
)

// LabelsFileExt is the extension of the labels file that belongs to one model:
// models/forklift.onnx -> models/forklift.labels.
const LabelsFileExt = ".labels"

// DirLabelsFile is the labels file for the models of a folder that have no names of their own.
const DirLabelsFile = "labels.txt"

// Model reads the ONNX model at path and returns its class names and its interface (layout,
// input size). See ForModel for where the names come from.
func Model(path string) (Set, onnxmodel.Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Set{}, onnxmodel.Spec{}, err
	}
	info, err := onnxmodel.Parse(data)
	if err != nil {
		return Set{}, onnxmodel.Spec{}, err
	}
	spec, err := info.Spec()
	if err != nil {
		return Set{}, spec, err
	}
	set, err := ForModel(path, info, spec)
	return set, spec, err
}

// ForModel returns the class names of the model at path (already parsed as info and spec), the
// first of:
//  1. the labels file <model>.labels next to it (models/forklift.onnx: models/forklift.labels),
//     one name per line;
//  2. the model's `names` metadata (Ultralytics exports carry it);
//  3. labels.txt in the model's folder;
//  4. COCO-80, when the model has 80 classes or does not say (an end-to-end export).
//
// A labels file whose count differs from the model's classes is an error (a file for another
// model); unreadable or mismatched metadata falls through to the next source. Otherwise a model
// has class0, class1, ...
func ForModel(path string, info *onnxmodel.Info, spec onnxmodel.Spec) (Set, error) {
	n := spec.Classes // 0: an end-to-end model, whose names decide
	own := strings.TrimSuffix(path, filepath.Ext(path)) + LabelsFileExt
	if set, ok, err := fromFile(own, n); ok || err != nil {
		return set, err
	}
	if meta := info.Metadata["names"]; meta != "" {
		names, err := onnxmodel.ParseNames(meta)
		if err == nil && n > 0 && len(names) != n {
			err = fmt.Errorf("%d names for %d classes", len(names), n)
		}
		if err == nil {
			err = checkNames(names)
		}
		if err == nil {
			if isCOCO(names) {
				return COCO(), nil
			}
			return New(names, "the model's names metadata"), nil
		}
		slog.Warn("the model's names metadata is unusable; looking for labels.txt, else default names", "model", path, "err", err)
	}
	if set, ok, err := fromFile(filepath.Join(filepath.Dir(path), DirLabelsFile), n); ok || err != nil {
		return set, err
	}
	if n == 0 || n == len(coco.Names) {
		return COCO(), nil
	}
	names := make([]string, n)
	for i := range names {
		names[i] = "class" + strconv.Itoa(i)
	}
	return New(names, fmt.Sprintf("none found: the model has %d classes and no names (add %s)", n, filepath.Base(own))), nil
}

// fromFile reads a labels file; ok is false when there is none.
func fromFile(path string, n int) (set Set, ok bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Set{}, false, nil
	}
	if err != nil {
		return Set{}, false, fmt.Errorf("labels file: %w", err)
	}
	names, err := ParseLabelsFile(data)
	if err != nil {
		return Set{}, false, fmt.Errorf("labels file %s: %w", path, err)
	}
	if n > 0 && len(names) != n {
		return Set{}, false, fmt.Errorf("labels file %s has %d names but the model predicts %d classes: one name per class, in the model's order",
			path, len(names), n)
	}
	if isCOCO(names) {
		return COCO(), true, nil
	}
	return New(names, "labels file "+path), true, nil
}

// ParseLabelsFile reads class names, one per line in model order; blank lines are skipped and
// spaces around a name trimmed.
func ParseLabelsFile(data []byte) ([]string, error) {
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			names = append(names, l)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, errors.New("no names in it: write one class name per line, in the model's order")
	}
	return names, checkNames(names)
}

// checkNames refuses names that could not be told apart: the same name twice, ignoring case and
// the difference between ' ', '_' and '-' (labels are looked up that way), or the same DTDL-safe
// telemetry name.
func checkNames(names []string) error {
	seen := map[string]int{}
	safe := map[string]int{}
	for i, n := range names {
		if j, dup := seen[normalize(n)]; dup {
			return fmt.Errorf("classes %d (%q) and %d (%q) have the same name", j, names[j], i, n)
		}
		seen[normalize(n)] = i
		s := coco.SafeName(n)
		if j, dup := safe[s]; dup {
			return fmt.Errorf("classes %d (%q) and %d (%q) would be sent as the same telemetry name %q", j, names[j], i, n, s)
		}
		safe[s] = i
	}
	return nil
}

func isCOCO(names []string) bool {
	if len(names) != len(coco.Names) {
		return false
	}
	for i, n := range names {
		if n != coco.Names[i] {
			return false
		}
	}
	return true
}
