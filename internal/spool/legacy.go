package spool

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"time"
)

// Items written before the tallies and images shared this spool (edgecam 0.x: internal/queue's
// "EQ01" and internal/upload's "EUP1" files) are still read, so an upgrade delivers what an older
// version left waiting. New items are always written as "ES01".
const (
	legacyQueueMagic = "EQ01" // CRC-32C, length, JSON {time, props, body (base64)}
	legacyImageMagic = "EUP1" // header length, JSON {time, tally}, JPEG
)

func decodeLegacyQueue(b []byte) (Item, error) {
	const n = 4 + 4 + 4
	if len(b) < n {
		return Item{}, errors.New("missing header (truncated)")
	}
	sum, size := binary.LittleEndian.Uint32(b[4:]), binary.LittleEndian.Uint32(b[8:])
	payload := b[n:]
	if uint32(len(payload)) != size {
		return Item{}, fmt.Errorf("truncated: %d of %d bytes", len(payload), size)
	}
	if crc32.Checksum(payload, crcTable) != sum {
		return Item{}, errors.New("checksum mismatch")
	}
	var r struct {
		Time  time.Time         `json:"time"`
		Props map[string]string `json:"props,omitempty"`
		Body  []byte            `json:"body"`
	}
	if err := json.Unmarshal(payload, &r); err != nil {
		return Item{}, fmt.Errorf("bad payload: %w", err)
	}
	return Item{Time: r.Time, Meta: r.Props, Data: r.Body}, nil
}

func decodeLegacyImage(b []byte) (Item, error) {
	if len(b) < 8 {
		return Item{}, errors.New("not a spooled image (bad header)")
	}
	n := int(binary.LittleEndian.Uint32(b[4:]))
	rest := b[8:]
	if n > len(rest) {
		return Item{}, errors.New("truncated header")
	}
	var h struct {
		Time  time.Time       `json:"time"`
		Tally json.RawMessage `json:"tally,omitempty"`
	}
	if err := json.Unmarshal(rest[:n], &h); err != nil {
		return Item{}, fmt.Errorf("bad header: %w", err)
	}
	if len(rest[n:]) == 0 {
		return Item{}, errors.New("no image data")
	}
	it := Item{Time: h.Time, Data: rest[n:]}
	if len(h.Tally) > 0 && !bytes.Equal(h.Tally, []byte("null")) {
		it.Meta = map[string]string{LegacyTallyKey: string(h.Tally)}
	}
	return it, nil
}

// LegacyTallyKey is the metadata key under which a legacy image's tally is returned.
const LegacyTallyKey = "tally"
