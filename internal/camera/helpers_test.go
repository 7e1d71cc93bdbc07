package camera

import (
	"context"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/testfixture"
	"github.com/edgecam/edgecam/internal/testfixture/mats"
)

func sharedDir(t testing.TB) string          { return testfixture.SharedDir(t) }
func photo(t testing.TB, name string) string { return testfixture.Photo(t, name) }

func readPhoto(t testing.TB, name string) []byte { return testfixture.ReadPhoto(t, name) }

// testCtx is a context bounded well beyond any expected capture time.
func testCtx(t testing.TB) context.Context { return testfixture.Context(t, 2*time.Minute) }

// openMats counts the gocv Mats not yet closed (-1 without -tags matprofile).
func openMats() int           { return mats.Open() }
func openMatsProfile() string { return mats.Profile() }

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

// captureOne opens a source for cam and captures one frame, failing the test on an error; the
// source and the frame are closed with the test.
func captureOne(t *testing.T, cam config.Camera) *Frame {
	t.Helper()
	src, err := New(cam)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Close(src) })
	f, err := src.Capture(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
