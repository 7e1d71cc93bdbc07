package camera

import (
	"strings"
	"testing"

	"github.com/edgecam/edgecam/internal/config"
)

// Every kind in config.Kinds has an arm in New: a kind added to the table without its source
// fails here, not on a device.
func TestEveryKindHasASource(t *testing.T) {
	for _, k := range config.Kinds {
		src, err := New(config.Camera{ID: "x", Type: k.Name})
		if err == nil {
			Close(src)
		}
		if err != nil && strings.Contains(err.Error(), "unknown type") {
			t.Errorf("kind %s: %v", k.Name, err)
		}
	}
}
