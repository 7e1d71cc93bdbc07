// Package dtdlcheck validates DTDL v2 documents against the rules IoT Central enforces on import.
// It is a development tool (edgecam-emulator check-dtdl), kept out of the device binary.
package dtdlcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/edgecam/edgecam/internal/dtdl"
)

// Limits of DTDL v2 (DTDL.v2.md).
const (
	maxInterfaceIDLen = dtdl.MaxInterfaceIDLen
	maxIDLen          = 2048
	maxNameLen        = 64
	maxDisplayNameLen = 64
	maxDescriptionLen = 512
	maxContents       = 300
	maxObjectFields   = 30
	maxEnumValues     = 100
	maxSchemaDepth    = 5
)

// namePattern is the DTDL v2 rule for the name of contents, fields, enum values and payloads.
var namePattern = regexp.MustCompile(`^[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?$`)

// Validate checks a DTDL v2 document (one Interface, or an array of Interfaces) against the rules
// IoT Central enforces on import: the DTDL v2 @context, valid and unique @ids (Interface @id at most
// 128 characters), names that match ^[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?$ with at most 64
// characters and unique within their Interface, Object or Enum, known element types, valid schemas
// (no Array inside a Property, Map keys of type string, at most 30 Object fields, nesting at most 5
// levels) and the length limits of display names and descriptions. It reports every problem found,
// each prefixed with where it is in the document.
func Validate(doc []byte) error {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if dec.More() {
		return errors.New("not JSON: more than one value in the document")
	}
	c := &checker{ids: map[string]string{}}
	switch t := v.(type) {
	case map[string]any:
		c.iface("", t, true)
	case []any:
		if len(t) == 0 {
			return errors.New("the document is an empty array: it must hold at least one Interface")
		}
		for i, e := range t {
			m, ok := e.(map[string]any)
			if !ok {
				c.addf(fmt.Sprintf("[%d]", i), "must be an Interface object")
				continue
			}
			c.iface(fmt.Sprintf("[%d]", i), m, true)
		}
	default:
		return errors.New("the document must be an Interface object or an array of Interfaces")
	}
	return errors.Join(c.errs...)
}

type checker struct {
	errs       []error
	ids        map[string]string // @id -> where it was first seen
	iotCentral bool              // the IoT Central extension context is in use
}

