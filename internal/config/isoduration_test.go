package config

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseISODuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"PT30S":                       30 * time.Second,
		"PT0S":                        0,
		"P0D":                         0,
		"PT5M":                        5 * time.Minute,
		"PT1H30M":                     90 * time.Minute,
		"PT36H":                       36 * time.Hour,
		"P1D":                         24 * time.Hour,
		"P1DT12H":                     36 * time.Hour,
		"P2W":                         14 * 24 * time.Hour,
		"P1W2DT3H4M5S":                9*24*time.Hour + 3*time.Hour + 4*time.Minute + 5*time.Second,
		"PT0.5S":                      500 * time.Millisecond,
		"PT0,25S":                     250 * time.Millisecond,
		"PT1.5H":                      90 * time.Minute,
		"PT1M0.000000001S":            time.Minute + time.Nanosecond,
		"PT10H24M6.169083011336625S":  10*time.Hour + 24*time.Minute + 6169083011*time.Nanosecond,
		"PT.5S":                       500 * time.Millisecond,
		"-PT5S":                       -5 * time.Second,
		"+PT5S":                       5 * time.Second,
		"pt5s":                        5 * time.Second,
		"PT2562047H47M16.854775807S":  math.MaxInt64,
		"-PT2562047H47M16.854775808S": math.MinInt64,
		"PT9223372036.854775807S":     math.MaxInt64,
	} {
		got, err := ParseISODuration(in)
		if err != nil {
			t.Errorf("ParseISODuration(%q): %v", in, err)
			continue
		}
		if got != want {
			t.Errorf("ParseISODuration(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestParseISODurationErrors(t *testing.T) {
	for in, want := range map[string]string{
		"":                           `start with "P"`,
		"30s":                        `start with "P"`,
		"P":                          "no component",
		"PT":                         `no time component after "T"`,
		"P1DT":                       `no time component after "T"`,
		"P1Y":                        "years",
		"P1M":                        "months",
		"P1H":                        `needs a "T"`,
		"P5S":                        `needs a "T"`,
		"PT1D":                       "unknown unit",
		"PT5":                        "no unit designator",
		"PTS":                        "expected a number",
		"PT1.S":                      "no digits after the decimal mark",
		"PT1.5M30S":                  "only the last component",
		"PT5S5M":                     "out of order",
		"PT5M5M":                     "repeated",
		"P1DT1HT2M":                  `"T" appears twice`,
		"PT1X":                       "unknown unit",
		"PT2562047H47M16.854775808S": "too long",
		"P15251W":                    "too long",
		"PT99999999999999999999S":    "too long",
		"PT-5S":                      "expected a number",
		"P1D ":                       "",
		" PT5S":                      `start with "P"`,
	} {
		d, err := ParseISODuration(in)
		if err == nil {
			t.Errorf("ParseISODuration(%q) = %v, want an error", in, d)
			continue
		}
		if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "PT30S") {
			t.Errorf("ParseISODuration(%q) = %v, want it to mention %q and an example", in, err, want)
		}
	}
}

func TestFormatISODuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                  "PT0S",
		30 * time.Second:                   "PT30S",
		5 * time.Minute:                    "PT5M",
		90 * time.Minute:                   "PT1H30M",
		36 * time.Hour:                     "PT36H",
		time.Hour + time.Second:            "PT1H1S",
		250 * time.Millisecond:             "PT0.25S",
		time.Nanosecond:                    "PT0.000000001S",
		-1500 * time.Millisecond:           "-PT1.5S",
		math.MaxInt64:                      "PT2562047H47M16.854775807S",
		math.MinInt64:                      "-PT2562047H47M16.854775808S",
		2*time.Minute + 3*time.Microsecond: "PT2M0.000003S",
	} {
		if got := FormatISODuration(d); got != want {
			t.Errorf("FormatISODuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestISODurationRoundTrip(t *testing.T) {
	for _, d := range []time.Duration{
		0, 1, -1, time.Microsecond, 999999999, time.Second, 59 * time.Second, time.Minute, time.Hour,
		25*time.Hour + 61*time.Second + 7, 7 * 24 * time.Hour, math.MaxInt64, math.MinInt64, math.MinInt64 + 1,
	} {
		s := FormatISODuration(d)
		got, err := ParseISODuration(s)
		if err != nil || got != d {
			t.Errorf("ParseISODuration(FormatISODuration(%d) = %q) = %d, %v", int64(d), s, int64(got), err)
		}
	}
}

func FuzzParseISODuration(f *testing.F) {
	for _, s := range []string{"PT30S", "P1DT12H", "PT10H24M6.169083011336625S", "-PT0,5S", "P2W", "PT", "P1Y", "PT1.5M30S",
		"PT2562047H47M16.854775807S", "P99999999999999999999D"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseISODuration(s)
		if err != nil {
			if !strings.Contains(err.Error(), "PT30S") {
				t.Errorf("error without an example: %v", err)
			}
			return
		}
		// Whatever parses formats to a canonical form that parses back to the same value.
		canon := FormatISODuration(d)
		back, err := ParseISODuration(canon)
		if err != nil || back != d {
			t.Errorf("%q -> %d -> %q -> %d, %v", s, int64(d), canon, int64(back), err)
		}
		if again := FormatISODuration(back); again != canon {
			t.Errorf("format not stable: %q then %q", canon, again)
		}
	})
}
