package spool

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func open(t *testing.T, dir string, opts Options) *Spool {
	t.Helper()
	opts.Suffix, opts.Name, opts.What = ".msg", "queue", "telemetry"
	opts.Logger = slog.New(slog.DiscardHandler)
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// An item comes back as pushed, metadata and payload, after a reopen too.
func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{MaxItems: 10})
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	if _, err := s.Push(Item{Time: at, Meta: map[string]string{"tally": `{"bus":1}`}, Data: []byte{0xFF, 0xD8, 0}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open(t, dir, Options{MaxItems: 10})
	it, ok, err := s.Peek()
	if err != nil || !ok || !it.Time.Equal(at) || it.Meta["tally"] != `{"bus":1}` || string(it.Data) != "\xFF\xD8\x00" || it.Seq != 1 {
		t.Fatalf("Peek = %+v %v %v", it, ok, err)
	}
}

// Files written by the two spools edgecam had before (tallies "EQ01", images "EUP1") are
// still delivered after an upgrade.
func TestLegacyItems(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	payload, _ := json.Marshal(map[string]any{"time": at, "props": map[string]string{"k": "v"}, "body": []byte(`{"bus":1}`)})
	q := binary.LittleEndian.AppendUint32([]byte("EQ01"), crc32.Checksum(payload, crcTable))
	q = append(binary.LittleEndian.AppendUint32(q, uint32(len(payload))), payload...)
	if err := os.WriteFile(filepath.Join(dir, "00000000000000000001.msg"), q, 0o600); err != nil {
		t.Fatal(err)
	}
	hdr, _ := json.Marshal(map[string]any{"time": at, "tally": json.RawMessage(`{"car":2}`)})
	img := append(binary.LittleEndian.AppendUint32([]byte("EUP1"), uint32(len(hdr))), hdr...)
	if err := os.WriteFile(filepath.Join(dir, "00000000000000000002.msg"), append(img, 0xFF, 0xD8), 0o600); err != nil {
		t.Fatal(err)
	}
	s := open(t, dir, Options{})
	it, ok, err := s.Peek()
	if err != nil || !ok || !it.Time.Equal(at) || it.Meta["k"] != "v" || string(it.Data) != `{"bus":1}` {
		t.Fatalf("legacy tally: %+v %v %v", it, ok, err)
	}
	s.Ack(it.Seq)
	it, ok, err = s.Peek()
	if err != nil || !ok || it.Meta[LegacyTallyKey] != `{"car":2}` || string(it.Data) != "\xFF\xD8" {
		t.Fatalf("legacy image: %+v %v %v", it, ok, err)
	}
}

// An item over the whole budget is refused, or dropped and counted with DropOversize.
func TestOversize(t *testing.T) {
	s := open(t, t.TempDir(), Options{MaxBytes: 100})
	if _, err := s.Push(Item{Data: make([]byte, 200)}); err == nil {
		t.Fatal("no error for an item over the budget")
	}
	s = open(t, t.TempDir(), Options{MaxBytes: 100, DropOversize: true})
	if seq, err := s.Push(Item{Data: make([]byte, 200)}); err != nil || seq != 0 || s.DroppedBy(DropTooBig) != 1 || s.Len() != 0 {
		t.Fatalf("DropOversize: seq %d, %v, dropped %d", seq, err, s.DroppedBy(DropTooBig))
	}
}

// The forwarder retries a failing send with backoff, then removes the item once delivered,
// oldest first; without a sender it waits for one.
func TestForwarder(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	for i := range 3 {
		if _, err := s.Push(Item{Data: []byte{byte('a' + i)}}); err != nil {
			t.Fatal(err)
		}
	}
	changed := make(chan struct{})
	var got []string
	fails := 2
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	f := &Forwarder{
		Spool: s,
		Target: func() (Send, <-chan struct{}) {
			return func(_ context.Context, it Item) error {
				if fails > 0 {
					fails--
					return errors.New("offline")
				}
				got = append(got, string(it.Data))
				if len(got) == 3 {
					close(done)
				}
				return nil
			}, changed
		},
		First: time.Millisecond, Max: 2 * time.Millisecond,
		Log: slog.New(slog.DiscardHandler),
	}
	go f.Run(ctx)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("not delivered")
	}
	cancel()
	if len(got) != 3 || got[0] != "a" || got[2] != "c" {
		t.Fatalf("delivered %v", got)
	}
	for s.Len() != 0 {
		time.Sleep(time.Millisecond)
	}
}
