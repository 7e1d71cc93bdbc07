package config

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// ParseISODuration parses an ISO 8601 duration, the wire form of the DTDL `duration` schema that
// IoT Central sends for writable duration properties: "PT30S", "PT1H30M", "P1DT12H",
// "PT10H24M6.169083011336625S", "P2W". A day counts as 24 hours and a week as 7 days. Years and
// months are refused because they have no fixed length. The smallest component may carry a
// fraction ("PT0.5S", "PT1.5H", comma or point); digits beyond nanoseconds are dropped. A leading
// "-" gives a negative duration.
func ParseISODuration(s string) (time.Duration, error) {
	d, err := parseISODuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q: %w (use ISO 8601, e.g. PT30S, PT5M, PT1H30M, P1D)", s, err)
	}
	return d, nil
}

// Unit values for the components of a duration.
const (
	day  = 24 * time.Hour
	week = 7 * day
)

func parseISODuration(s string) (time.Duration, error) {
	in := s
	neg := false
	switch {
	case strings.HasPrefix(in, "-"):
		neg, in = true, in[1:]
	case strings.HasPrefix(in, "+"):
		in = in[1:]
	}
	if len(in) == 0 || (in[0] != 'P' && in[0] != 'p') {
		return 0, errors.New(`must start with "P"`)
	}
	in = in[1:]
	if in == "" {
		return 0, errors.New(`no component after "P"`)
	}

	var (
		total      uint64 // nanoseconds, at most math.MaxInt64 (+1 when negative)
		limit      uint64 = math.MaxInt64
		inTime     bool
		components int
		fraction   bool // the previous component had a fraction: it must be the last
		lastRank   = -1 // rank of the previous designator: W D H M S, each at most once, in order
		timeParts  int  // components after "T"
	)
	if neg {
		limit = math.MaxInt64 + 1
	}
	for in != "" {
		if in[0] == 'T' || in[0] == 't' {
			if inTime {
				return 0, errors.New(`"T" appears twice`)
			}
			inTime = true
			in = in[1:]
			if in == "" {
				return 0, errors.New(`no time component after "T"`)
			}
			continue
		}
		if fraction {
			return 0, errors.New("only the last component may have a fraction")
		}
		intPart, fracPart, des, rest, err := isoComponent(in)
		if err != nil {
			return 0, err
		}
		fraction = fracPart != ""
		in = rest
		unit, rank, err := isoUnit(des, inTime, intPart)
		if err != nil {
			return 0, err
		}
		if rank <= lastRank {
			return 0, fmt.Errorf("unit %q is repeated or out of order", string(des))
		}
		lastRank = rank
		components++
		if inTime {
			timeParts++
		}

		n, err := componentNanos(intPart, fracPart, uint64(unit))
		if err != nil {
			return 0, err
		}
		if n > limit-total {
			return 0, errTooLong
		}
		total += n
	}
	if components == 0 {
		return 0, errors.New("no components")
	}
	if inTime && timeParts == 0 {
		return 0, errors.New(`no time component after "T"`)
	}
	if neg {
		return time.Duration(-int64(total-1) - 1), nil // total may be MaxInt64+1
	}
	return time.Duration(total), nil
}

// isoComponent splits the component at the start of in: its number (digits, an optional
// fraction after "." or ","), its unit designator and what follows.
func isoComponent(in string) (intPart, fracPart string, des byte, rest string, err error) {
	i := 0
	for i < len(in) && in[i] >= '0' && in[i] <= '9' {
		i++
	}
	intPart = in[:i]
	if i < len(in) && (in[i] == '.' || in[i] == ',') {
		j := i + 1
		for j < len(in) && in[j] >= '0' && in[j] <= '9' {
			j++
		}
		fracPart = in[i+1 : j]
		if fracPart == "" {
			return "", "", 0, "", fmt.Errorf("no digits after the decimal mark in %q", in[:j])
		}
		i = j
	}
	if intPart == "" && fracPart == "" {
		return "", "", 0, "", fmt.Errorf("expected a number at %q", in)
	}
	if i == len(in) {
		return "", "", 0, "", fmt.Errorf("number %q has no unit designator (Y, M, W, D, H, M or S)", in)
	}
	return intPart, fracPart, in[i], in[i+1:], nil
}

