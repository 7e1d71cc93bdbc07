package camera

// HTTP Digest authentication (RFC 7616) for snapshot cameras. This stays local rather than using
// github.com/icholy/digest (v1.2.0, read for issue 21): that library parses one challenge per
// WWW-Authenticate value and only Digest ones, so it cannot see a Basic challenge beside a Digest
// one or a camera that stops offering Digest, which edgecam's policy needs (pick the strongest
// Digest, pin a scheme, refuse a downgrade to Basic: httpSource.adopt); it computes no -sess
// algorithms (MD5-sess, SHA-256-sess, which edgecam answers); and its parser has no bound on the
// challenges and parameters a hostile camera sends (parseChallenges keeps 16 of 16). The part it
// would replace, the response computation below, is about 60 lines.

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
)

// challenge is one authentication challenge of a WWW-Authenticate header: a scheme and its
// parameters (names lower-cased).
type challenge struct {
	scheme string // lower case: "basic", "digest"
	params map[string]string
}

// Bounds of parseChallenges: a real camera offers two or three challenges of a few parameters;
// a hostile one must not make edgecam allocate per token.
const (
	maxChallenges      = 16
	maxChallengeParams = 16
)

// parseChallenges parses WWW-Authenticate header values (RFC 9110 section 11.6.1) into
// challenges. A header may hold several comma-separated challenges; malformed parts are skipped.
// At most maxChallenges challenges of maxChallengeParams parameters are kept; the rest is ignored.
func parseChallenges(headers []string) []challenge {
	var out []challenge
	for _, h := range headers {
		if len(out) >= maxChallenges {
			break
		}
		p := &authParser{s: h}
		var cur *challenge
		for {
			p.skipSpaceAndCommas()
			if p.done() {
				break
			}
			tok := p.token()
			if tok == "" { // junk: skip one byte
				p.i++
				continue
			}
			p.skipSpace()
			if !p.done() && p.s[p.i] == '=' {
				// An auth-param of the current challenge (or token68 padding, ignored).
				p.i++
				p.skipSpace()
				var val string
				if !p.done() && p.s[p.i] == '"' {
					val = p.quoted()
				} else {
					val = p.token()
				}
				if cur != nil && len(cur.params) < maxChallengeParams {
					cur.params[strings.ToLower(tok)] = val
				}
				continue
			}
			// A new challenge: scheme token. A token68 credential may follow; skip it.
			if len(out) >= maxChallenges {
				break
			}
			out = append(out, challenge{scheme: strings.ToLower(tok), params: map[string]string{}})
			cur = &out[len(out)-1]
		}
	}
	return out
}

type authParser struct {
	s string
	i int
}

func (p *authParser) done() bool { return p.i >= len(p.s) }

func (p *authParser) skipSpace() {
	for !p.done() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *authParser) skipSpaceAndCommas() {
	for !p.done() && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == ',') {
		p.i++
	}
}

