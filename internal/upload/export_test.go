package upload

import "os"

// SetWriteFile replaces the spool's file writer for a test and returns a function restoring it.
func SetWriteFile(f func(path string, data []byte, perm os.FileMode) error) (restore func()) {
	old := writeFile
	writeFile = f
	return func() { writeFile = old }
}
