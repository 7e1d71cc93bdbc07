package classes

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgecam/edgecam/internal/onnxmodel/onnxtest"
)

// TestModelNames checks where a model's class names come from, in order: <model>.labels, the
// names metadata, labels.txt, COCO-80 (80 classes or end-to-end), class0...
func TestModelNames(t *testing.T) {
	twoClasses := onnxtest.YOLOv5Model(32, 2, nil)
	withNames := onnxtest.YOLOv5Model(32, 2, []string{"forklift", "pallet"})
	badNames := onnxtest.YOLOv5Model(32, 2, []string{"only one"})
	e2e := onnxtest.ConstantModel([]int64{1, 3, 32, 32}, []int64{1, 10, 6}, make([]float32, 60), nil)
	for _, tc := range []struct {
		name   string
		model  []byte
		files  map[string]string
		want   []string
		source string
		err    string
	}{
		{name: "metadata", model: withNames, want: []string{"forklift", "pallet"}, source: "the model's names metadata"},
		{name: "own labels file wins", model: withNames, files: map[string]string{"m.labels": "crate\nvan\n", "labels.txt": "x\ny\n"},
			want: []string{"crate", "van"}, source: "labels file"},
		{name: "metadata before labels.txt", model: withNames, files: map[string]string{"labels.txt": "x\ny\n"}, want: []string{"forklift", "pallet"}},
		{name: "labels.txt", model: twoClasses, files: map[string]string{"labels.txt": " a \n\nb\n"}, want: []string{"a", "b"}},
		{name: "unusable metadata falls through", model: badNames, files: map[string]string{"labels.txt": "a\nb\n"}, want: []string{"a", "b"}},
		{name: "no names", model: twoClasses, want: []string{"class0", "class1"}, source: "none found: the model has 2 classes and no names (add m.labels)"},
		{name: "end-to-end without names is COCO", model: e2e, want: COCO().Names(), source: "COCO-80"},
		{name: "end-to-end with a labels file", model: e2e, files: map[string]string{"m.labels": "a\nb\nc\n"}, want: []string{"a", "b", "c"}},
		{name: "labels file of another model", model: twoClasses, files: map[string]string{"m.labels": "a\nb\nc\n"},
			err: "has 3 names but the model predicts 2 classes"},
		{name: "names that cannot be told apart", model: twoClasses, files: map[string]string{"m.labels": "Fork lift\nfork_lift\n"},
			err: `classes 0 ("Fork lift") and 1 ("fork_lift") have the same name`},
		{name: "empty labels file", model: twoClasses, files: map[string]string{"m.labels": "\n\n"}, err: "no names in it"},
		{name: "not a model", model: []byte("hello"), err: "not a valid ONNX model"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "m.onnx")
			if err := os.WriteFile(path, tc.model, 0o644); err != nil {
				t.Fatal(err)
			}
			for name, body := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			set, _, err := Model(path)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(set.Names(), tc.want) || !strings.Contains(set.Source(), tc.source) {
				t.Errorf("names %q from %q, want %q from %q", set.Names(), set.Source(), tc.want, tc.source)
			}
		})
	}
}
