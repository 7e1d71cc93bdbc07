//go:build !matprofile

// Package mats counts open gocv Mats in a test built with -tags matprofile (gocv tracks them
// only then); without the tag Open is -1 and the leak checks skip. Only tests import it.
package mats

// Open would count open gocv Mats; without -tags matprofile gocv does not track them.
func Open() int { return -1 }

// Profile is empty without -tags matprofile.
func Profile() string { return "" }
