package testfixture

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// SnapshotServer is an HTTP camera on loopback that serves image (a JPEG) to requests with the
// Basic credentials user and pass, and a 401 with a Basic challenge to others. fail, when not
// nil, is asked about the n-th authorised request (from 1) and answers an HTTP status to fail
// it with, or 0 to serve the image. The server closes when the test ends.
func SnapshotServer(t testing.TB, image []byte, user, pass string, fail func(n int) int) *httptest.Server {
	t.Helper()
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="camera"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		mu.Lock()
		n++
		i := n
		mu.Unlock()
		if fail != nil {
			if code := fail(i); code != 0 {
				http.Error(w, "snapshot failed", code)
				return
			}
		}
		w.Header().Set("Content-Type", "image/jpeg")
		_, _ = w.Write(image)
	}))
	t.Cleanup(srv.Close)
	return srv
}
