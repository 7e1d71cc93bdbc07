package config

import (
	"strings"
	"testing"
)

func TestCameraEnv(t *testing.T) {
	for id, want := range map[string]string{
		"garage":   "EDGECAM_CAMERAS__GARAGE__PASSWORD",
		"bus-stop": "EDGECAM_CAMERAS__BUS_STOP__PASSWORD",
	} {
		if got := CameraEnv(id, "password"); got != want {
			t.Errorf("CameraEnv(%q) = %q, want %q", id, got, want)
		}
	}
}

// The configuration's name wins; the deprecated one is read only when it is unset.
func TestLookupEnv(t *testing.T) {
	t.Setenv("EDGECAM_DPS_GROUP_KEY", "old")
	if v, ok := LookupEnv(EnvGroupEnrollmentKey, "EDGECAM_DPS_GROUP_KEY"); !ok || v != "old" {
		t.Errorf("deprecated name: %q %v", v, ok)
	}
	t.Setenv(EnvGroupEnrollmentKey, "new")
	if v, ok := LookupEnv(EnvGroupEnrollmentKey, "EDGECAM_DPS_GROUP_KEY"); !ok || v != "new" {
		t.Errorf("new name: %q %v", v, ok)
	}
}

// Every kind in the table is accepted by validation; the list reads as prose.
func TestKinds(t *testing.T) {
	names := KindNames()
	if got, want := KindList(""), " or "+names[len(names)-1]; len(names) > 1 && !strings.HasSuffix(got, want) || !strings.HasPrefix(got, "rpi, http") {
		t.Errorf("KindList = %q", got)
	}
	for _, k := range Kinds {
		if !IsKind(k.Name) || k.Help == "" || k.Keys == "" {
			t.Errorf("kind %+v incomplete", k)
		}
	}
}
