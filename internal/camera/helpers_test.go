package camera

import (
	"context"
	"os"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/testfixture"
)

func sharedDir(t testing.TB) string          { return testfixture.SharedDir(t) }
func photo(t testing.TB, name string) string { return testfixture.Photo(t, name) }

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
