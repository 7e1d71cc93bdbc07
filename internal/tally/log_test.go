package tally

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestLogBodyIsAnObjectInJSONAndKeysInText(t *testing.T) {
	body := LogBody{"person": 3, "bus": 1, "traffic light": 0}

	var js bytes.Buffer
	slog.New(slog.NewJSONHandler(&js, nil)).Info("tick", "tally", body)
	var rec struct {
		Tally map[string]int `json:"tally"`
	}
	if err := json.Unmarshal(js.Bytes(), &rec); err != nil {
		t.Fatalf("JSON log line %q: %v", js.String(), err)
	}
	if len(rec.Tally) != 3 || rec.Tally["person"] != 3 || rec.Tally["bus"] != 1 || rec.Tally["traffic light"] != 0 {
		t.Fatalf("tally in JSON: %s", js.String())
	}
	if !strings.Contains(js.String(), `"tally":{"bus":1,"person":3,"traffic light":0}`) {
		t.Fatalf("want the labels sorted: %s", js.String())
	}

	var txt bytes.Buffer
	slog.New(slog.NewTextHandler(&txt, nil)).Info("tick", "tally", body)
	if !strings.Contains(txt.String(), `tally.bus=1 tally.person=3 "tally.traffic light"=0`) || strings.Contains(txt.String(), "map[") {
		t.Fatalf("tally in text: %s", txt.String())
	}

	// An empty tally (nothing seen, no minimum labels) is an empty object, not a missing key.
	js.Reset()
	slog.New(slog.NewJSONHandler(&js, nil)).Info("tick", "tally", LogBody{})
	if !strings.Contains(js.String(), `"tally":{}`) {
		t.Fatalf("empty tally in JSON: %s", js.String())
	}
	txt.Reset()
	slog.New(slog.NewTextHandler(&txt, nil)).Info("tick", "tally", LogBody{})
	if !strings.Contains(txt.String(), "tally={}") {
		t.Fatalf("empty tally in text: %s", txt.String())
	}
}
