package coco

import "testing"

func TestLookup(t *testing.T) {
	for in, want := range map[string]string{"Person": "person", "traffic_light": "traffic light", "TV": "tv", " Teddy  Bear ": "teddy bear"} {
		got, ok := Lookup(in)
		if !ok || got != want {
			t.Errorf("Lookup(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	if _, ok := Lookup("persn"); ok {
		t.Error("Lookup(persn) found a label")
	}
}

func TestSafeName(t *testing.T) {
	for in, want := range map[string]string{"traffic light": "traffic_light", "person": "person", "hot dog": "hot_dog", "9lives": "label_9lives"} {
		if got := SafeName(in); got != want {
			t.Errorf("SafeName(%q) = %q, want %q", in, got, want)
		}
	}
	seen := map[string]string{}
	for _, n := range Names {
		s := SafeName(n)
		if other, dup := seen[s]; dup {
			t.Errorf("%q and %q share the safe name %q", n, other, s)
		}
		seen[s] = n
	}
}

func TestSuggest(t *testing.T) {
	for in, want := range map[string]string{"persn": "person", "bicyle": "bicycle", "trafic light": "traffic light", "moterbike": "motorcycle"} {
		if got := Suggest(in); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", in, got, want)
		}
	}
}
