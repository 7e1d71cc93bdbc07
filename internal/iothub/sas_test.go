package iothub

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestDeriveDeviceKeyDocsVector(t *testing.T) {
	got, err := DeriveDeviceKey("8isrFI1sGsIlvvFSSFRiMfCNzv21fjbE/+ah/lSh3lF8e2YG1Te7w1KpZhJFFXJrqYKi9yegxkqIChbqOS9Egw==", "sn-007-888-abc-mac-a1-b2-c3-d4-e5-f6")
	if err != nil {
		t.Fatal(err)
	}
	if want := "Jsm0lyGpjaVYVP2g3FnmnmG9dI/9qU24wNoykUmermc="; got != want {
		t.Fatalf("derived key = %s, want %s", got, want)
	}
}

func TestSASTokenShape(t *testing.T) {
	exp := time.Unix(1700000000, 0)
	tok, err := SASToken("0ne000/registrations/cam1", "AAAA", "registration", exp)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, "SharedAccessSignature sr=0ne000%2Fregistrations%2Fcam1&sig=") ||
		!strings.HasSuffix(tok, "&se=1700000000&skn=registration") {
		t.Fatalf("token %q", tok)
	}
	if _, err := SASToken("x", "not base64!!", "", exp); err == nil || strings.Contains(err.Error(), "not base64!!") {
		t.Fatalf("bad key error %v", err)
	}
}

func TestSASTokenExpiryAndSignature(t *testing.T) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tok, err := SASToken("hub.azure-devices.net/devices/cam1", testKey, "", exp)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(tok, "&se=1893553445") || strings.Contains(tok, "skn=") {
		t.Fatalf("token %q", tok)
	}
	sig, err := Sign("hub.azure-devices.net/devices/cam1", testKey, exp.Unix())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tok, "&sig="+url.QueryEscape(sig)+"&") {
		t.Fatalf("token %q lacks signature %q", tok, sig)
	}
	// Another expiry signs differently.
	other, _ := Sign("hub.azure-devices.net/devices/cam1", testKey, exp.Unix()+1)
	if other == sig {
		t.Fatal("signature does not depend on the expiry")
	}
}
