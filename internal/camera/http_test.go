package camera

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/testfixture"
)

// digestServer is an RFC 7616 Digest-protected snapshot endpoint, written independently of the
// client code. Each nonce serves maxUses requests, then it answers stale=true.
type digestServer struct {
	user, pass, realm, algorithm string
	image                        []byte
	maxUses                      int
	noStaleFlag                  bool // answer an expired nonce with a plain 401, as many cameras do

	mu        sync.Mutex
	nonces    map[string]int    // nonce -> uses
	lastNC    map[string]uint64 // nonce -> highest nc seen
	counter   int
	challenge int // 401s sent
	stale     int // stale=true challenges sent
}

var digestParam = regexp.MustCompile(`(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))`)

func (d *digestServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	defer d.mu.Unlock()
	auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Digest ")
	if !ok {
		d.deny(w, false)
		return
	}
	p := map[string]string{}
	for _, m := range digestParam.FindAllStringSubmatch(auth, -1) {
		p[m[1]] = m[2] + m[3]
	}
	uses, known := d.nonces[p["nonce"]]
	nc, err := strconv.ParseUint(p["nc"], 16, 32)
	if !known || err != nil || nc <= d.lastNC[p["nonce"]] || p["qop"] != "auth" || p["uri"] != r.URL.RequestURI() ||
		p["username"] != d.user || p["realm"] != d.realm || p["algorithm"] != d.algorithm || p["opaque"] != "opq" {
		d.deny(w, false)
		return
	}
	var newHash func() hash.Hash = md5.New
	if d.algorithm == "SHA-256" {
		newHash = sha256.New
	}
	h := func(s string) string { x := newHash(); x.Write([]byte(s)); return hex.EncodeToString(x.Sum(nil)) }
	ha1 := h(d.user + ":" + d.realm + ":" + d.pass)
	want := h(ha1 + ":" + p["nonce"] + ":" + p["nc"] + ":" + p["cnonce"] + ":auth:" + h(r.Method+":"+p["uri"]))
	if p["response"] != want {
		d.deny(w, false)
		return
	}
	if uses >= d.maxUses {
		d.deny(w, !d.noStaleFlag)
		return
	}
	d.nonces[p["nonce"]] = uses + 1
	d.lastNC[p["nonce"]] = nc
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Content-Length", strconv.Itoa(len(d.image)))
	w.Write(d.image)
}

func (d *digestServer) deny(w http.ResponseWriter, stale bool) {
	d.counter++
	nonce := fmt.Sprintf("nonce-%d-%d", d.counter, time.Now().UnixNano())
	d.nonces[nonce] = 0
	d.challenge++
	s := ""
	if stale {
		s = ", stale=true"
		d.stale++
	}
	// A Basic challenge too, as many cameras send: the client must prefer Digest.
	w.Header().Add("WWW-Authenticate", `Basic realm="`+d.realm+`"`)
	w.Header().Add("WWW-Authenticate", fmt.Sprintf(`Digest realm="%s", qop="auth", algorithm=%s, nonce="%s", opaque="opq"%s`,
		d.realm, d.algorithm, nonce, s))
	http.Error(w, "unauthorized", http.StatusUnauthorized)
}

func newDigestServer(t testing.TB, algorithm string, image []byte) (*httptest.Server, *digestServer) {
	d := &digestServer{user: "admin", pass: "s3cret", realm: "IP Camera", algorithm: algorithm, image: image,
		maxUses: 2, nonces: map[string]int{}, lastNC: map[string]uint64{}}
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	return srv, d
}

func httpCamera(url string, mod func(*config.Camera)) config.Camera {
	c := config.Camera{ID: "cam1", Type: "http", URL: url, Username: "admin", Password: "s3cret", Timeout: 30 * time.Second}
	if mod != nil {
		mod(&c)
	}
	return c
}

func TestHTTPDigest(t *testing.T) {
	bus := readPhoto(t, "bus.jpg")
	for _, alg := range []string{"MD5", "SHA-256"} {
		t.Run(alg, func(t *testing.T) {
			srv, d := newDigestServer(t, alg, bus)
			d.noStaleFlag = alg == "MD5"
			src, err := New(httpCamera(srv.URL+"/cgi-bin/snapshot.cgi?channel=1", nil))
			if err != nil {
				t.Fatal(err)
			}
			defer Close(src)
			// Five captures: the first learns the challenge, the others reuse it (nc counts up)
			// and renew it when the server expires the nonce (with stale=true for SHA-256,
			// with a plain 401 for MD5).
			for i := range 5 {
				f, err := src.Capture(testCtx(t))
				if err != nil {
					t.Fatalf("capture %d: %v", i, err)
				}
				if i == 0 {
					m := decodeFrame(t, f, 810, 1080)
					m.Close()
				}
				if len(f.Data) != len(bus) {
					t.Fatalf("capture %d: %d bytes, want %d", i, len(f.Data), len(bus))
				}
			}
			d.mu.Lock()
			defer d.mu.Unlock()
			wantStale := 2
			if d.noStaleFlag {
				wantStale = 0
			}
			if d.stale != wantStale || d.challenge != 3 {
				t.Errorf("server sent %d challenges (%d stale), want 3 (%d stale): the client should reuse nonces",
					d.challenge, d.stale, wantStale)
			}
		})
	}
}

