package emulator

import (
	"bytes"
	"crypto/x509"
	"errors"
	"testing"
	"time"
)

func TestCANameConstraintsAndLifetime(t *testing.T) {
	dir := t.TempDir()
	ca, err := loadOrCreateCA(dir, []string{"127.0.0.1", "pi.local"})
	if err != nil {
		t.Fatal(err)
	}
	if life := time.Until(ca.cert.NotAfter); life > caLifetime || life < caLifetime-2*time.Hour {
		t.Errorf("CA lifetime %v, want about %v", life, caLifetime)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	verify := func(names ...string) error {
		cert, err := ca.serverCert(names)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := x509.ParseCertificate(cert.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		_, err = leaf.Verify(x509.VerifyOptions{Roots: roots})
		return err
	}
	if err := verify("pi.local", "cam.pi.local", "127.0.0.1"); err != nil {
		t.Errorf("the emulator's own names: %v", err)
	}
	// A leaked CA key cannot vouch for anything else.
	var cie x509.CertificateInvalidError
	for _, other := range []string{"myhub.azure-devices.net", "10.1.2.3"} {
		if err := verify(other); !errors.As(err, &cie) || cie.Reason != x509.CANotAuthorizedForThisName {
			t.Errorf("%s: %v, want a name constraint violation", other, err)
		}
	}

	// Reused while it covers the names; replaced when a name is added.
	again, err := loadOrCreateCA(dir, []string{"pi.local"})
	if err != nil || !bytes.Equal(again.certPEM, ca.certPEM) {
		t.Fatalf("CA not reused: %v", err)
	}
	other, err := loadOrCreateCA(dir, []string{"pi.local", "edge.example"})
	if err != nil || bytes.Equal(other.certPEM, ca.certPEM) || !other.covers([]string{"edge.example"}) {
		t.Fatalf("CA not replaced for a new name: %v", err)
	}
}
