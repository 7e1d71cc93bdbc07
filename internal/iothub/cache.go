package iothub

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgecam/edgecam/internal/atomicfile"
)

// AssignmentCache keeps DPS assignments on disk, one file per ID scope and registration ID, so
// a device does not register at every start (DPS has its own quotas). Files hold no key.
type AssignmentCache struct {
	Dir string
}

// cachedAssignment is the file format. The identity fields must match for the entry to be used:
// a changed ID scope, endpoint or model ID means registering again.
type cachedAssignment struct {
	IDScope        string     `json:"idScope"`
	RegistrationID string     `json:"registrationId"`
	Endpoint       string     `json:"endpoint"`
	ModelID        string     `json:"modelId,omitempty"`
	RegisteredAt   time.Time  `json:"registeredAt"`
	Assignment     Assignment `json:"assignment"`
}

func (c AssignmentCache) path(o DPSOptions) string {
	return filepath.Join(c.Dir, "dps-"+fileSafe(o.IDScope)+"-"+fileSafe(o.RegistrationID)+".json")
}

// fileSafe keeps s as a file-name part, or replaces it with a hash when it has other characters.
func fileSafe(s string) string {
	ok := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			ok = false
			break
		}
	}
	if ok && !strings.HasPrefix(s, ".") {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return "h" + hex.EncodeToString(sum[:8])
}

// Load returns the cached assignment for o; ok is false when there is none or it was made for
// another ID scope, endpoint or model ID.
func (c AssignmentCache) Load(o DPSOptions) (a Assignment, ok bool, err error) {
	b, err := os.ReadFile(c.path(o))
	if errors.Is(err, fs.ErrNotExist) {
		return Assignment{}, false, nil
	}
	if err != nil {
		return Assignment{}, false, fmt.Errorf("dps cache: %w", err)
	}
	var e cachedAssignment
	if err := json.Unmarshal(b, &e); err != nil {
		return Assignment{}, false, nil // a damaged file: register again and overwrite it
	}
	if e.IDScope != o.IDScope || e.RegistrationID != o.RegistrationID || e.Endpoint != o.endpoint() ||
		e.ModelID != o.ModelID || e.Assignment.AssignedHub == "" || e.Assignment.DeviceID == "" {
		return Assignment{}, false, nil
	}
	if len(e.Assignment.Payload) > 0 {
		var buf bytes.Buffer
		if json.Compact(&buf, e.Assignment.Payload) == nil {
			e.Assignment.Payload = buf.Bytes()
		}
	}
	e.Assignment.Cached = true
	return e.Assignment, true, nil
}

// Save writes a's entry atomically (temporary file + rename), readable by the owner only.
func (c AssignmentCache) Save(o DPSOptions, a Assignment) error {
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return fmt.Errorf("dps cache: %w", err)
	}
	b, err := json.MarshalIndent(cachedAssignment{
		IDScope: o.IDScope, RegistrationID: o.RegistrationID, Endpoint: o.endpoint(), ModelID: o.ModelID,
		RegisteredAt: time.Now().UTC(), Assignment: a,
	}, "", "  ")
	if err != nil {
		return fmt.Errorf("dps cache: %w", err)
	}
	if err := atomicfile.Write(c.path(o), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("dps cache: %w", err)
	}
	return nil
}

// Remove forgets o's entry.
func (c AssignmentCache) Remove(o DPSOptions) error {
	if err := os.Remove(c.path(o)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("dps cache: %w", err)
	}
	return nil
}

// RegisterCached returns the assignment cached in dir for o, or registers with DPS and caches
// the result. force registers even when a cached entry exists: do so when the hub refuses the
// cached identity (Dial or the client failing with ErrNotAuthorized).
func RegisterCached(ctx context.Context, o DPSOptions, dir string, force bool) (Assignment, error) {
	if err := o.validate(); err != nil {
		return Assignment{}, err
	}
	cache := AssignmentCache{Dir: dir}
	if !force {
		a, ok, err := cache.Load(o)
		if err != nil {
			// An unreadable cache must not keep the device offline: register instead.
			o.logger().Warn("DPS assignment cache unreadable; registering again", "err", err)
		}
		if ok {
			return a, nil
		}
	}
	a, err := Register(ctx, o)
	if err != nil {
		return Assignment{}, err
	}
	if err := cache.Save(o, a); err != nil {
		// The assignment is good; a full or read-only disk only costs a registration next start.
		o.logger().Warn("could not cache the DPS assignment; the next start registers again", "err", err)
	}
	return a, nil
}
