package testfixture

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// HostileCamera is a loopback HTTP snapshot camera that misbehaves in every way a broken or
// malicious camera can, one path per way (see Paths). Elsewhere is another host that counts
// the requests a redirect sent there.
type HostileCamera struct {
	URL       string // http://127.0.0.1:port, no trailing slash
	Elsewhere string // the other host's URL
	// BasicSeen counts requests that carried Basic credentials (a downgrade if Digest was offered).
	BasicSeen atomic.Int64
	// ElsewhereHits counts requests that reached the other host.
	ElsewhereHits atomic.Int64

	good []byte
	mu   sync.Mutex
	seen map[string]int // path -> requests, for the stateful paths
}

// HostilePaths are the misbehaviours, each a path of the HostileCamera, with what a client
// must see. /ok answers the good image.
var HostilePaths = []string{
	"/huge-header", "/many-challenges", "/slow-drip", "/endless-chunked", "/html", "/wrong-type",
	"/jpeg-bomb", "/png-bomb", "/truncated", "/digest-then-basic", "/cross-host-redirect",
	"/hidden-frame",
}

// HostileDecodePaths are misbehaviours that pass a capture's header checks and must fail the
// decode (the detector's), quickly and in bounded memory: a progressive JPEG of 100,000 scans
// and a JPEG cut short with its end-of-image marker appended.
var HostileDecodePaths = []string{"/many-scans", "/cut-eoi"}

var manyScans = sync.OnceValue(func() []byte { return ManyScansJPEG(1024, 1024, 100_000) })

// StartHostileCamera serves good (a valid JPEG) at /ok and the hostile paths; closed at the
// end of the test.
func StartHostileCamera(t testing.TB, good []byte) *HostileCamera {
	t.Helper()
	h := &HostileCamera{good: good, seen: map[string]int{}}
	PNGBomb() // built once, before a client's timeout runs
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ElsewhereHits.Add(1)
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(good)
	}))
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		other.Close()
	})
	h.URL, h.Elsewhere = srv.URL, other.URL
	return h
}

func (h *HostileCamera) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.Header.Get("Authorization"), "Basic ") {
		h.BasicSeen.Add(1)
	}
	h.mu.Lock()
	h.seen[r.URL.Path]++
	n := h.seen[r.URL.Path]
	h.mu.Unlock()
	switch r.URL.Path {
	case "/ok":
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(h.good)
	case "/huge-header": // 8 MiB of tiny challenges: 2.8 million "B," tokens
		w.Header().Set("WWW-Authenticate", strings.Repeat("B, ", 8<<20/3))
		w.WriteHeader(http.StatusUnauthorized)
	case "/many-challenges": // just under the 64 KiB header cap
		for i := 0; i < 4; i++ {
			w.Header().Add("WWW-Authenticate", strings.Repeat("B, ", 5000))
		}
		w.WriteHeader(http.StatusUnauthorized)
	case "/slow-drip": // one byte of a JPEG every 200 ms, forever
		w.Header().Set("Content-Type", "image/jpeg")
		fl := w.(http.Flusher)
		for i := 0; r.Context().Err() == nil; i++ {
			w.Write(h.good[i%len(h.good) : i%len(h.good)+1])
			fl.Flush()
			select {
			case <-r.Context().Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	case "/endless-chunked": // a valid JPEG start (headers and part of the scan), then zeros without end
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(h.good[:len(h.good)/2])
		buf := make([]byte, 64<<10)
		for r.Context().Err() == nil {
			if _, err := w.Write(buf); err != nil {
				return
			}
		}
	case "/html":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte("<html><body>Login</body></html>"))
	case "/wrong-type":
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"error":"snapshot disabled"}`))
	case "/jpeg-bomb": // the good JPEG claiming 16000x16000 pixels: 768 MB decoded
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(PatchJPEGSize(h.good, 16000, 16000))
	case "/png-bomb": // 12000x12000 RGB of zeros: 420 KB on the wire, 432 MB decoded
		w.Header().Set("Content-Type", "image/png")
		w.Write(PNGBomb())
	case "/hidden-frame": // a 65500x65500 frame header where only libjpeg reads it
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(HiddenFrameJPEG(65500, 65500))
	case "/many-scans":
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(manyScans())
	case "/cut-eoi":
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(CutJPEG(640, 480))
	case "/truncated":
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(h.good[:len(h.good)/2])
	case "/digest-then-basic": // Digest first; once answered, a Basic-only challenge
		if n == 1 || !strings.HasPrefix(r.Header.Get("Authorization"), "Digest ") {
			w.Header().Set("WWW-Authenticate", `Digest realm="cam", nonce="n`+time.Now().Format("150405.000")+`", qop="auth", algorithm=MD5`)
		} else {
			w.Header().Set("WWW-Authenticate", `Basic realm="cam"`)
		}
		w.WriteHeader(http.StatusUnauthorized)
	case "/cross-host-redirect":
		http.Redirect(w, r, h.Elsewhere+"/snap.jpg", http.StatusFound)
	default:
		http.NotFound(w, r)
	}
}

// PatchJPEGSize returns a copy of jpeg with its frame header claiming w x h pixels.
func PatchJPEGSize(jpeg []byte, w, h int) []byte {
	b := bytes.Clone(jpeg)
	for i := 2; i+9 < len(b); {
		if b[i] != 0xFF {
			break
		}
		m := b[i+1]
		seg := int(b[i+2])<<8 | int(b[i+3])
		if m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC {
			binary.BigEndian.PutUint16(b[i+5:], uint16(h))
			binary.BigEndian.PutUint16(b[i+7:], uint16(w))
			return b
		}
		i += 2 + seg
	}
	return b
}

var pngBomb = sync.OnceValue(func() []byte {
	const w, h = 12000, 12000
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	row := make([]byte, 1+3*w) // filter byte 0, black pixels
	for range h {
		zw.Write(row)
	}
	zw.Close()
	return PNG(w, h, z.Bytes())
})

// PNGBomb is a valid 12000x12000 PNG of about 420 KB that decodes to 432 MB.
func PNGBomb() []byte { return pngBomb() }
