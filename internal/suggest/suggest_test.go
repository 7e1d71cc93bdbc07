package suggest

import "testing"

func TestClosest(t *testing.T) {
	if got, d := Closest("schedual", []string{"model", "schedule", "state"}); got != "schedule" || d != 2 {
		t.Fatalf("Closest = %q, %d", got, d)
	}
	if got, d := Closest("x", nil); got != "" || d != -1 {
		t.Fatalf("no candidates: %q, %d", got, d)
	}
	for _, c := range []struct {
		a, b string
		d    int
	}{{"", "abc", 3}, {"kitten", "sitting", 3}, {"same", "same", 0}} {
		if got := Distance(c.a, c.b); got != c.d {
			t.Errorf("Distance(%q,%q) = %d, want %d", c.a, c.b, got, c.d)
		}
	}
}