func (c *checker) addf(where, format string, args ...any) {
	if where == "" {
		where = "interface"
	}
	c.errs = append(c.errs, fmt.Errorf("%s: %s", where, fmt.Sprintf(format, args...)))
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// id checks an optional @id: a valid DTMI, unique in the document.
func (c *checker) id(where string, m map[string]any, maxLen int) {
	raw, ok := m["@id"]
	if !ok {
		return
	}
	s, ok := raw.(string)
	if !ok {
		c.addf(where, "@id must be a string")
		return
	}
	if err := dtdl.CheckDTMI(s, maxLen); err != nil {
		c.addf(where, "@id %q: %v", s, err)
		return
	}
	if first, dup := c.ids[s]; dup {
		c.addf(where, "@id %q is also the @id of %s: every @id must be unique", s, first)
		return
	}
	c.ids[s] = where
}

// typeOf returns the element's @type entries, reporting a malformed value.
func (c *checker) typeOf(where string, m map[string]any) []string {
	switch t := m["@type"].(type) {
	case string:
		return []string{t}
	case []any:
		out := make([]string, 0, len(t))
		for _, e := range t {
			s, ok := e.(string)
			if !ok {
				c.addf(where, "@type entries must be strings")
				return nil
			}
			out = append(out, s)
		}
		return out
	case nil:
		return nil
	default:
		c.addf(where, "@type must be a string or an array of strings")
		return nil
	}
}

// text checks an optional localizable string (a string or a language map) against a length.
func (c *checker) text(where string, m map[string]any, key string, maxLen int, localizable bool) {
	v, ok := m[key]
	if !ok {
		return
	}
	check := func(s string) {
		if n := utf8.RuneCountInString(s); n > maxLen {
			c.addf(where, "%s has %d characters, more than the %d allowed", key, n, maxLen)
		}
	}
	switch t := v.(type) {
	case string:
		check(t)
	case map[string]any:
		if !localizable {
			c.addf(where, "%s must be a string", key)
			return
		}
		for _, lang := range sortedKeys(t) {
			s, ok := t[lang].(string)
			if !ok {
				c.addf(where, "%s[%q] must be a string", key, lang)
				continue
			}
			check(s)
		}
	default:
		c.addf(where, "%s must be a string", key)
	}
}

// name checks a required name; names (if not nil) collects them for uniqueness.
func (c *checker) name(where string, m map[string]any, names map[string]string) (string, bool) {
	raw, ok := m["name"]
	if !ok {
		c.addf(where, "has no name")
		return "", false
	}
	s, ok := raw.(string)
	if !ok {
		c.addf(where, "name must be a string")
		return "", false
	}
	if err := checkName(s); err != nil {
		c.addf(where, "%v", err)
		return s, false
	}
	if names != nil {
		if first, dup := names[s]; dup {
			c.addf(where, "name %q is also the name of %s: names must be unique", s, first)
			return s, false
		}
		names[s] = where
	}
	return s, true
}

// checkName applies the DTDL v2 name rule.
func checkName(s string) error {
	if len(s) > maxNameLen {
		return fmt.Errorf("name %q has %d characters, more than the %d allowed", s, len(s), maxNameLen)
	}
	if !namePattern.MatchString(s) {
		return fmt.Errorf("name %q must hold only letters, digits and underscores, start with a letter and not end with an underscore", s)
	}
	return nil
}

// known reports keys of m outside allowed. DTDL permits undefined properties only on elements
// co-typed with an undefined type, so it is skipped for co-typed elements.
func (c *checker) known(where string, m map[string]any, cotyped bool, allowed ...string) {
	if cotyped {
		return
	}
	for _, k := range sortedKeys(m) {
		if !slices.Contains(allowed, k) {
			c.addf(where, "unknown property %q (allowed: %s)", k, strings.Join(allowed, ", "))
		}
	}
}

func (c *checker) iface(where string, m map[string]any, top bool) {
	if top {
		c.context(where, m)
	}
	types := c.typeOf(where, m)
	if !slices.Contains(types, "Interface") {
		c.addf(where, `@type must be "Interface"`)
	}
	raw, ok := m["@id"]
	if !ok {
		c.addf(where, "has no @id: give the Interface a DTMI such as \"dtmi:com:example:edgecam;1\"")
	} else if s, isString := raw.(string); !isString {
		c.addf(where, "@id must be a string")
	} else if err := dtdl.CheckDTMI(s, maxInterfaceIDLen); err != nil {
		c.addf(where, "@id %q: %v", s, err)
	} else if first, dup := c.ids[s]; dup {
		c.addf(where, "@id %q is also the @id of %s: every @id must be unique", s, first)
	} else {
		c.ids[s] = join(where, "Interface "+strconv.Quote(s))
	}
	c.text(where, m, "displayName", maxDisplayNameLen, true)
	c.text(where, m, "description", maxDescriptionLen, true)
	c.text(where, m, "comment", maxDescriptionLen, false)
	c.known(where, m, len(types) > 1, "@context", "@id", "@type", "comment", "contents", "description", "displayName", "extends", "schemas")

	if ext, ok := m["extends"]; ok {
		c.dtmiRefs(join(where, "extends"), ext, 2)
	}
	if schemas, ok := m["schemas"]; ok {
		list, isList := schemas.([]any)
		if !isList {
			c.addf(where, "schemas must be an array")
		}
		for i, s := range list {
			sw := fmt.Sprintf("%s[%d]", join(where, "schemas"), i)
			if _, isObj := s.(map[string]any); !isObj {
				c.addf(sw, "must be an Array, Enum, Map or Object schema")
				continue
			}
			c.schema(sw, s, true, 1)
		}
	}

	raw, ok = m["contents"]
	if !ok {
		return
	}
	contents, ok := raw.([]any)
	if !ok {
		c.addf(where, "contents must be an array")
		return
	}
	if len(contents) > maxContents {
		c.addf(where, "has %d contents, more than the %d allowed", len(contents), maxContents)
	}
	names := map[string]string{}
	for i, e := range contents {
		ew := fmt.Sprintf("%s[%d]", join(where, "contents"), i)
		em, ok := e.(map[string]any)
		if !ok {
			c.addf(ew, "must be an object")
			continue
		}
		if n, ok := em["name"].(string); ok {
			ew += " (" + strconv.Quote(n) + ")"
		}
		c.content(ew, em, names)
	}
}

// context checks the top-level @context: DTDL v2 first, extensions after it.
func (c *checker) context(where string, m map[string]any) {
	raw, ok := m["@context"]
	if !ok {
		c.addf(where, "has no @context: set it to %q", dtdl.Context)
		return
	}
	var list []string
	switch t := raw.(type) {
	case string:
		list = []string{t}
	case []any:
		for _, e := range t {
			s, ok := e.(string)
			if !ok {
				c.addf(where, "@context entries must be strings")
				return
			}
			list = append(list, s)
		}
	default:
		c.addf(where, "@context must be a string or an array of strings")
		return
	}
	if !slices.Contains(list, dtdl.Context) {
		c.addf(where, "@context %q is not DTDL v2: IoT Central needs %q", strings.Join(list, ", "), dtdl.Context)
		return
	}
	c.iotCentral = c.iotCentral || slices.Contains(list, "dtmi:iotcentral:context;2")
}

// dtmiRefs checks a DTMI or an array of up to max DTMIs (or inline Interfaces).
func (c *checker) dtmiRefs(where string, v any, max int) {
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	if len(list) > max {
		c.addf(where, "has %d entries, more than the %d allowed", len(list), max)
	}
	for _, e := range list {
		switch t := e.(type) {
		case string:
			if err := dtdl.CheckDTMI(t, maxIDLen); err != nil {
				c.addf(where, "%q: %v", t, err)
			}
		case map[string]any:
			c.iface(where, t, false)
		default:
			c.addf(where, "must be a DTMI or an Interface")
		}
	}
}

// reservedTelemetry are names IoT Central uses internally and ignores as telemetry
// (concepts-telemetry-properties-commands.md).
var reservedTelemetry = []string{"EventEnqueuedUtcTime", "EventProcessedUtcTime", "PartitionId", "EventHub", "User"}

var contentClasses = []string{"Command", "Component", "Property", "Relationship", "Telemetry"}

func (c *checker) content(where string, m map[string]any, names map[string]string) {
	types := c.typeOf(where, m)
	var class string
	for _, t := range types {
		if slices.Contains(contentClasses, t) {
			if class != "" {
				c.addf(where, "@type has both %q and %q", class, t)
				return
			}
			class = t
		}
	}
	if class == "" {
		c.addf(where, "@type must include one of %s", strings.Join(contentClasses, ", "))
		return
	}
	cotyped := len(types) > 1
	c.id(where, m, maxIDLen)
	c.name(where, m, names)
	c.text(where, m, "displayName", maxDisplayNameLen, true)
	c.text(where, m, "description", maxDescriptionLen, true)
	c.text(where, m, "comment", maxDescriptionLen, false)
	common := []string{"@id", "@type", "comment", "description", "displayName", "name"}

	switch class {
	case "Telemetry":
		c.known(where, m, cotyped, append(common, "schema", "unit")...)
		c.requiredSchema(where, m, true)
		if n, ok := m["name"].(string); ok && slices.Contains(reservedTelemetry, n) {
			c.addf(where, "IoT Central reserves the telemetry name %q and ignores its data: rename it", n)
		}
	case "Property":
		c.known(where, m, cotyped, append(common, "schema", "unit", "writable")...)
		c.requiredSchema(where, m, false)
		if w, ok := m["writable"]; ok {
			if _, isBool := w.(bool); !isBool {
				c.addf(where, "writable must be true or false")
			}
		}
	case "Command":
		c.known(where, m, cotyped, append(common, "commandType", "request", "response")...)
		if ct, ok := m["commandType"]; ok && ct != "synchronous" && ct != "asynchronous" {
			c.addf(where, `commandType must be "synchronous" or "asynchronous"`)
		}
		for _, k := range []string{"request", "response"} {
			if p, ok := m[k]; ok {
				c.payload(join(where, k), p)
			}
		}
	case "Component":
		c.known(where, m, cotyped, append(common, "schema")...)
		switch s := m["schema"].(type) {
		case string:
			if err := dtdl.CheckDTMI(s, maxIDLen); err != nil {
				c.addf(where, "schema %q: %v", s, err)
			}
		case map[string]any:
			c.iface(join(where, "schema"), s, false)
		default:
			c.addf(where, "schema must be the DTMI of an Interface, or an Interface")
		}
	case "Relationship":
		c.known(where, m, cotyped, append(common, "maxMultiplicity", "minMultiplicity", "properties", "target", "writable")...)
		if t, ok := m["target"].(string); ok {
			if err := dtdl.CheckDTMI(t, maxIDLen); err != nil {
				c.addf(where, "target %q: %v", t, err)
			}
		}
	}
}

func (c *checker) requiredSchema(where string, m map[string]any, allowArray bool) {
	s, ok := m["schema"]
	if !ok {
		c.addf(where, "has no schema")
		return
	}
	c.schema(join(where, "schema"), s, allowArray, 1)
}

func (c *checker) payload(where string, v any) {
	m, ok := v.(map[string]any)
	if !ok {
		c.addf(where, "must be an object with a name and a schema")
		return
	}
	if t, ok := m["@type"]; ok && t != "CommandPayload" {
		c.addf(where, `@type must be "CommandPayload" when present`)
	}
	c.id(where, m, maxIDLen)
	c.name(where, m, nil)
	c.text(where, m, "displayName", maxDisplayNameLen, true)
	c.text(where, m, "description", maxDescriptionLen, true)
	c.text(where, m, "comment", maxDescriptionLen, false)
	c.requiredSchema(where, m, true)
}

// Primitive schemas of DTDL v2, its geospatial schemas, and the IoT Central extension's schemas.
var (
	primitiveSchemas  = []string{"boolean", "date", "dateTime", "double", "duration", "float", "integer", "long", "string", "time"}
	geospatialSchemas = []string{"lineString", "multiLineString", "multiPoint", "multiPolygon", "point", "polygon"}
	iotCentralSchemas = []string{"geopoint", "vector"}
)

// schema checks a schema value at nesting depth; allowArray is false inside a Property.
func (c *checker) schema(where string, v any, allowArray bool, depth int) {
	if depth > maxSchemaDepth {
		c.addf(where, "complex schemas nest more than %d levels", maxSchemaDepth)
		return
	}
	switch t := v.(type) {
	case string:
		switch {
		case slices.Contains(primitiveSchemas, t), slices.Contains(geospatialSchemas, t):
		case slices.Contains(iotCentralSchemas, t):
			if !c.iotCentral {
				c.addf(where, "%q needs the IoT Central extension context %q", t, "dtmi:iotcentral:context;2")
			}
		case strings.HasPrefix(t, "dtmi:"):
			if err := dtdl.CheckDTMI(t, maxIDLen); err != nil {
				c.addf(where, "%q: %v", t, err)
			}
		default:
			c.addf(where, "unknown schema %q (primitive schemas: %s)", t, strings.Join(primitiveSchemas, ", "))
		}
		return
	case map[string]any:
		c.complexSchema(where, t, allowArray, depth)
	default:
		c.addf(where, "schema must be a primitive schema name or an Array, Enum, Map or Object")
	}
}

func (c *checker) complexSchema(where string, m map[string]any, allowArray bool, depth int) {
	types := c.typeOf(where, m)
	cotyped := len(types) > 1
	c.id(where, m, maxIDLen)
	c.text(where, m, "displayName", maxDisplayNameLen, true)
	c.text(where, m, "description", maxDescriptionLen, true)
	c.text(where, m, "comment", maxDescriptionLen, false)
	common := []string{"@id", "@type", "comment", "description", "displayName"}
	switch {
	case slices.Contains(types, "Array"):
		if !allowArray {
			c.addf(where, "a Property's schema may not contain an Array in DTDL v2: use a string (e.g. comma separated) or a Map")
		}
		c.known(where, m, cotyped, append(common, "elementSchema")...)
		if e, ok := m["elementSchema"]; ok {
			c.schema(join(where, "elementSchema"), e, allowArray, depth+1)
		} else {
			c.addf(where, "Array has no elementSchema")
		}
	case slices.Contains(types, "Map"):
		c.known(where, m, cotyped, append(common, "mapKey", "mapValue")...)
		key, ok := m["mapKey"].(map[string]any)
		if !ok {
			c.addf(where, "Map has no mapKey object")
		} else {
			kw := join(where, "mapKey")
			c.id(kw, key, maxIDLen)
			c.name(kw, key, nil)
			if key["schema"] != "string" {
				c.addf(kw, `schema must be "string"`)
			}
		}
		val, ok := m["mapValue"].(map[string]any)
		if !ok {
			c.addf(where, "Map has no mapValue object")
		} else {
			vw := join(where, "mapValue")
			c.id(vw, val, maxIDLen)
			c.name(vw, val, nil)
			c.requiredSchema(vw, val, allowArray)
		}
	case slices.Contains(types, "Object"):
		c.known(where, m, cotyped, append(common, "fields")...)
		fields, ok := m["fields"].([]any)
		if !ok {
			c.addf(where, "Object has no fields array")
			return
		}
		if len(fields) > maxObjectFields {
			c.addf(where, "Object has %d fields, more than the %d allowed: use a Map", len(fields), maxObjectFields)
		}
		names := map[string]string{}
		for i, f := range fields {
			fw := fmt.Sprintf("%s[%d]", join(where, "fields"), i)
			fm, ok := f.(map[string]any)
			if !ok {
				c.addf(fw, "must be an object")
				continue
			}
			c.id(fw, fm, maxIDLen)
			c.name(fw, fm, names)
			if s, ok := fm["schema"]; ok {
				c.schema(join(fw, "schema"), s, allowArray, depth+1)
			} else {
				c.addf(fw, "has no schema")
			}
		}
	case slices.Contains(types, "Enum"):
		c.known(where, m, cotyped, append(common, "enumValues", "valueSchema")...)
		vs := m["valueSchema"]
		if vs != "integer" && vs != "string" {
			c.addf(where, `Enum valueSchema must be "integer" or "string"`)
		}
		values, ok := m["enumValues"].([]any)
		if !ok {
			c.addf(where, "Enum has no enumValues array")
			return
		}
		if len(values) > maxEnumValues {
			c.addf(where, "Enum has %d values, more than the %d allowed", len(values), maxEnumValues)
		}
		names := map[string]string{}
		seen := map[string]bool{}
		for i, e := range values {
			ew := fmt.Sprintf("%s[%d]", join(where, "enumValues"), i)
			em, ok := e.(map[string]any)
			if !ok {
				c.addf(ew, "must be an object")
				continue
			}
			c.id(ew, em, maxIDLen)
			c.name(ew, em, names)
			var key string
			switch ev := em["enumValue"].(type) {
			case json.Number:
				if vs == "string" {
					c.addf(ew, "enumValue must be a string for a string Enum")
				} else if _, err := ev.Int64(); err != nil {
					c.addf(ew, "enumValue must be an integer")
				}
				key = "n" + ev.String()
			case string:
				if vs == "integer" {
					c.addf(ew, "enumValue must be an integer for an integer Enum")
				}
				key = "s" + ev
			default:
				c.addf(ew, "has no enumValue")
				continue
			}
			if seen[key] {
				c.addf(ew, "enumValue %v is repeated: values must be unique", em["enumValue"])
			}
			seen[key] = true
		}
	default:
		c.addf(where, `complex schema @type must be "Array", "Enum", "Map" or "Object"`)
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
