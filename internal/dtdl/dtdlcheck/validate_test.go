package dtdlcheck

import (
	"github.com/edgecam/edgecam/internal/dtdl"

	"strings"
	"testing"
)

// doc wraps contents in a minimal valid Interface.
func doc(contents string) []byte {
	return []byte(`{"@context":"dtmi:dtdl:context;2","@id":"dtmi:com:example:x;1","@type":"Interface","contents":[` + contents + `]}`)
}

func TestValidateAccepts(t *testing.T) {
	for name, d := range map[string][]byte{
		"empty contents": doc(``),
		"telemetry":      doc(`{"@type":"Telemetry","name":"temp","schema":"double"}`),
		"semantic type":  doc(`{"@type":["Telemetry","Temperature"],"name":"temp","schema":"double","unit":"degreeCelsius"}`),
		"writable map": doc(`{"@type":"Property","name":"modules","writable":true,"schema":{"@type":"Map",
			"mapKey":{"name":"moduleName","schema":"string"},"mapValue":{"name":"moduleState","schema":"string"}}}`),
		"array telemetry": doc(`{"@type":"Telemetry","name":"ledState","schema":{"@type":"Array","elementSchema":"boolean"}}`),
		"enum": doc(`{"@type":"Telemetry","name":"state","schema":{"@type":"Enum","valueSchema":"integer",
			"enumValues":[{"name":"offline","enumValue":1},{"name":"online","enumValue":2}]}}`),
		"command with payloads": doc(`{"@type":"Command","name":"reboot","request":{"name":"rebootTime","schema":"dateTime"},
			"response":{"@type":"CommandPayload","name":"scheduledTime","schema":"dateTime"}}`),
		"element ids": doc(`{"@id":"dtmi:com:example:x:a;1","@type":"Telemetry","name":"a","schema":"long"},
			{"@id":"dtmi:com:example:x:b;1","@type":"Property","name":"b","schema":"string"}`),
		"localized": []byte(`{"@context":["dtmi:dtdl:context;2","dtmi:iotcentral:context;2"],"@id":"dtmi:com:example:x;1",
			"@type":"Interface","displayName":{"en":"Thermostat","it":"Termostato"},
			"contents":[{"@type":["Telemetry","Location"],"name":"where","schema":"geopoint"}]}`),
		"array of interfaces": []byte(`[{"@context":"dtmi:dtdl:context;2","@id":"dtmi:com:example:a;1","@type":"Interface"},
			{"@context":"dtmi:dtdl:context;2","@id":"dtmi:com:example:b;1","@type":"Interface","extends":"dtmi:com:example:a;1"}]`),
	} {
		if err := Validate(d); err != nil {
			t.Errorf("%s: Validate = %v", name, err)
		}
	}
}

