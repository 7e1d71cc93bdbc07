package camera

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/atomicfile"
	"github.com/edgecam/edgecam/internal/imageinfo"
)

// TestSaveAtomic saves two photos in turn while readers read the destination: a reader must
// always see one whole photo, never a partial file.
func TestSaveAtomic(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "frame.jpg")
	imgs := [][]byte{readPhoto(t, "kite.jpg"), readPhoto(t, "person.jpg")}
	if err := Save(dst, &Frame{Camera: "c", Data: imgs[0]}); err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var bad error
	var mu sync.Mutex
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				got, err := os.ReadFile(dst)
				if err == nil && !bytes.Equal(got, imgs[0]) && !bytes.Equal(got, imgs[1]) {
					err = errors.New("partial or mixed file")
				}
				if err != nil {
					mu.Lock()
					bad = err
					mu.Unlock()
					return
				}
			}
		}()
	}
	for i := range 100 {
		if err := Save(dst, &Frame{Camera: "c", Data: imgs[i%2]}); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if bad != nil {
		t.Fatalf("a reader saw: %v", bad)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only frame.jpg (temporary files left behind?)", len(entries))
	}
	want := os.FileMode(ImageFileMode) &^ atomicfile.Umask()
	if fi, err := os.Stat(dst); err != nil || fi.Mode().Perm() != want {
		t.Errorf("saved file mode %v, %v; want %v (0640 minus the umask)", fi.Mode(), err, want)
	}
}

func TestSaveMat(t *testing.T) {
	m := gocv.IMRead(photo(t, "dog.jpg"), gocv.IMReadColor)
	f := &Frame{Camera: "c", Mat: m}
	defer f.Close()
	dst := filepath.Join(t.TempDir(), "frame.jpg")
	if err := Save(dst, f); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	if imageinfo.Sniff(data) != imageinfo.JPEG {
		t.Fatalf("saved %d bytes, not a JPEG", len(data))
	}
	back := decodeFrame(t, &Frame{Camera: "c", Data: data}, 768, 576)
	back.Close()
}

func TestSaveErrors(t *testing.T) {
	dir := t.TempDir()
	if err := Save(filepath.Join(dir, "no", "such", "dir", "f.jpg"), &Frame{Camera: "c", Data: []byte{0xff, 0xd8, 0xff}}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("save into a missing directory: %v", err)
	}
	if err := Save(filepath.Join(dir, "f.jpg"), &Frame{Camera: "c"}); err == nil {
		t.Error("saved an empty frame")
	}
	if err := Save(filepath.Join(dir, "f.jpg"), nil); err == nil {
		t.Error("saved a nil frame")
	}
	f := &Frame{Camera: "c", Mat: gocv.NewMat()}
	defer f.Close()
	if err := Save(filepath.Join(dir, "f.jpg"), f); err == nil {
		t.Error("saved an empty Mat")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed saves left %d files behind", len(entries))
	}
}
