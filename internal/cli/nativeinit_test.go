package cli

import (
	"testing"

	"github.com/edgecam/edgecam/internal/nativeinit"
)

// The cli test binary links OpenCV, hence FFmpeg, libssh-gcrypt and libgcrypt, like edgecam: the
// preinit hook must have found libgcrypt and turned its secure-memory warning off before
// libssh's constructor ran. (make test-system checks the journal of the installed service, in a
// container where mlock is refused, for the warning itself.)
func TestGcryptWarningQuietedBeforeConstructors(t *testing.T) {
	if !nativeinit.GcryptQuieted() {
		t.Fatal("libgcrypt was not found by the preinit hook: the insecure-memory warning may reach the journal")
	}
}
