package camera

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/onvif"
	"github.com/edgecam/edgecam/internal/onvif/onviftest"
	"github.com/edgecam/edgecam/internal/testfixture"
)

// An http camera named by its ONVIF endpoint: found with a (directed) probe, its snapshot URI
// asked for and fetched with Digest; when it comes back on another port it is found again.
func TestONVIFCamera(t *testing.T) {
	jpeg := readPhoto(t, "bus.jpg")
	endpoint := "urn:uuid:" + onvif.NewUUID()
	opts := onviftest.Options{Endpoint: endpoint, Username: "admin", Password: "pw", Snapshot: jpeg, DiscoveryAddr: "127.0.0.1:0"}
	cam1 := onviftest.StartT(t, opts)
	discoverAt(t, cam1)

	src, err := New(config.Camera{ID: "door", Type: config.TypeHTTP, Username: "admin", Password: "pw",
		ONVIF: &config.ONVIF{Endpoint: strings.ToUpper(endpoint[4:]), Profile: "sub"}})
	if err != nil {
		t.Fatal(err)
	}
	defer Close(src)
	ctx := context.Background()
	f, err := src.Capture(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.Data, jpeg) || cam1.Snapshots() != 1 {
		t.Fatalf("frame of %d bytes, %d snapshots served", len(f.Data), cam1.Snapshots())
	}

	// The camera goes away and comes back on another port (as after a restart with a new
	// address): the next failed capture finds it again.
	discovery := cam1.DiscoveryAddr()
	cam1.Close()
	src.(*onvifSource).lastResolve = time.Time{}
	opts.DiscoveryAddr = discovery
	cam2 := onviftest.StartT(t, opts)
	if _, err := src.Capture(ctx); err != nil {
		t.Fatalf("after the move: %v", err)
	}
	if cam2.Snapshots() != 1 {
		t.Errorf("%d snapshots from the moved camera", cam2.Snapshots())
	}

	// Gone for good: the error says the capture failed and the camera was not found.
	cam2.Close()
	src.(*onvifSource).lastResolve = time.Time{}
	_, err = src.Capture(ctx)
	if err == nil || !strings.Contains(err.Error(), "no device with endpoint") {
		t.Errorf("camera gone: %v", err)
	}
}

func TestONVIFWrongPassword(t *testing.T) {
	cam := onviftest.StartT(t, onviftest.Options{Username: "admin", Password: "right"})
	discoverAt(t, cam)
	src, err := New(config.Camera{ID: "door", Type: config.TypeRTSP, Username: "admin", Password: "Wr0ng-pw",
		ONVIF: &config.ONVIF{Endpoint: cam.Endpoint()}})
	if err != nil {
		t.Fatal(err)
	}
	defer Close(src)
	_, err = src.Capture(context.Background())
	if !errors.Is(err, onvif.ErrUnauthorized) || strings.Contains(err.Error(), "Wr0ng-pw") || !strings.Contains(err.Error(), "camera door") {
		t.Errorf("wrong password: %v", err)
	}
	t.Log(err)
}

// An rtsp camera named by its ONVIF endpoint plays the stream URI the camera gives (the RTSP
// test feed, with the ONVIF credentials).
func TestONVIFRTSP(t *testing.T) {
	testfixture.RequireFFmpeg(t)
	if testing.Short() {
		t.Skip("RTSP stream test skipped in -short mode")
	}
	clip := testfixture.MakeClip(t, photo(t, "bus.jpg"))
	addr := testfixture.FreeAddr(t)
	feed := testfixture.StartRTSPFeedWith(t, addr, clip, testfixture.RTSPOptions{User: "admin", Pass: "pw"})
	defer feed.Stop()
	cam := onviftest.StartT(t, onviftest.Options{Username: "admin", Password: "pw", StreamURI: "rtsp://" + addr + "/cam"})
	discoverAt(t, cam)

	f := captureOne(t, config.Camera{ID: "street", Type: config.TypeRTSP, Username: "admin", Password: "pw", Timeout: 20 * time.Second,
		ONVIF: &config.ONVIF{Endpoint: cam.Endpoint(), Profile: "main"}})
	if !f.HasMat() || f.Mat.Cols() != 810 || f.Mat.Rows() != 1080 {
		t.Fatalf("frame: hasMat %v, %dx%d; want a decoded 810x1080 image", f.HasMat(), f.Mat.Cols(), f.Mat.Rows())
	}
}

// discoverAt points the camera sources' ONVIF discovery at cam (a directed probe) for the test.
func discoverAt(t *testing.T, cam *onviftest.Camera) {
	t.Helper()
	saved := onvifDiscover
	onvifDiscover = onvif.DiscoverOptions{Target: cam.DiscoveryAddr(), Timeout: 2 * time.Second}
	t.Cleanup(func() { onvifDiscover = saved })
}
