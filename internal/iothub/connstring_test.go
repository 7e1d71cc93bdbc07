package iothub

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const testKey = "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0xMjM0NTY3OA==" // base64 of a test secret

func TestParseConnectionStringParts(t *testing.T) {
	cs, err := ParseConnectionString("HostName=hub.azure-devices.net;DeviceId=cam1;ModuleId=m1;SharedAccessKey=" + testKey +
		";SharedAccessKeyName=device;GatewayHostName=edge.local;")
	if err != nil {
		t.Fatal(err)
	}
	want := ConnectionString{HostName: "hub.azure-devices.net", DeviceID: "cam1", ModuleID: "m1", SharedAccessKey: testKey,
		SharedAccessKeyName: "device", GatewayHostName: "edge.local"}
	if cs != want {
		t.Fatalf("got %+v, want %+v", cs, want)
	}
	o := cs.DeviceOptions()
	if o.Host != want.HostName || o.Gateway != want.GatewayHostName || o.DeviceID != "cam1" || o.ModuleID != "m1" || o.Key != testKey || o.KeyName != "device" {
		t.Fatalf("DeviceOptions %+v", o)
	}
}

func TestParseConnectionStringKeyWithEquals(t *testing.T) {
	// The key keeps its '=' padding: values are cut at the first '=' only.
	cs, err := ParseConnectionString(" HostName = h.example ; DeviceId=d;SharedAccessKey=" + testKey)
	if err != nil {
		t.Fatal(err)
	}
	if cs.SharedAccessKey != testKey || cs.HostName != "h.example" {
		t.Fatalf("%+v", cs)
	}
	// A policy key without DeviceId is accepted (the device ID comes from configuration).
	if _, err := ParseConnectionString("HostName=h;SharedAccessKeyName=device;SharedAccessKey=" + testKey); err != nil {
		t.Fatal(err)
	}
}

func TestParseConnectionStringErrors(t *testing.T) {
	const secret = "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0xMjM0NTY3OA"
	for _, tc := range []struct{ in, want string }{
		{"DeviceId=d;SharedAccessKey=" + testKey, "HostName is missing"},
		{"HostName=h;SharedAccessKey=" + testKey, "DeviceId is missing"},
		{"HostName=h;DeviceId=d", "SharedAccessKey is missing"},
		{"HostName=h;DeviceId=d;SharedAccessKey=" + testKey + ";Colour=red", `unknown part "Colour"`},
		{"HostName=h;DeviceId=d;SharedAccessKey=" + testKey + ";DeviceId=e", "DeviceId appears twice"},
		{"HostName=h;DeviceId=;SharedAccessKey=" + testKey, "DeviceId is empty"},
		{"HostName=h;DeviceId=d;SharedAccessKey=" + secret + "!!", "SharedAccessKey: key is not valid base64"},
		{"HostName=h;DeviceId=d;" + secret, "has no '='"},
		{"", "HostName is missing"},
	} {
		_, err := ParseConnectionString(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.in, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), secret[:16]) {
			t.Errorf("%q: error echoes the key: %v", tc.in, err)
		}
	}
}

func TestConnectionStringMasksKey(t *testing.T) {
	cs, err := ParseConnectionString("HostName=h;DeviceId=d;SharedAccessKey=" + testKey)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "cs", cs, "opts", cs.DeviceOptions())
	o := cs.DeviceOptions()
	d := DPSOptions{Key: testKey, GroupKey: testKey}
	for _, s := range []string{cs.String(), fmt.Sprint(cs), fmt.Sprintf("%+v %#v", cs, cs), buf.String(),
		fmt.Sprintf("%v %+v %#v", o, o, o), fmt.Sprintf("%v %+v %#v", d, d, d), fmt.Sprint([]any{o, &o, d, &d})} {
		if strings.Contains(s, testKey[:12]) {
			t.Fatalf("key visible in %q", s)
		}
	}
	if got := cs.String(); got != "HostName=h;DeviceId=d;SharedAccessKey=****" {
		t.Fatalf("String() = %q", got)
	}
}

func FuzzParseConnectionString(f *testing.F) {
	f.Add("HostName=h;DeviceId=d;SharedAccessKey=" + testKey)
	f.Add("HostName=h;SharedAccessKeyName=device;SharedAccessKey=" + testKey + ";ModuleId=m;GatewayHostName=g")
	f.Add(";;=;==;HostName")
	f.Fuzz(func(t *testing.T, s string) {
		cs, err := ParseConnectionString(s)
		if err != nil {
			if cs != (ConnectionString{}) {
				t.Fatalf("error with a non-zero result")
			}
			return
		}
		if cs.HostName == "" || cs.SharedAccessKey == "" {
			t.Fatalf("accepted without host or key: %q", s)
		}
		if !strings.Contains(cs.String(), ";SharedAccessKey=****") || strings.Contains(cs.String(), "SharedAccessKey="+cs.SharedAccessKey) {
			t.Fatalf("String does not mask the key: %s", cs)
		}
	})
}