func TestHTTPDigestWrongPassword(t *testing.T) {
	srv, _ := newDigestServer(t, "SHA-256", readPhoto(t, "bus.jpg"))
	src, err := New(httpCamera(srv.URL+"/snap.jpg", func(c *config.Camera) { c.Password = "wrong" }))
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Capture(testCtx(t))
	wantErr(t, err, "camera cam1", "401 Unauthorized: check the username and password")
}

func basicServer(t *testing.T, image []byte) *httptest.Server {
	return testfixture.SnapshotServer(t, image, "admin", "s3cret", nil)
}

func TestHTTPBasic(t *testing.T) {
	bus := readPhoto(t, "bus.jpg")
	srv := basicServer(t, bus)
	src, err := New(httpCamera(srv.URL+"/snap.jpg", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer Close(src)
	for i := range 2 {
		f, err := src.Capture(testCtx(t))
		if err != nil {
			t.Fatalf("capture %d: %v", i, err)
		}
		m := decodeFrame(t, f, 810, 1080)
		m.Close()
	}

	// Credentials in the URL work too, and never show in errors.
	src, err = New(httpCamera(strings.Replace(srv.URL, "http://", "http://admin:s3cret@", 1)+"/snap.jpg",
		func(c *config.Camera) { c.Username, c.Password = "", "" }))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Capture(testCtx(t)); err != nil {
		t.Fatal(err)
	}

	src, err = New(httpCamera(strings.Replace(srv.URL, "http://", "http://admin:wrong@", 1)+"/snap.jpg",
		func(c *config.Camera) { c.Username, c.Password = "", "" }))
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Capture(testCtx(t))
	wantErr(t, err, "401 Unauthorized: check the username and password")
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error shows the password: %v", err)
	}

	src, err = New(httpCamera(srv.URL+"/snap.jpg", func(c *config.Camera) { c.Username, c.Password = "", "" }))
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Capture(testCtx(t))
	wantErr(t, err, "needs a username and password")
}

func TestHTTPErrors(t *testing.T) {
	bus := readPhoto(t, "bus.jpg")
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	mux.HandleFunc("/slowbody", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(bus[:1000])
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	mux.HandleFunc("/html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte("<html><body>Login</body></html>"))
	})
	mux.HandleFunc("/text", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write([]byte("Error: channel offline"))
	})
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/jpeg")
		for i := 0; i < len(bus); i += 4096 {
			w.Write(bus[i:min(i+4096, len(bus))])
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/sized", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(bus)
	})
	mux.HandleFunc("/broken", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer close(release)

	cases := []struct {
		path string
		mod  func(*config.Camera)
		want []string
	}{
		{"/slow", func(c *config.Camera) { c.Timeout = 300 * time.Millisecond }, []string{"timeout", "300ms"}},
		{"/slowbody", func(c *config.Camera) { c.Timeout = 300 * time.Millisecond }, []string{"timeout"}},
		{"/html", nil, []string{"web page", "text/html", "snapshot URL"}},
		{"/text", nil, []string{"not a JPEG or PNG image", "Error: channel offline"}},
		{"/chunked", func(c *config.Camera) { c.MaxBytes = 100_000 }, []string{"larger than 100000 bytes"}},
		{"/sized", func(c *config.Camera) { c.MaxBytes = 100_000 }, []string{"larger than 100000 bytes"}},
		{"/missing", nil, []string{"404 Not Found", "check the snapshot URL"}},
		{"/broken", nil, []string{"500 Internal Server Error"}},
	}
	for _, tc := range cases {
		t.Run(tc.path[1:], func(t *testing.T) {
			src, err := New(httpCamera(srv.URL+tc.path, tc.mod))
			if err != nil {
				t.Fatal(err)
			}
			defer Close(src)
			_, err = src.Capture(testCtx(t))
			wantErr(t, err, append(tc.want, "camera cam1", srv.URL+tc.path)...)
		})
	}

	// Nothing listening: a clear connection error.
	addr := srv.Listener.Addr().String()
	srv.Close()
	src, err := New(httpCamera("http://"+addr+"/snap.jpg", nil))
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Capture(testCtx(t))
	wantErr(t, err, "camera cam1", "connection refused")
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	t.Logf("error: %v", err)
	if err == nil {
		t.Fatalf("no error, want one saying %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not say %q", err, p)
		}
	}
}

// BenchmarkHTTPDigestCapture measures one snapshot of bus.jpg (476 KiB) over loopback with
// Digest SHA-256 authentication, nonces renewed every second request.
func BenchmarkHTTPDigestCapture(b *testing.B) {
	bus := readPhoto(b, "bus.jpg")
	srv, _ := newDigestServer(b, "SHA-256", bus)
	src, err := New(httpCamera(srv.URL+"/snap.jpg", nil))
	if err != nil {
		b.Fatal(err)
	}
	defer Close(src)
	ctx := testCtx(b)
	b.SetBytes(int64(len(bus)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := src.Capture(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
