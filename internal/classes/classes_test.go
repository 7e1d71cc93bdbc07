package classes

import (
	"slices"
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	for in, want := range map[string]string{"Person": "person", "traffic_light": "traffic light", "TV": "tv", " Teddy  Bear ": "teddy bear"} {
		got, ok := COCO().Lookup(in)
		if !ok || got != want {
			t.Errorf("Lookup(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	if _, ok := COCO().Lookup("persn"); ok {
		t.Error("Lookup(persn) found a label")
	}
	custom := New([]string{"forklift", "pallet", "safety vest"}, "labels file x.labels")
	if got, ok := custom.Lookup("Safety_Vest"); !ok || got != "safety vest" {
		t.Errorf("custom Lookup = %q, %v", got, ok)
	}
	if _, ok := custom.Lookup("person"); ok {
		t.Error("a custom model knows person")
	}
}

func TestSuggest(t *testing.T) {
	for in, want := range map[string]string{"persn": "person", "bicyle": "bicycle", "trafic light": "traffic light", "moterbike": "motorcycle"} {
		if got := COCO().Suggest(in); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCanonical(t *testing.T) {
	got, err := COCO().Canonical([]string{"Person", "person", "traffic_light"})
	if err != nil || !slices.Equal(got, []string{"person", "traffic light"}) {
		t.Fatalf("Canonical = %v, %v", got, err)
	}
	_, err = COCO().Canonical([]string{"persn", " "})
	if err == nil || !strings.Contains(err.Error(), `unknown label "persn" (did you mean "person"?)`) || !strings.Contains(err.Error(), "empty label") {
		t.Fatalf("Canonical error = %v", err)
	}
	custom := New([]string{"forklift", "pallet"}, "ONNX metadata")
	_, err = custom.Canonical([]string{"forklfit"})
	want := `unknown label "forklfit" for this model (did you mean "forklift"? its classes, from ONNX metadata: forklift, pallet)`
	if err == nil || err.Error() != want {
		t.Fatalf("custom error = %v, want %s", err, want)
	}
	if !COCO().IsCOCO() || custom.IsCOCO() || len(COCO().Names()) != 80 || COCO().Source() != "COCO-80" {
		t.Fatal("COCO set wrong")
	}
}
