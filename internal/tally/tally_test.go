package tally

import (
	"encoding/json"
	"maps"
	"testing"
)

func preds(pairs ...any) []Prediction {
	var out []Prediction
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, Prediction{Label: pairs[i].(string), Score: pairs[i+1].(float64)})
	}
	return out
}

func TestCount(t *testing.T) {
	got := Count(preds("person", 0.9, "person", 0.7, "person", 0.69, "bus", 0.95, "car", 0.1), 0.7)
	want := map[string]int{"person": 2, "bus": 1}
	if !maps.Equal(got, want) {
		t.Fatalf("Count = %v, want %v", got, want)
	}
	reused := map[string]int{"stale": 4}
	if got := CountInto(reused, nil, 0.5); len(got) != 0 {
		t.Fatalf("CountInto kept %v", got)
	}
}

func TestRules(t *testing.T) {
	// bus.jpg at 0.5 with yolov5n: 4 people and a bus (testdata README).
	bus := preds("person", 0.88, "person", 0.86, "bus", 0.85, "person", 0.82, "person", 0.6, "stop sign", 0.3)
	tests := []struct {
		name  string
		rules Rules
		preds []Prediction
		want  map[string]int
		send  bool
	}{
		{"interest present, minimum padded",
			Rules{Threshold: 0.5, Interest: []string{"person", "bicycle"}, Minimum: []string{"bicycle", "car", "person"}}, bus,
			map[string]int{"person": 4, "bus": 1, "bicycle": 0, "car": 0}, true},
		{"threshold drops a person",
			Rules{Threshold: 0.8, Interest: []string{"bus"}}, bus,
			map[string]int{"person": 3, "bus": 1}, true},
		{"no label of interest: nothing sent",
			Rules{Threshold: 0.5, Interest: []string{"dog", "cat"}, Minimum: []string{"dog"}}, bus,
			map[string]int{}, false},
		{"interest below threshold is not present",
			Rules{Threshold: 0.5, Interest: []string{"stop sign"}}, bus,
			map[string]int{}, false},
		{"interest is case-insensitive",
			Rules{Threshold: 0.5, Interest: []string{"BUS"}}, bus,
			map[string]int{"person": 4, "bus": 1}, true},
		{"empty interest: any label",
			Rules{Threshold: 0.5}, bus,
			map[string]int{"person": 4, "bus": 1}, true},
		{"empty interest and nothing seen: minimum with zeros",
			Rules{Threshold: 0.5, Minimum: []string{"car", "person"}}, nil,
			map[string]int{"car": 0, "person": 0}, true},
		{"empty interest, nothing seen, no minimum: empty body",
			Rules{Threshold: 0.5}, preds("car", 0.2),
			map[string]int{}, true},
		{"safe names",
			Rules{Threshold: 0.5, Interest: []string{"traffic_light"}, Minimum: []string{"fire hydrant", "traffic light"}, SafeNames: true},
			preds("traffic light", 0.9, "traffic light", 0.8, "person", 0.9),
			map[string]int{"traffic_light": 2, "person": 1, "fire_hydrant": 0}, true},
		{"interest spelled with spaces matches",
			Rules{Threshold: 0.5, Interest: []string{"Traffic Light"}}, preds("traffic light", 0.9),
			map[string]int{"traffic light": 1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, send := tt.rules.Tally(tt.preds)
			if send != tt.send || !maps.Equal(body, tt.want) {
				t.Fatalf("Tally = %v, %v; want %v, %v", body, send, tt.want, tt.send)
			}
		})
	}
}

func TestMarshal(t *testing.T) {
	body := map[string]int{"person": 3, "bus": 1, "car": 0, "bicycle": 0, "traffic light": 2}
	got := string(Marshal(body))
	want := `{"bicycle":0,"bus":1,"car":0,"person":3,"traffic light":2}`
	if got != want {
		t.Fatalf("Marshal = %s, want %s", got, want)
	}
	if got := string(Marshal(nil)); got != "{}" {
		t.Fatalf("Marshal(nil) = %s", got)
	}
	odd := map[string]int{"a\"b\\c\n": -1, "\xff": 1}
	var back map[string]int
	if err := json.Unmarshal(Marshal(odd), &back); err != nil || back["a\"b\\c\n"] != -1 || back["\ufffd"] != 1 {
		t.Fatalf("escaping: %s -> %v, %v", Marshal(odd), back, err)
	}
}

func TestEncoderReuse(t *testing.T) {
	var e Encoder
	first := string(e.Encode(map[string]int{"b": 1, "a": 2}))
	second := string(e.Encode(map[string]int{"c": 3}))
	if first != `{"a":2,"b":1}` || second != `{"c":3}` {
		t.Fatalf("Encode = %s, %s", first, second)
	}
}

// TestNoAllocs checks that a whole tick allocates nothing once the maps and buffers exist.
func TestNoAllocs(t *testing.T) {
	p := preds("person", 0.9, "person", 0.8, "bus", 0.9, "traffic light", 0.9, "dog", 0.1)
	r := Rules{Threshold: 0.5, Interest: []string{"person"}, Minimum: []string{"bicycle", "car"}, SafeNames: true}
	counts, body := map[string]int{}, map[string]int{}
	var e Encoder
	tick := func() {
		CountInto(counts, p, r.Threshold)
		if r.ApplyInto(body, counts) {
			e.Encode(body)
		}
	}
	tick()
	if n := testing.AllocsPerRun(100, tick); n != 0 {
		t.Fatalf("a tick allocates %v times", n)
	}
}

func BenchmarkTick(b *testing.B) {
	p := preds("person", 0.9, "person", 0.8, "bus", 0.9, "traffic light", 0.9, "dog", 0.1, "car", 0.75, "car", 0.71)
	r := Rules{Threshold: 0.5, Minimum: []string{"bicycle", "car", "person"}, SafeNames: true}
	counts, body := map[string]int{}, map[string]int{}
	var e Encoder
	b.ReportAllocs()
	for b.Loop() {
		CountInto(counts, p, r.Threshold)
		r.ApplyInto(body, counts)
		e.Encode(body)
	}
}
