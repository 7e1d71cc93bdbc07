// Package atomicfile writes files so that a reader sees either the old content or the new one,
// never a half-written file, even across a crash: temp file in the same folder, fsync, rename.
//
// File modes follow one policy: the mode a caller asks for (0640 for images and settings,
// 0600 for credentials' caches) with the process umask applied, as open(2) would; the umask
// can only take permissions away.
package atomicfile

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Write replaces path with data; the file gets perm minus the umask. The folder must exist.
func Write(path string, data []byte, perm os.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, tempPrefix(base)+"*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(perm &^ Umask()); err != nil {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// Make the rename itself durable.
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

func tempPrefix(base string) string { return "." + base + ".tmp-" }

// CleanTemps removes the temporary files a crash in the middle of Write(path, ...) left next to
// path, so that they cannot pile up across crashes. Call it before the first Write of a path,
// when no other Write to it is running. It reports how many it removed.
func CleanTemps(path string) int {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix(base)) && e.Type().IsRegular() {
			if os.Remove(filepath.Join(dir, e.Name())) == nil {
				n++
			}
		}
	}
	return n
}

var (
	umaskOnce sync.Once
	umask     os.FileMode
)

// Umask returns the process umask, read from /proc/self/status (Linux 4.7+; calling umask(2)
// would change it for every goroutine meanwhile). Without it the common 022 is assumed.
func Umask() os.FileMode {
	umaskOnce.Do(func() {
		umask = 0o022
		b, err := os.ReadFile("/proc/self/status")
		if err != nil {
			return
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Umask:"); ok {
				if m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
					umask = os.FileMode(m) & os.ModePerm
				}
			}
		}
	})
	return umask
}
