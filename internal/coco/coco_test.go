package coco

import "testing"

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
