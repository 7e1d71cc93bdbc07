// Package redact masks secrets in URLs before they reach a log, an error message or `config
// check`: the password of the user info, and query or path parameters whose name says they
// carry a credential (?user=admin&pwd=secret, /user=admin&password=secret&channel=1.sdp, as
// cheap cameras take them). It is the one place that decides what a secret looks like in a URL.
package redact

import (
	"regexp"
	"strings"
)

// Mask replaces every secret.
const Mask = "*****"

// secretName matches parameter names that carry credentials (case-insensitive). User names are
// masked too: with the password they are half of a login, and cameras rarely need them shown.
var secretName = `(?:user|username|usr|login|pass|passwd|password|pwd|psw|key|apikey|api_key|api-key|token|access_token|auth|authorization|sig|signature|secret|credential|credentials|session|sessionid|sid)`

// paramRE finds name=value pairs in a URL's path, query or fragment. A pair starts after one of
// ? & ; / # , or at the start; its value runs to the next separator.
var paramRE = regexp.MustCompile(`(?i)([?&;/#,])(` + secretName + `)=([^&;/#,?]*)`)

// URL returns s with the user-info password and credential-like parameters masked. Text that
// does not look like a URL (no "://") is masked only in its parameters. It never fails: an
// unparsable URL is masked by pattern.
func URL(s string) string {
	if s == "" {
		return s
	}
	out := s
	if i := strings.Index(out, "://"); i >= 0 {
		rest := out[i+3:]
		// The authority ends at the first / ? or #; its user info at the last @ inside it.
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
			userinfo := rest[:at]
			if user, _, hasPw := strings.Cut(userinfo, ":"); hasPw {
				userinfo = user + ":" + Mask
			}
			out = out[:i+3] + userinfo + rest[at:]
		}
	}
	return paramRE.ReplaceAllString(out, "${1}${2}="+Mask)
}

// Text masks every URL found in free text (an error from a library that quotes the URL it was
// given), with URL's rules.
func Text(s string) string {
	if !strings.Contains(s, "://") && !strings.Contains(s, "=") {
		return s
	}
	return urlRE.ReplaceAllStringFunc(s, URL)
}

// urlRE matches a URL-ish word: scheme://... up to white space or a quote.
var urlRE = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>]+`)

// Error wraps err so that its text is masked with Text's rules (a library error that quotes a
// URL with a SAS signature or a password); errors.Is and errors.As still see err. Nil stays nil.
func Error(err error) error {
	if err == nil {
		return nil
	}
	return maskedError{err}
}

type maskedError struct{ err error }

func (e maskedError) Error() string { return Text(e.err.Error()) }
func (e maskedError) Unwrap() error { return e.err }
