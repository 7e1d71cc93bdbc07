//go:build !matprofile

package daemon_test

// openMats would count open gocv Mats; without -tags matprofile gocv does not track them.
func openMats() int { return -1 }

func openMatsProfile() string { return "" }
