package iothub

import (
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
