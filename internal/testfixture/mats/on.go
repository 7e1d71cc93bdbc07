//go:build matprofile

package mats

import (
	"strings"

	"gocv.io/x/gocv"
)

// Open counts the gocv Mats not yet closed.
func Open() int { return gocv.MatProfile.Count() }

// Profile lists where the open Mats were made.
func Profile() string {
	var b strings.Builder
	gocv.MatProfile.WriteTo(&b, 1)
	return b.String()
}
