package logging

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestSetup(t *testing.T) {
	defer slog.SetDefault(slog.Default())
	var b bytes.Buffer
	if err := Setup(&b, "json", "warn"); err != nil {
		t.Fatal(err)
	}
	slog.Info("hidden")
	slog.Warn("shown", "camera", "x")
	if out := b.String(); strings.Contains(out, "hidden") || !strings.Contains(out, `"msg":"shown"`) {
		t.Errorf("output %q", out)
	}
	for _, c := range [][2]string{{"xml", "info"}, {"text", "loud"}} {
		if err := Setup(&b, c[0], c[1]); err == nil {
			t.Errorf("Setup(%q, %q): no error", c[0], c[1])
		}
	}
}
