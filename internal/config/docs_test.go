package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocsNameEveryKey keeps docs/configuration.md and configs/example.yaml in step with the
// configuration: every key appears in both (the docs write a camera's keys without the
// "cameras[]." prefix, as `id` or `zones[].name`).
func TestDocsNameEveryKey(t *testing.T) {
	docs, err := os.ReadFile(filepath.Join("..", "..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile(filepath.Join("..", "..", "configs", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// Keys documented on a branch not merged yet (the rtsp branch documents maxFrameAge); empty
	// this list when it is.
	pending := map[string]bool{}
	for _, key := range schemaKeys(rootSchema, "", true) {
		if pending[key] {
			continue
		}
		short := strings.TrimPrefix(key, "cameras[].")
		last := short[strings.LastIndexAny(short, ".]")+1:]
		if !strings.Contains(string(docs), "`"+short+"`") && !strings.Contains(string(docs), "`"+last+"`") &&
			!strings.Contains(string(docs), "."+last+"`") {
			t.Errorf("docs/configuration.md does not document %s", key)
		}
		if !strings.Contains(string(example), last+":") {
			t.Errorf("configs/example.yaml does not show %s", key)
		}
	}
}