func TestValidateRejects(t *testing.T) {
	long := strings.Repeat("x", 65)
	for name, tc := range map[string]struct {
		doc  []byte
		want string
	}{
		"not json":       {[]byte(`{`), "not JSON"},
		"two values":     {[]byte(`{} {}`), "more than one"},
		"scalar":         {[]byte(`3`), "Interface object"},
		"no context":     {[]byte(`{"@id":"dtmi:com:example:x;1","@type":"Interface"}`), "no @context"},
		"v3 context":     {[]byte(`{"@context":"dtmi:dtdl:context;3","@id":"dtmi:com:example:x;1","@type":"Interface"}`), "not DTDL v2"},
		"not interface":  {[]byte(`{"@context":"dtmi:dtdl:context;2","@id":"dtmi:com:example:x;1","@type":"Telemetry"}`), `"Interface"`},
		"no id":          {[]byte(`{"@context":"dtmi:dtdl:context;2","@type":"Interface"}`), "no @id"},
		"bad id":         {[]byte(`{"@context":"dtmi:dtdl:context;2","@id":"dtmi:com:example:x","@type":"Interface"}`), "no version"},
		"space in name":  {doc(`{"@type":"Telemetry","name":"traffic light","schema":"integer"}`), `"traffic light" must hold only`},
		"leading digit":  {doc(`{"@type":"Telemetry","name":"9lives","schema":"integer"}`), "start with a letter"},
		"trailing _":     {doc(`{"@type":"Telemetry","name":"cat_","schema":"integer"}`), "not end with an underscore"},
		"long name":      {doc(`{"@type":"Telemetry","name":"` + long + `","schema":"integer"}`), "more than the 64"},
		"duplicate name": {doc(`{"@type":"Telemetry","name":"a","schema":"integer"},{"@type":"Property","name":"a","schema":"string"}`), "names must be unique"},
		"duplicate id": {doc(`{"@id":"dtmi:com:example:x:a;1","@type":"Telemetry","name":"a","schema":"long"},
			{"@id":"dtmi:com:example:x:a;1","@type":"Telemetry","name":"b","schema":"long"}`), "must be unique"},
		"id equals interface": {doc(`{"@id":"dtmi:com:example:x;1","@type":"Telemetry","name":"a","schema":"long"}`), "must be unique"},
		"bad element id":      {doc(`{"@id":"urn:x","@type":"Telemetry","name":"a","schema":"long"}`), `start with "dtmi:"`},
		"reserved telemetry":  {doc(`{"@type":"Telemetry","name":"User","schema":"string"}`), "reserves"},
		"no name":             {doc(`{"@type":"Telemetry","schema":"long"}`), "no name"},
		"no schema":           {doc(`{"@type":"Telemetry","name":"a"}`), "no schema"},
		"unknown type":        {doc(`{"@type":"Sensor","name":"a","schema":"long"}`), "must include one of"},
		"unknown schema":      {doc(`{"@type":"Telemetry","name":"a","schema":"int"}`), `unknown schema "int"`},
		"typo key":            {doc(`{"@type":"Property","name":"a","schema":"long","writeable":true}`), `unknown property "writeable"`},
		"writable not bool":   {doc(`{"@type":"Property","name":"a","schema":"long","writable":"yes"}`), "true or false"},
		"array in property": {doc(`{"@type":"Property","name":"labels","writable":true,"schema":{"@type":"Array","elementSchema":"string"}}`),
			"may not contain an Array"},
		"array deep in property": {doc(`{"@type":"Property","name":"a","schema":{"@type":"Object","fields":[
			{"name":"f","schema":{"@type":"Array","elementSchema":"string"}}]}}`), "may not contain an Array"},
		"map key not string": {doc(`{"@type":"Telemetry","name":"a","schema":{"@type":"Map","mapKey":{"name":"k","schema":"integer"},
			"mapValue":{"name":"v","schema":"integer"}}}`), `schema must be "string"`},
		"map value bad name": {doc(`{"@type":"Telemetry","name":"a","schema":{"@type":"Map","mapKey":{"name":"k","schema":"string"},
			"mapValue":{"name":"v v","schema":"integer"}}}`), `"v v"`},
		"long display name": {doc(`{"@type":"Telemetry","name":"a","displayName":"` + long + `","schema":"long"}`), "displayName has 65"},
		"long description": {doc(`{"@type":"Telemetry","name":"a","description":"` + strings.Repeat("d", 513) + `","schema":"long"}`),
			"description has 513"},
		"enum value type": {doc(`{"@type":"Telemetry","name":"a","schema":{"@type":"Enum","valueSchema":"integer",
			"enumValues":[{"name":"x","enumValue":"one"}]}}`), "must be an integer"},
		"enum value repeated": {doc(`{"@type":"Telemetry","name":"a","schema":{"@type":"Enum","valueSchema":"integer",
			"enumValues":[{"name":"x","enumValue":1},{"name":"y","enumValue":1}]}}`), "repeated"},
		"geopoint without extension": {doc(`{"@type":"Telemetry","name":"a","schema":"geopoint"}`), "IoT Central extension"},
		"bad payload name":           {doc(`{"@type":"Command","name":"go","response":{"name":"_r","schema":"string"}}`), `"_r"`},
		"too deep": {doc(`{"@type":"Telemetry","name":"a","schema":{"@type":"Array","elementSchema":{"@type":"Array","elementSchema":
			{"@type":"Array","elementSchema":{"@type":"Array","elementSchema":{"@type":"Array","elementSchema":
			{"@type":"Array","elementSchema":"long"}}}}}}}`), "more than 5 levels"},
	} {
		err := Validate(tc.doc)
		if err == nil {
			t.Errorf("%s: Validate = nil, want an error mentioning %q", name, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate = %v\nwant it to mention %q", name, err, tc.want)
		}
	}
}

func TestValidateLimits(t *testing.T) {
	var b strings.Builder
	for i := range 301 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"@type":"Telemetry","name":"t` + itoa3(i) + `","schema":"integer"}`)
	}
	if err := Validate(doc(b.String())); err == nil || !strings.Contains(err.Error(), "301 contents") {
		t.Errorf("301 contents: err = %v", err)
	}
	b.Reset()
	for i := range 31 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"name":"f` + itoa3(i) + `","schema":"integer"}`)
	}
	err := Validate(doc(`{"@type":"Telemetry","name":"o","schema":{"@type":"Object","fields":[` + b.String() + `]}}`))
	if err == nil || !strings.Contains(err.Error(), "31 fields") {
		t.Errorf("31 fields: err = %v", err)
	}
}

// Every problem is reported, each with where it is.
func TestValidateReportsEveryProblem(t *testing.T) {
	err := Validate(doc(`{"@type":"Telemetry","name":"traffic light","schema":"integer"},
		{"@type":"Telemetry","name":"ok","schema":"int"}`))
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{`contents[0] ("traffic light")`, `contents[1] ("ok").schema`} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not locate %s", msg, want)
		}
	}
}

func itoa3(i int) string {
	return string([]byte{byte('0' + i/100), byte('0' + i/10%10), byte('0' + i%10)})
}

// Every interface the generator writes (every label set, with zones) passes the validator.
func TestGeneratedInterfacesValidate(t *testing.T) {
	for name, opts := range map[string]dtdl.Options{
		"all":     {},
		"minimum": {Labels: []string{"person", "car"}},
		"subset":  {Labels: []string{"Traffic_Light", "teddy bear", "person", "person", "hair drier"}},
		"single":  {Labels: []string{"tv"}},
		"zones":   {Labels: []string{"person", "car"}, Zones: []dtdl.Zone{{Name: "left"}, {Name: "door", Labels: []string{"person"}}}},
	} {
		opts.ModelID = "dtmi:com:example:edgecam;1"
		doc, err := dtdl.Interface(opts)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := Validate(doc); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
