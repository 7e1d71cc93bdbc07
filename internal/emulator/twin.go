package emulator

import (
	"encoding/json"
	"maps"
)

// Twin is a copy of a device twin as the hub keeps it. Desired and Reported hold the
// properties without "$version"; the versions are separate.
type Twin struct {
	DeviceID        string
	Tags            map[string]any
	Desired         map[string]any
	DesiredVersion  int
	Reported        map[string]any
	ReportedVersion int
}

// InitialTwin is the twin a DPS enrollment or a custom allocation webhook gives a new device,
// in DPS's JSON shape: {"tags":{...},"properties":{"desired":{...}}}.
type InitialTwin struct {
	Tags       map[string]any        `json:"tags,omitempty"`
	Properties InitialTwinProperties `json:"properties,omitzero"`
}

// InitialTwinProperties holds the desired properties of an InitialTwin.
type InitialTwinProperties struct {
	Desired map[string]any `json:"desired,omitempty"`
}

type twinState struct {
	tags            map[string]any
	desired         map[string]any
	desiredVersion  int
	reported        map[string]any
	reportedVersion int
}

func newTwinState() twinState {
	return twinState{tags: map[string]any{}, desired: map[string]any{}, reported: map[string]any{}, desiredVersion: 1, reportedVersion: 1}
}

func (t *twinState) applyInitial(it *InitialTwin) {
	if it == nil {
		return
	}
	mergePatch(t.tags, deepCopy(it.Tags))
	if len(it.Properties.Desired) > 0 {
		mergePatch(t.desired, deepCopy(it.Properties.Desired))
		t.desiredVersion++
	}
}

func (t *twinState) snapshot(id string) Twin {
	return Twin{
		DeviceID:        id,
		Tags:            deepCopy(t.tags),
		Desired:         deepCopy(t.desired),
		DesiredVersion:  t.desiredVersion,
		Reported:        deepCopy(t.reported),
		ReportedVersion: t.reportedVersion,
	}
}

// document is the twin as a device GET returns it.
func (t *twinState) document() []byte {
	d := maps.Clone(t.desired)
	d["$version"] = t.desiredVersion
	r := maps.Clone(t.reported)
	r["$version"] = t.reportedVersion
	b, _ := json.Marshal(map[string]any{"desired": d, "reported": r})
	return b
}

// mergePatch applies a JSON merge patch (RFC 7386) to dst: objects merge recursively, null
// deletes, anything else replaces. "$version" keys in the patch are ignored.
func mergePatch(dst, patch map[string]any) {
	for k, v := range patch {
		if k == "$version" {
			continue
		}
		switch pv := v.(type) {
		case nil:
			delete(dst, k)
		case map[string]any:
			cur, ok := dst[k].(map[string]any)
			if !ok {
				cur = map[string]any{}
			}
			mergePatch(cur, pv)
			dst[k] = cur
		default:
			dst[k] = v
		}
	}
}

// deepCopy copies a JSON-shaped map (through JSON, which also normalises numbers to float64).
func deepCopy(m map[string]any) map[string]any {
	out := map[string]any{}
	if len(m) == 0 {
		return out
	}
	b, err := json.Marshal(m)
	if err != nil {
		return out
	}
	_ = json.Unmarshal(b, &out)
	return out
}
