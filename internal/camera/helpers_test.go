package camera

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gocv.io/x/gocv"
)

// sharedDir returns the shared test data folder: $EDGECAM_SHARED, or ../shared beside the
// folder holding go.mod.
func sharedDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("EDGECAM_SHARED"); d != "" {
		return d
	}
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the package directory and EDGECAM_SHARED not set")
		}
		dir = parent
	}
}

// photo returns the path of a shared test photo.
func photo(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(sharedDir(t), "testdata", "images", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("test photo missing: %v (set EDGECAM_SHARED to the shared folder)", err)
	}
	return p
}

func readPhoto(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(photo(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// testCtx is a context bounded well beyond any expected capture time.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// decodeFrame decodes f and checks its size.
func decodeFrame(t testing.TB, f *Frame, wantW, wantH int) gocv.Mat {
	t.Helper()
	m, err := f.Decode()
	if err != nil {
		t.Fatal(err)
	}
	if m.Cols() != wantW || m.Rows() != wantH {
		m.Close()
		t.Fatalf("frame is %dx%d, want %dx%d", m.Cols(), m.Rows(), wantW, wantH)
	}
	return m
}
