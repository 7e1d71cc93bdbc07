package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"15s", 15 * time.Second},
		{"1m30s", 90 * time.Second},
		{"250ms", 250 * time.Millisecond},
		{" 2h ", 2 * time.Hour},
		{"0", 0},
		{"0.0", 0},
		{"0.00:00:15", 15 * time.Second},
		{"00:00:30", 30 * time.Second},
		{"00:05", 5 * time.Minute},
		{"1.02:03:04.5", 24*time.Hour + 2*time.Hour + 3*time.Minute + 4*time.Second + 500*time.Millisecond},
		{"00:00:00.0000001", 100 * time.Nanosecond},
		{"-00:00:10", -10 * time.Second},
		{"PT30S", 30 * time.Second},
		{"PT1H30M", 90 * time.Minute},
		{"P1DT0.5S", 24*time.Hour + 500*time.Millisecond},
		{"23:59:59", 23*time.Hour + 59*time.Minute + 59*time.Second},
		{"106750.23:59:59.9999999", 106750*24*time.Hour + 24*time.Hour - 100*time.Nanosecond},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseDurationErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "empty duration"},
		{"30", `duration "30" has no unit: write e.g. "30s" (Go) or "00:00:30" (TimeSpan)`},
		{"5", `"00:00:05"`},
		{"1.5", "has no unit"},
		{"abc", `invalid duration "abc"`},
		{"24:00:00", "hours 24 out of range"},
		{"00:60:00", "minutes 60 out of range"},
		{"00:00:60", "seconds 60 out of range"},
		{"00:00:01.12345678", "1 to 7 digits"},
		{"00:00:01.", "1 to 7 digits"},
		{"1:2:3:4", "hours:minutes"},
		{"007", "has no unit"},
		{"x.00:00:01", `days "x" is not a number`},
		{"00:+1:00", "not a number"},
		{"99999999999.00:00:00", "days 99999999999 out of range"},
		{"10675199.00:00:00", "out of range"},
		{":", "hours missing"},
		{"P1Y", `duration "P1Y"`},
	}
	for _, tt := range tests {
		_, err := ParseDuration(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseDuration(%q) error = %v; want it to contain %q", tt.in, err, tt.want)
		}
	}
}

func TestDurationText(t *testing.T) {
	var d Duration
	if err := d.UnmarshalText([]byte("0.00:01:00")); err != nil || d.Std() != time.Minute {
		t.Fatalf("UnmarshalText = %v, %v", d, err)
	}
	if b, _ := d.MarshalText(); string(b) != "1m0s" {
		t.Fatalf("MarshalText = %s", b)
	}
	if err := d.UnmarshalText([]byte("soon")); err == nil {
		t.Fatal("UnmarshalText(soon) succeeded")
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"15s", "PT15S", "0.00:00:15", "00:00:30", "1.02:03:04.5", "-1h", "30", "", ":", "1.:", "9223372036854775807ns"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		// What parses prints as a Go duration that parses back to the same value.
		back, err := ParseDuration(Duration(d).String())
		if err != nil || back != d {
			t.Fatalf("ParseDuration(%q) = %v, which reparses as %v, %v", s, d, back, err)
		}
	})
}