// isoUnit returns the length and the rank (W D H M S: the order they must come in) of the unit
// designator des, in the date part or (inTime) the time part.
func isoUnit(des byte, inTime bool, intPart string) (time.Duration, int, error) {
	switch {
	case !inTime && (des == 'Y' || des == 'y'):
		return 0, 0, errors.New("years have no fixed length: use days (P365D) instead")
	case !inTime && (des == 'M' || des == 'm'):
		return 0, 0, errors.New(`months have no fixed length: use days (P30D) instead, or "PT…M" for minutes`)
	case !inTime && (des == 'W' || des == 'w'):
		return week, 0, nil
	case !inTime && (des == 'D' || des == 'd'):
		return day, 1, nil
	case inTime && (des == 'H' || des == 'h'):
		return time.Hour, 2, nil
	case inTime && (des == 'M' || des == 'm'):
		return time.Minute, 3, nil
	case inTime && (des == 'S' || des == 's'):
		return time.Second, 4, nil
	case !inTime && (des == 'H' || des == 'h' || des == 'S' || des == 's'):
		return 0, 0, fmt.Errorf(`%q needs a "T" before the time components (e.g. PT%s%c)`, string(des), intPart, des)
	default:
		return 0, 0, fmt.Errorf("unknown unit designator %q", string(des))
	}
}

// errTooLong is returned when a component alone overflows a time.Duration.
var errTooLong = errors.New("too long: the largest duration is about 292 years")

// componentNanos converts intPart[.fracPart] units into nanoseconds, refusing overflow.
func componentNanos(intPart, fracPart string, unit uint64) (uint64, error) {
	var whole uint64
	if intPart != "" {
		v, err := strconv.ParseUint(intPart, 10, 64)
		if err != nil {
			return 0, errTooLong
		}
		hi, lo := bits.Mul64(v, unit)
		if hi != 0 || lo > math.MaxInt64+1 {
			return 0, errTooLong
		}
		whole = lo
	}
	if fracPart == "" {
		return whole, nil
	}
	// Eighteen fraction digits resolve far below a nanosecond of the largest unit (a week,
	// 6.048e14 ns); further digits are dropped. The result is truncated toward zero.
	const keep = 18
	if len(fracPart) > keep {
		fracPart = fracPart[:keep]
	}
	f, _ := strconv.ParseUint(fracPart, 10, 64) // at most 18 digits: fits
	scale := uint64(1)
	for range len(fracPart) {
		scale *= 10
	}
	// f/scale * unit, with a 128-bit intermediate; f < scale so the result < unit.
	hi, lo := bits.Mul64(f, unit)
	q, _ := bits.Div64(hi, lo, scale)
	if q > math.MaxInt64+1-whole {
		return 0, errTooLong
	}
	return whole + q, nil
}

// FormatISODuration formats d as an ISO 8601 duration that ParseISODuration reads back exactly:
// hours, minutes and seconds with a fraction when needed ("PT30S", "PT1H30M", "PT0.25S",
// "PT36H"); zero is "PT0S". Days are not used, so the value never depends on calendar rules.
func FormatISODuration(d time.Duration) string {
	if d == 0 {
		return "PT0S"
	}
	var b strings.Builder
	u := uint64(d)
	if d < 0 {
		b.WriteByte('-')
		u = -u // two's complement: correct for math.MinInt64 too
	}
	b.WriteString("PT")
	h := u / uint64(time.Hour)
	u -= h * uint64(time.Hour)
	m := u / uint64(time.Minute)
	u -= m * uint64(time.Minute)
	sec := u / uint64(time.Second)
	ns := u - sec*uint64(time.Second)
	if h > 0 {
		b.WriteString(strconv.FormatUint(h, 10))
		b.WriteByte('H')
	}
	if m > 0 {
		b.WriteString(strconv.FormatUint(m, 10))
		b.WriteByte('M')
	}
	if sec > 0 || ns > 0 {
		b.WriteString(strconv.FormatUint(sec, 10))
		if ns > 0 {
			frac := strconv.FormatUint(ns+uint64(time.Second), 10)[1:] // nine digits, zero padded
			b.WriteByte('.')
			b.WriteString(strings.TrimRight(frac, "0"))
		}
		b.WriteByte('S')
	}
	return b.String()
}
