//go:build matprofile

package daemon_test

import (
	"strings"

	"gocv.io/x/gocv"
)

// openMats counts the gocv Mats not yet closed (go test -tags matprofile).
func openMats() int { return gocv.MatProfile.Count() }

func openMatsProfile() string {
	var b strings.Builder
	gocv.MatProfile.WriteTo(&b, 1)
	return b.String()
}
