package dtdl

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits of DTDL v2 (DTDL.v2.md) the generator keeps to.
const (
	// MaxInterfaceIDLen is the longest @id of an Interface.
	MaxInterfaceIDLen = 128
	maxDisplayNameLen = 64
	maxContents       = 300
)

// ValidateModelID checks that id is a DTMI usable as the @id of a DTDL v2 Interface (and so as
// an IoT Plug and Play model ID): "dtmi:" then colon-separated segments of letters, digits and
// underscores, each starting with a letter and not ending with an underscore, then ";" and a
// version from 1 to 999999999; at most 128 characters.
func ValidateModelID(id string) error {
	if id == "" {
		return errors.New(`model ID is empty: use a DTMI such as "dtmi:com:example:edgecam;1"`)
	}
	if err := CheckDTMI(id, MaxInterfaceIDLen); err != nil {
		return fmt.Errorf("model ID %q: %w", id, err)
	}
	return nil
}

// CheckDTMI checks a user DTMI with a version and no fragment, at most maxLen characters.
func CheckDTMI(id string, maxLen int) error {
	if n := utf8.RuneCountInString(id); n > maxLen {
		return fmt.Errorf("%d characters, more than the %d allowed", n, maxLen)
	}
	if !strings.HasPrefix(id, "dtmi:") {
		return errors.New(`must start with "dtmi:" (lower case), e.g. "dtmi:com:example:edgecam;1"`)
	}
	if strings.Contains(id, "#") {
		return errors.New(`must not have a "#fragment"`)
	}
	path, version, ok := strings.Cut(id[len("dtmi:"):], ";")
	if !ok {
		return errors.New(`has no version: end it with ";1" (or another version number)`)
	}
	if version == "" || len(version) > 9 || version[0] == '0' || strings.Trim(version, "0123456789") != "" {
		return fmt.Errorf("version %q must be a number from 1 to 999999999 without leading zeros", version)
	}
	if path == "" {
		return errors.New(`has no path: put segments between "dtmi:" and ";", e.g. "dtmi:com:example:edgecam;1"`)
	}
	for i, seg := range strings.Split(path, ":") {
		switch {
		case seg == "":
			return fmt.Errorf("segment %d is empty (two colons in a row, or a colon before %q)", i+1, ";")
		case seg[0] == '_':
			return fmt.Errorf("segment %q starts with an underscore: such system segments are not allowed in models", seg)
		case seg[0] >= '0' && seg[0] <= '9':
			return fmt.Errorf("segment %q starts with a digit: start it with a letter", seg)
		case seg[len(seg)-1] == '_':
			return fmt.Errorf("segment %q ends with an underscore", seg)
		case strings.IndexFunc(seg, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_')
		}) >= 0:
			return fmt.Errorf("segment %q may only hold letters, digits and underscores", seg)
		}
	}
	if strings.HasPrefix(id, "dtmi:dtdl:") || strings.HasPrefix(id, "dtmi:standard:") {
		return errors.New(`"dtmi:dtdl:" and "dtmi:standard:" are reserved by DTDL: use your own prefix, e.g. your reversed domain`)
	}
	return nil
}