// token reads an RFC 9110 token (plus '/' so token68-ish values survive).
func (p *authParser) token() string {
	start := p.i
	for !p.done() && isTokenChar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

// quoted reads a quoted-string starting at '"', handling backslash escapes.
func (p *authParser) quoted() string {
	p.i++ // opening quote
	var b strings.Builder
	for !p.done() {
		c := p.s[p.i]
		p.i++
		switch c {
		case '\\':
			if !p.done() {
				b.WriteByte(p.s[p.i])
				p.i++
			}
		case '"':
			return b.String()
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isTokenChar(c byte) bool {
	if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~/", c) >= 0
}

// digestAuth answers Digest challenges (RFC 7616 with qop=auth, or RFC 2069 without qop) for
// one user. The zero nc means no challenge has been answered yet.
type digestAuth struct {
	username, password string

	realm, nonce, opaque, algorithm string
	qop                             string // "auth" or "" (RFC 2069)
	userhash                        bool
	nc                              uint32
	cnonce                          string // fixed per nonce for -sess algorithms
}

// digestAlgorithms maps the algorithms edgecam supports to their hash.
var digestAlgorithms = map[string]func() hash.Hash{
	"MD5":          md5.New,
	"MD5-SESS":     md5.New,
	"SHA-256":      sha256.New,
	"SHA-256-SESS": sha256.New,
}

// pickDigest returns the strongest Digest challenge edgecam can answer (SHA-256 over MD5), or
// an error saying why none fits.
func pickDigest(chs []challenge) (*challenge, error) {
	var best *challenge
	rank := func(c *challenge) int {
		if strings.HasPrefix(strings.ToUpper(c.params["algorithm"]), "SHA-256") {
			return 2
		}
		return 1
	}
	var unsupported []string
	for i := range chs {
		c := &chs[i]
		if c.scheme != "digest" {
			continue
		}
		alg := strings.ToUpper(c.params["algorithm"])
		if alg == "" {
			alg = "MD5"
		}
		if _, ok := digestAlgorithms[alg]; !ok {
			unsupported = append(unsupported, "algorithm "+c.params["algorithm"])
			continue
		}
		if q := c.params["qop"]; q != "" && !hasQopAuth(q) {
			unsupported = append(unsupported, "qop "+q)
			continue
		}
		if c.params["nonce"] == "" {
			unsupported = append(unsupported, "challenge without nonce")
			continue
		}
		if best == nil || rank(c) > rank(best) {
			best = c
		}
	}
	if best == nil {
		return nil, fmt.Errorf("unsupported Digest challenge (%s): edgecam supports MD5, MD5-sess, SHA-256 and SHA-256-sess with qop=auth",
			strings.Join(unsupported, ", "))
	}
	return best, nil
}

func hasQopAuth(qop string) bool {
	for _, q := range strings.Split(qop, ",") {
		if strings.EqualFold(strings.TrimSpace(q), "auth") {
			return true
		}
	}
	return false
}

// setChallenge adopts a new challenge, restarting the nonce count.
func (d *digestAuth) setChallenge(c *challenge) {
	d.realm = c.params["realm"]
	d.nonce = c.params["nonce"]
	d.opaque = c.params["opaque"]
	d.algorithm = c.params["algorithm"]
	if d.algorithm == "" {
		d.algorithm = "MD5"
	}
	d.qop = ""
	if hasQopAuth(c.params["qop"]) {
		d.qop = "auth"
	}
	d.userhash = strings.EqualFold(c.params["userhash"], "true")
	d.nc = 0
	d.cnonce = ""
}

// authorization returns the Authorization header value for one request, counting the nonce use.
func (d *digestAuth) authorization(method, uri string) string {
	d.nc++
	cnonce := d.cnonce
	if cnonce == "" || !strings.HasSuffix(strings.ToUpper(d.algorithm), "-SESS") {
		cnonce = newCnonce()
		d.cnonce = cnonce
	}
	return d.authorizationWith(method, uri, cnonce)
}

// authorizationWith computes the header with a given cnonce and the current nc (tests use
// RFC 7616's examples).
func (d *digestAuth) authorizationWith(method, uri, cnonce string) string {
	newHash := digestAlgorithms[strings.ToUpper(d.algorithm)]
	h := func(s string) string {
		x := newHash()
		x.Write([]byte(s))
		return hex.EncodeToString(x.Sum(nil))
	}
	nc := fmt.Sprintf("%08x", d.nc)
	ha1 := h(d.username + ":" + d.realm + ":" + d.password)
	if strings.HasSuffix(strings.ToUpper(d.algorithm), "-SESS") {
		ha1 = h(ha1 + ":" + d.nonce + ":" + cnonce)
	}
	ha2 := h(method + ":" + uri)
	var response string
	if d.qop == "auth" {
		response = h(ha1 + ":" + d.nonce + ":" + nc + ":" + cnonce + ":" + d.qop + ":" + ha2)
	} else {
		response = h(ha1 + ":" + d.nonce + ":" + ha2)
	}
	user := d.username
	if d.userhash {
		user = h(d.username + ":" + d.realm)
	}

	var b strings.Builder
	b.WriteString("Digest ")
	fmt.Fprintf(&b, "username=%s, realm=%s, nonce=%s, uri=%s, algorithm=%s, response=%s",
		quote(user), quote(d.realm), quote(d.nonce), quote(uri), d.algorithm, quote(response))
	if d.opaque != "" {
		fmt.Fprintf(&b, ", opaque=%s", quote(d.opaque))
	}
	if d.qop != "" {
		fmt.Fprintf(&b, ", qop=%s, nc=%s, cnonce=%s", d.qop, nc, quote(cnonce))
	}
	if d.userhash {
		b.WriteString(", userhash=true")
	}
	return b.String()
}

// quote returns s as an RFC 9110 quoted-string.
func quote(s string) string {
	return `"` + quoteEscaper.Replace(s) + `"`
}

var quoteEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

func newCnonce() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b[:])
}
