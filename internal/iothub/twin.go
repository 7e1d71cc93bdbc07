package iothub

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
)

// Twin is a device twin as GET returns it.
type Twin struct {
	Desired         json.RawMessage // desired properties, "$version" included
	Reported        json.RawMessage // reported properties, "$version" included
	DesiredVersion  int64
	ReportedVersion int64
}

// GetTwin reads the device twin. Without a deadline in ctx it gives up after 30 s.
func (c *Client) GetTwin(ctx context.Context) (Twin, error) {
	r, err := c.request(ctx, twinGetFormat, nil)
	if err != nil {
		return Twin{}, fmt.Errorf("iothub: get twin: %w", err)
	}
	if r.status != 200 {
		return Twin{}, fmt.Errorf("iothub: get twin: the hub answered status %d: %s", r.status, snippet(r.body))
	}
	t, err := parseTwin(r.body)
	if err != nil {
		return Twin{}, fmt.Errorf("iothub: get twin: %w", err)
	}
	return t, nil
}

func parseTwin(body []byte) (Twin, error) {
	var doc struct {
		Desired  json.RawMessage `json:"desired"`
		Reported json.RawMessage `json:"reported"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return Twin{}, fmt.Errorf("twin document is not JSON: %v", err)
	}
	t := Twin{Desired: doc.Desired, Reported: doc.Reported}
	var err error
	if t.DesiredVersion, err = sectionVersion(doc.Desired); err != nil {
		return Twin{}, fmt.Errorf("desired properties: %w", err)
	}
	if t.ReportedVersion, err = sectionVersion(doc.Reported); err != nil {
		return Twin{}, fmt.Errorf("reported properties: %w", err)
	}
	return t, nil
}

// sectionVersion reads "$version" from a twin section; 0 when the section or version is absent.
func sectionVersion(raw json.RawMessage) (int64, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var v struct {
		Version *int64 `json:"$version"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, fmt.Errorf("not a JSON object: %v", err)
	}
	if v.Version == nil {
		return 0, nil
	}
	return *v.Version, nil
}

// UpdateReported patches the reported properties with patch (a JSON object) and returns the
// new reported version. Without a deadline in ctx it gives up after 30 s.
func (c *Client) UpdateReported(ctx context.Context, patch []byte) (int64, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(patch, &obj); err != nil {
		return 0, fmt.Errorf("iothub: reported properties patch must be a JSON object: %v", err)
	}
	r, err := c.request(ctx, twinPatchFormat, patch)
	if err != nil {
		return 0, fmt.Errorf("iothub: update reported properties: %w", err)
	}
	if r.status < 200 || r.status > 299 {
		return 0, fmt.Errorf("iothub: update reported properties: the hub answered status %d: %s", r.status, snippet(r.body))
	}
	return r.version, nil
}

// request publishes to fmt.Sprintf(topicFormat, rid) and waits for the reply with that rid.
// It counts as in flight until the reply, so a token renewal does not lose it.
func (c *Client) request(ctx context.Context, topicFormat string, body []byte) (response, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultRequestTime)
		defer cancel()
	}
	rid := strconv.FormatUint(c.rid.Add(1), 10)
	ch := make(chan response, 1)
	c.pendMu.Lock()
	c.pending[rid] = ch
	c.pendMu.Unlock()
	defer func() {
		c.pendMu.Lock()
		delete(c.pending, rid)
		c.pendMu.Unlock()
	}()
	s, err := c.acquire(ctx)
	if err != nil {
		return response{}, err
	}
	defer c.release()
	if body == nil {
		body = []byte{}
	}
	if err := waitToken(ctx, s.cl, s.cl.Publish(fmt.Sprintf(topicFormat, rid), 1, false, body), s.lost); err != nil {
		return response{}, err
	}
	select {
	case r := <-ch:
		return r, nil
	case <-s.lost:
		return response{}, fmt.Errorf("%w: connection lost before the reply", ErrNotConnected)
	case <-c.ctx.Done():
		return response{}, ErrClosed
	case <-ctx.Done():
		return response{}, fmt.Errorf("no reply from the hub: %w", ctx.Err())
	}
}

// snippet shortens a reply body for an error message.
func snippet(b []byte) string {
	const n = 200
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	if len(b) == 0 {
		return "(empty body)"
	}
	return string(b)
}
