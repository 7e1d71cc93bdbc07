package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/edgecam/edgecam/internal/redact"
)

// Mask replaces secrets in Redacted output.
const Mask = redact.Mask

// Redacted returns a deep copy of c with every secret masked: the connection string's key, the
// DPS keys, camera passwords and passwords or keys inside camera URLs.
func (c *Config) Redacted() *Config {
	r := *c
	r.Detection = c.Detection.clone()
	r.Azure.ConnectionString = redactConnString(c.Azure.ConnectionString)
	r.Azure.DPS.GroupEnrollmentKey = maskIfSet(c.Azure.DPS.GroupEnrollmentKey)
	r.Azure.DPS.DeviceKey = maskIfSet(c.Azure.DPS.DeviceKey)
	r.Cameras = make([]Camera, len(c.Cameras))
	for i, cam := range c.Cameras {
		cam.Password = maskIfSet(cam.Password)
		cam.DeviceKey = maskIfSet(cam.DeviceKey)
		cam.URL = redactURL(cam.URL)
		cam.Args = append([]string(nil), cam.Args...)
		cam.Command = redactURL(cam.Command)
		if cam.Detection != nil {
			d := *cam.Detection
			if d.LabelsOfInterest != nil {
				l := append([]string{}, (*d.LabelsOfInterest)...)
				d.LabelsOfInterest = &l
			}
			if d.LabelsMinimum != nil {
				l := append([]string{}, (*d.LabelsMinimum)...)
				d.LabelsMinimum = &l
			}
			d.Filters = maps.Clone(d.Filters)
			d.Tiles = d.Tiles.clone()
			cam.Detection = &d
		}
		if cam.Schedule != nil {
			s := *cam.Schedule
			cam.Schedule = &s
		}
		if cam.Upload != nil {
			u := *cam.Upload
			cam.Upload = &u
		}
		r.Cameras[i] = cam
	}
	return &r
}

func maskIfSet(s string) string {
	if s == "" {
		return ""
	}
	return Mask
}

var connKeyRE = regexp.MustCompile(`(?i)(SharedAccessKey|SharedAccessSignature)=[^;]*`)

func redactConnString(s string) string {
	return connKeyRE.ReplaceAllString(s, "${1}="+Mask)
}

// redactURL masks secrets in a camera URL (see package redact).
func redactURL(s string) string { return redact.URL(s) }

// YAML renders c in the file format, keys in their documented order. Camera keys that are
// unset are left out. Use Redacted first for anything shown to people.
func (c *Config) YAML() ([]byte, error) {
	n := yamlNode(reflect.ValueOf(c).Elem(), false)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// JSON renders c as indented JSON with the same keys as YAML.
func (c *Config) JSON() ([]byte, error) {
	return json.MarshalIndent(jsonValue(reflect.ValueOf(c).Elem(), false), "", "  ")
}

// fields yields the koanf-tagged fields of struct v, leaving out zero ones when omitZero.
func fields(v reflect.Value, omitZero bool, fn func(name string, f reflect.Value)) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		tag := t.Field(i).Tag.Get("koanf")
		if tag == "" || tag == "-" {
			continue
		}
		f := v.Field(i)
		if omitZero && f.IsZero() {
			continue
		}
		if f.Kind() == reflect.Pointer && f.IsNil() {
			continue
		}
		fn(tag, f)
	}
}

// scalar renders a leaf value as text, or reports false for structs and lists.
func scalar(v reflect.Value) (string, string, bool) {
	switch v.Type() {
	case durationType:
		return Duration(v.Int()).String(), "!!str", true
	case stdDurationType:
		return time.Duration(v.Int()).String(), "!!str", true
	}
	switch v.Kind() {
	case reflect.String:
		return v.String(), "!!str", true
	case reflect.Int, reflect.Int64, reflect.Int32:
		return strconv.FormatInt(v.Int(), 10), "!!int", true
	case reflect.Float64, reflect.Float32:
		s := strconv.FormatFloat(v.Float(), 'g', -1, 64)
		if !strings.ContainsAny(s, ".eEIN") {
			return s, "!!int", true // a whole number reads back as the same float, without a !!float tag
		}
		return s, "!!float", true
	case reflect.Bool:
		return strconv.FormatBool(v.Bool()), "!!bool", true
	}
	return "", "", false
}

func yamlNode(v reflect.Value, omitZero bool) *yaml.Node {
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if s, tag, ok := scalar(v); ok {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: s}
	}
	switch v.Kind() {
	case reflect.Struct:
		n := &yaml.Node{Kind: yaml.MappingNode}
		fields(v, omitZero, func(name string, f reflect.Value) {
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: name}, yamlNode(f, omitZero || f.Kind() == reflect.Slice))
		})
		return n
	case reflect.Map:
		n := &yaml.Node{Kind: yaml.MappingNode}
		for _, k := range sortedKeys(v) {
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k.String()}, yamlNode(v.MapIndex(k), true))
		}
		return n
	case reflect.Slice:
		n := &yaml.Node{Kind: yaml.SequenceNode}
		if v.Type().Elem().Kind() != reflect.Struct {
			n.Style = yaml.FlowStyle
		}
		for i := 0; i < v.Len(); i++ {
			n.Content = append(n.Content, yamlNode(v.Index(i), true))
		}
		return n
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Value: fmt.Sprint(v.Interface())}
}

// orderedMap marshals to a JSON object keeping its key order.
type orderedMap []struct {
	k string
	v any
}

func (m orderedMap) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, kv := range m {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(kv.k)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(kv.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func jsonValue(v reflect.Value, omitZero bool) any {
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	switch v.Type() {
	case durationType, stdDurationType:
		s, _, _ := scalar(v)
		return s
	}
	switch v.Kind() {
	case reflect.Struct:
		m := orderedMap{}
		fields(v, omitZero, func(name string, f reflect.Value) {
			m = append(m, struct {
				k string
				v any
			}{name, jsonValue(f, omitZero || f.Kind() == reflect.Slice)})
		})
		return m
	case reflect.Map:
		m := orderedMap{}
		for _, k := range sortedKeys(v) {
			m = append(m, struct {
				k string
				v any
			}{k.String(), jsonValue(v.MapIndex(k), true)})
		}
		return m
	case reflect.Slice:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = jsonValue(v.Index(i), true)
		}
		return out
	}
	return v.Interface()
}

// sortedKeys returns the keys of a map with string keys, sorted.
func sortedKeys(v reflect.Value) []reflect.Value {
	keys := v.MapKeys()
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	return keys
}
