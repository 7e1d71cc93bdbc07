package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration that reads Go durations ("15s", "1m30s"), the .NET TimeSpan form
// the original application used ("0.00:00:15", "00:00:30", "1.02:03:04.5") and ISO 8601
// durations as IoT Central sends them ("PT30S"). It prints as a Go duration.
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String formats d as a Go duration ("30s").
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText formats d as a Go duration.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses a Go duration or a .NET TimeSpan (see ParseDuration).
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// ParseDuration parses a Go duration ("15s", "1m30s", "250ms"), a .NET TimeSpan
// ("[-][d.]hh:mm[:ss[.fffffff]]", e.g. "0.00:00:15", "00:00:30", "1.02:03:04.5") or an ISO 8601
// duration ("PT30S", "PT1H30M", the DTDL duration IoT Central sends for writable properties). A
// bare number other than 0 is refused because its unit would be a guess (.NET reads "30" as
// 30 days).
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty duration: use a Go duration such as \"30s\" or a TimeSpan such as \"00:00:30\"")
	}
	if t := strings.TrimPrefix(s, "-"); strings.HasPrefix(t, "P") || strings.HasPrefix(t, "p") {
		return ParseISODuration(s)
	}
	if strings.Contains(s, ":") {
		d, err := parseTimeSpan(s)
		if err != nil {
			return 0, fmt.Errorf("invalid TimeSpan %q: %w (expected [d.]hh:mm[:ss[.fffffff]], e.g. \"0.00:00:30\")", s, err)
		}
		return d, nil
	}
	if isNumber(s) {
		if f, err := strconv.ParseFloat(s, 64); err == nil && f == 0 {
			return 0, nil
		}
		return 0, fmt.Errorf("duration %q has no unit: write e.g. \"%ss\" (Go) or \"00:00:%s\" (TimeSpan)", s, s, twoDigits(s))
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: use a Go duration such as \"30s\" or \"1m30s\", a TimeSpan such as \"00:00:30\" or ISO 8601 such as \"PT30S\"", s)
	}
	return d, nil
}

func isNumber(s string) bool {
	s = strings.TrimLeft(s, "+-")
	if s == "" {
		return false
	}
	dot := false
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
		case r == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return true
}

func twoDigits(s string) string {
	if len(s) == 1 {
		return "0" + s
	}
	return s
}

// parseTimeSpan parses the .NET TimeSpan constant format "[-][d.]hh:mm[:ss[.fffffff]]".
func parseTimeSpan(s string) (time.Duration, error) {
	neg := false
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	var days int64
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, errors.New("need hours:minutes or hours:minutes:seconds")
	}
	// Days are separated from the hours by a dot: "1.02:03:04".
	if d, h, ok := strings.Cut(parts[0], "."); ok {
		n, err := parseUint(d, "days", math.MaxInt32)
		if err != nil {
			return 0, err
		}
		days, parts[0] = n, h
	}
	hours, err := parseUint(parts[0], "hours", 23)
	if err != nil {
		return 0, err
	}
	minutes, err := parseUint(parts[1], "minutes", 59)
	if err != nil {
		return 0, err
	}
	var seconds, nanos int64
	if len(parts) == 3 {
		sec, frac, hasFrac := strings.Cut(parts[2], ".")
		if seconds, err = parseUint(sec, "seconds", 59); err != nil {
			return 0, err
		}
		if hasFrac {
			if frac == "" || len(frac) > 7 {
				return 0, errors.New("fraction of a second needs 1 to 7 digits")
			}
			f, err := parseUint(frac, "fraction of a second", 9999999)
			if err != nil {
				return 0, err
			}
			for i := len(frac); i < 9; i++ {
				f *= 10
			}
			nanos = f
		}
	}
	const maxDays = int64(math.MaxInt64/int64(24*time.Hour)) - 1
	if days > maxDays {
		return 0, fmt.Errorf("days %d out of range (max %d)", days, maxDays)
	}
	d := time.Duration(days)*24*time.Hour + time.Duration(hours)*time.Hour +
		time.Duration(minutes)*time.Minute + time.Duration(seconds)*time.Second + time.Duration(nanos)
	if neg {
		d = -d
	}
	return d, nil
}

func parseUint(s, what string, max int64) (int64, error) {
	if s == "" {
		return 0, fmt.Errorf("%s missing", what)
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("%s %q is not a number", what, s)
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > max {
		return 0, fmt.Errorf("%s %s out of range (max %d)", what, s, max)
	}
	return n, nil
}
