package daemon

import (
	"errors"
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/iothub"
)

// After the hub counted as gone, one dial registers with DPS again; when DPS assigns a hub that
// is still unreachable, the following dials use that assignment and register again only after
// another reprovisionAttempts failures spanning reprovisionAfter, not on every retry.
func TestRedialRegistersAgainOncePerOutage(t *testing.T) {
	const after = 2 * time.Minute
	unreachable := errors.New("dial tcp: connection refused")
	r := newRedial()
	now := time.Unix(1e9, 0)
	var forced []int
	for i := 1; i <= 12; i++ {
		if r.force {
			forced = append(forced, i)
		}
		r.failed(unreachable, true, after, now)
		now = now.Add(time.Minute)
	}
	// Failures 1, 2, 3 (at 0, 1, 2 min: gone), dial 4 registers; 4, 5, 6 fail again (at 3, 4,
	// 5 min: gone), dial 7 registers; and so on.
	want := []int{4, 7, 10}
	if len(forced) != len(want) || forced[0] != 4 || forced[1] != 7 || forced[2] != 10 {
		t.Fatalf("dials that registered with DPS again: %v, want %v", forced, want)
	}
}

func TestRedialKeepsForcedRegistrationWhileDPSFails(t *testing.T) {
	r := newRedial()
	r.force = true
	r.failed(registrationError{errors.New("DPS unreachable")}, true, time.Minute, time.Now())
	if !r.force {
		t.Fatal("a registration that failed at DPS must stay forced")
	}
	r.failed(registrationError{iothub.ErrRegistrationDisabled}, true, time.Minute, time.Now())
	if !r.force || r.backoff.Current() != maxLinkBackoff {
		t.Fatalf("disabled registration: force %v backoff %v, want forced and %v", r.force, r.backoff.Current(), maxLinkBackoff)
	}
	r = newRedial()
	r.failed(iothub.ErrNotAuthorized, true, time.Minute, time.Now())
	if !r.force {
		t.Fatal("a hub refusing the identity must make the next dial register again")
	}
	r = newRedial()
	r.failed(iothub.ErrNotAuthorized, false, time.Minute, time.Now())
	if r.force {
		t.Fatal("a connection string has no DPS to register with")
	}
}
