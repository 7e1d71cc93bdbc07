package camera

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/redact"
)

const (
	// httpDefaultTimeout bounds one snapshot request: connect, headers and body.
	httpDefaultTimeout = 10 * time.Second
	// httpMaxDialTimeout caps the connect timeout when the capture timeout is longer.
	httpMaxDialTimeout = 10 * time.Second
	// httpMaxAttempts is one plain request, one answering a challenge and one renewing a
	// stale Digest nonce.
	httpMaxAttempts = 3
	// httpMaxHeaderBytes caps a response's headers (Go's default is 10 MiB): a camera's are a
	// few hundred bytes, and the Digest parser must not be fed megabytes of challenges.
	httpMaxHeaderBytes = 64 << 10
	// httpHeadBytes is how much of a body is read before its image header is checked.
	httpHeadBytes = 64 << 10
	// httpMaxRedirects caps a chain of redirects.
	httpMaxRedirects = 5
)

// authScheme is what the camera asked for, learned from its first 401 and then sent up front.
type authScheme int

const (
	authUnknown authScheme = iota
	authBasic
	authDigest
)

// httpSource fetches a snapshot URL, answering Basic or Digest authentication.
type httpSource struct {
	id        string
	url       string // without user info
	shownURL  string // for messages: password redacted
	username  string
	password  string
	timeout   time.Duration
	maxBytes  int64
	maxPixels int64
	pin       authScheme // auth key: the only scheme answered; authUnknown answers what is asked
	redirects string     // config.Redirects*
	host      string     // scheme://host:port of the URL, for the redirect policy
	client    *http.Client

	mu          sync.Mutex // guards the fields below; held for a whole capture
	scheme      authScheme
	digest      digestAuth
	digestSeen  bool // the camera has offered Digest: Basic is never sent after that
	warnedBasic bool // the Basic-over-plain-HTTP warning was logged
}

