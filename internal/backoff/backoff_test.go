package backoff

import (
	"testing"
	"time"
)

func TestBackoffDoublesWithJitterAndResets(t *testing.T) {
	b := New(time.Second, 5*time.Second)
	for _, d := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second} {
		if b.Current() != d {
			t.Fatalf("current %v, want %v", b.Current(), d)
		}
		if w := b.Next(); w < d/2 || w > d {
			t.Fatalf("wait %v outside [%v, %v]", w, d/2, d)
		}
	}
	b.Reset()
	if b.Current() != time.Second {
		t.Fatalf("after Reset: %v", b.Current())
	}
	b.SetMax()
	if b.Current() != 5*time.Second {
		t.Fatalf("after SetMax: %v", b.Current())
	}
}