func newHTTP(c config.Camera) (*httpSource, error) {
	if c.URL == "" {
		return nil, fmt.Errorf("camera %s: type http needs url (the camera's snapshot URL)", c.ID)
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return nil, fmt.Errorf("camera %s: url: %w", c.ID, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("camera %s: url %q: want http://host/path or https://host/path", c.ID, redact.URL(c.URL))
	}
	s := &httpSource{
		id:        c.ID,
		shownURL:  redact.URL(c.URL),
		username:  c.Username,
		password:  c.Password,
		timeout:   timeoutOr(c, httpDefaultTimeout),
		maxBytes:  maxBytes(c),
		maxPixels: MaxPixels(c),
		redirects: c.Redirects,
		host:      originOf(u),
	}
	switch strings.ToLower(c.Auth) {
	case "":
	case config.AuthDigest:
		s.pin = authDigest
	case config.AuthBasic:
		s.pin = authBasic
	default:
		return nil, fmt.Errorf("camera %s: auth %q: use digest or basic, or leave it empty", c.ID, c.Auth)
	}
	switch s.redirects = strings.ToLower(s.redirects); s.redirects {
	case "":
		s.redirects = config.RedirectsSameHost
	case config.RedirectsSameHost, config.RedirectsAny, config.RedirectsNone:
	default:
		return nil, fmt.Errorf("camera %s: redirects %q: use same-host, any or none", c.ID, c.Redirects)
	}
	// Credentials in the URL count when the configuration has none; they are taken out of the
	// URL so that Digest works with them too.
	if u.User != nil {
		if s.username == "" {
			s.username = u.User.Username()
			s.password, _ = u.User.Password()
		}
		u.User = nil
	}
	s.url = u.String()
	s.digest.username, s.digest.password = s.username, s.password

	dialTimeout := min(s.timeout, httpMaxDialTimeout)
	s.client = &http.Client{
		Transport: &http.Transport{
			// Cameras are on the local network: no proxy.
			DialContext:            (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:    dialTimeout,
			ResponseHeaderTimeout:  s.timeout,
			MaxResponseHeaderBytes: httpMaxHeaderBytes,
			MaxIdleConnsPerHost:    1,
			IdleConnTimeout:        90 * time.Second,
		},
		CheckRedirect: s.checkRedirect,
	}
	return s, nil
}

var _ io.Closer = (*httpSource)(nil)

// originOf returns scheme://host:port of u, with the scheme's default port made explicit.
func originOf(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(net.JoinHostPort(u.Hostname(), port))
}

// errRedirect is a redirect the camera's redirects policy refuses.
type errRedirect struct {
	target, policy string
}

func (e *errRedirect) Error() string {
	if e.policy == config.RedirectsNone {
		return fmt.Sprintf("the camera redirects to %s, and redirects: none follows no redirect: use the final URL, or set redirects: same-host or any", e.target)
	}
	return fmt.Sprintf("the camera redirects to %s, another host or scheme, which redirects: same-host refuses: use that URL directly, or set redirects: any if you trust it", e.target)
}

// checkRedirect applies the redirects policy: by default only to the same scheme, host and port
// (a camera must not send edgecam, and an http camera's credentials, elsewhere).
func (s *httpSource) checkRedirect(req *http.Request, via []*http.Request) error {
	target := redact.URL(req.URL.String())
	switch {
	case s.redirects == config.RedirectsNone:
		return &errRedirect{target: target, policy: s.redirects}
	case s.redirects == config.RedirectsSameHost && originOf(req.URL) != s.host:
		return &errRedirect{target: target, policy: s.redirects}
	case len(via) >= httpMaxRedirects:
		return fmt.Errorf("more than %d redirects (last to %s)", httpMaxRedirects, target)
	}
	return nil
}

// Close drops idle connections.
func (s *httpSource) Close() error {
	s.client.CloseIdleConnections()
	return nil
}

// Capture GETs the snapshot URL.
func (s *httpSource) Capture(ctx context.Context) (*Frame, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	s.mu.Lock()
	defer s.mu.Unlock()

	start := time.Now()
	// fresh: the credentials answer a challenge received during this capture. A 401 to
	// credentials built on an older challenge only means the camera wants a new nonce (many
	// cameras expire nonces without saying stale=true).
	fresh := false
	for attempt := 1; ; attempt++ {
		resp, sentAuth, err := s.get(ctx)
		if err != nil {
			return nil, s.requestError(ctx, err)
		}
		if resp.StatusCode != http.StatusUnauthorized || attempt == httpMaxAttempts {
			defer resp.Body.Close()
			return s.frame(ctx, resp, start)
		}
		chs := parseChallenges(resp.Header.Values("WWW-Authenticate"))
		drain(resp.Body)
		if s.username == "" {
			return nil, fmt.Errorf("camera %s: GET %s: 401 Unauthorized: the camera needs a username and password",
				s.id, s.shownURL)
		}
		stale := false
		if s.scheme == authDigest {
			if d, err := pickDigest(chs); err == nil && strings.EqualFold(d.params["stale"], "true") {
				stale = true
			}
		}
		if sentAuth && fresh && !stale {
			return nil, fmt.Errorf("camera %s: GET %s: 401 Unauthorized: check the username and password",
				s.id, s.shownURL)
		}
		if err := s.adopt(chs); err != nil {
			return nil, fmt.Errorf("camera %s: GET %s: 401 Unauthorized: %w", s.id, s.shownURL, err)
		}
		fresh = true
	}
}

// get sends one GET with the credentials learned so far.
func (s *httpSource) get(ctx context.Context) (resp *http.Response, sentAuth bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Accept", "image/jpeg, image/png;q=0.9, image/*;q=0.8")
	switch s.scheme {
	case authBasic:
		req.SetBasicAuth(s.username, s.password)
		sentAuth = true
		if req.URL.Scheme == "http" && !s.warnedBasic {
			s.warnedBasic = true
			slog.Warn("camera password sent with Basic authentication over plain HTTP: anyone on the network can read it; use https, or Digest if the camera supports it",
				"camera", s.id, "url", s.shownURL)
		}
	case authDigest:
		req.Header.Set("Authorization", s.digest.authorization(req.Method, req.URL.RequestURI()))
		sentAuth = true
	}
	resp, err = s.client.Do(req)
	return resp, sentAuth, err
}

// adopt picks the scheme to answer chs with: Digest when offered (strongest algorithm), else
// Basic, unless the camera offered Digest before (a downgrade) or auth pins another scheme.
func (s *httpSource) adopt(chs []challenge) error {
	hasDigest, hasBasic := false, false
	for _, c := range chs {
		hasDigest = hasDigest || c.scheme == "digest"
		hasBasic = hasBasic || c.scheme == "basic"
	}
	s.digestSeen = s.digestSeen || hasDigest
	switch {
	case s.pin == authBasic:
		if !hasBasic {
			return fmt.Errorf("the camera does not offer Basic authentication (offered: %s) but auth: basic is set: remove it or set auth: digest", offered(chs))
		}
		s.scheme = authBasic
		return nil
	case s.pin == authDigest && !hasDigest:
		return fmt.Errorf("the camera does not offer Digest authentication (offered: %s) but auth: digest is set: refusing to send the password another way", offered(chs))
	case !hasDigest && hasBasic && s.digestSeen:
		return errors.New("the camera offered Digest authentication before and now offers only Basic: refusing to send the password in clear (a downgrade, possibly by someone on the network); set auth: basic if the camera really changed")
	}
	if hasDigest {
		c, err := pickDigest(chs)
		if err == nil {
			s.scheme = authDigest
			s.digest.setChallenge(c)
			return nil
		}
		if !hasBasic {
			return err
		}
	}
	if hasBasic {
		s.scheme = authBasic
		return nil
	}
	if len(chs) == 0 {
		return errors.New("the camera sent no WWW-Authenticate challenge")
	}
	return fmt.Errorf("unsupported authentication scheme %q: edgecam supports Basic and Digest", chs[0].scheme)
}

// offered lists the schemes of chs for a message.
func offered(chs []challenge) string {
	var names []string
	for _, c := range chs {
		if !slices.Contains(names, c.scheme) {
			names = append(names, c.scheme)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// frame checks the response and reads the image.
func (s *httpSource) frame(ctx context.Context, resp *http.Response, start time.Time) (*Frame, error) {
	where := "GET " + s.shownURL
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg := fmt.Sprintf("camera %s: %s: %s", s.id, where, resp.Status)
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			msg += ": check the username and password"
		case http.StatusNotFound:
			msg += ": check the snapshot URL"
		}
		drain(resp.Body)
		return nil, errors.New(msg)
	}
	if resp.ContentLength > s.maxBytes {
		return nil, errTooLarge(s.id, where, s.maxBytes)
	}
	ct := resp.Header.Get("Content-Type")
	if mt, _, _ := mime.ParseMediaType(ct); mt == "text/html" {
		return nil, fmt.Errorf("camera %s: %s: the camera sent a web page (Content-Type %s), not an image: use the camera's snapshot URL",
			s.id, where, ct)
	}
	// The first bytes tell an image bomb, or something that is no image at all, before the
	// rest is downloaded and buffered.
	head := make([]byte, min(httpHeadBytes, s.maxBytes+1))
	n, err := io.ReadFull(resp.Body, head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return nil, s.requestError(ctx, err)
	}
	head = head[:n]
	if err := checkPrefix(s.id, where, head, s.maxPixels); err != nil {
		return nil, fmt.Errorf("%w (Content-Type %q)", err, ct)
	}
	data, err := readLimited(io.MultiReader(bytes.NewReader(head), resp.Body), s.maxBytes, resp.ContentLength)
	if errors.Is(err, errOverLimit) {
		return nil, errTooLarge(s.id, where, s.maxBytes)
	}
	if err != nil {
		return nil, s.requestError(ctx, err)
	}
	if err := checkImage(s.id, where, data, s.maxPixels); err != nil {
		return nil, fmt.Errorf("%w (Content-Type %q)", err, ct)
	}
	return &Frame{Camera: s.id, Time: start, Data: data, MaxPixels: s.maxPixels}, nil
}

// requestError words a transport error; timeouts say so.
func (s *httpSource) requestError(ctx context.Context, err error) error {
	var ne net.Error
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("camera %s: GET %s: no complete answer within %v (timeout): is the camera reachable and the URL right?",
			s.id, s.shownURL, s.timeout)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("camera %s: GET %s: %w", s.id, s.shownURL, ctx.Err())
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the URL is named already
	}
	if strings.Contains(err.Error(), "response headers exceeded") {
		return fmt.Errorf("camera %s: GET %s: the response headers are larger than %d KiB: not a snapshot URL, or a misbehaving camera",
			s.id, s.shownURL, httpMaxHeaderBytes>>10)
	}
	// Library errors may quote URLs (a redirect target, a proxy): never with their secrets.
	return fmt.Errorf("camera %s: GET %s: %s", s.id, s.shownURL, redact.Text(err.Error()))
}

// drain reads a little of an unwanted body so the connection can be reused, and closes it.
func drain(body io.ReadCloser) {
	io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	body.Close()
}
