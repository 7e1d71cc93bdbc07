package emulator

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Names of the files the emulator keeps in its state directory.
const (
	caCertFile = "ca.pem"
	caKeyFile  = "ca-key.pem"
)

// The CA lives 30 days and is replaced when less than 10 remain, so a ca.pem someone added to
// a trust store does not stay useful for long; its name constraints limit it to the emulator's
// own names (loopback and the configured hosts), so even a leaked CA key cannot vouch for
// azure-devices.net or anything else.
const (
	caLifetime = 30 * 24 * time.Hour
	caRenewal  = 10 * 24 * time.Hour
)

// authority is the emulator's self-signed certificate authority.
type authority struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
}

// loadOrCreateCA reuses the CA in dir when both files are there and valid, its name
// constraints cover names and it has at least caRenewal left, so a client that trusts it keeps
// working across emulator restarts; otherwise it generates a new one and writes it.
func loadOrCreateCA(dir string, names []string) (*authority, error) {
	certPath, keyPath := filepath.Join(dir, caCertFile), filepath.Join(dir, caKeyFile)
	if ca, err := loadCA(certPath, keyPath); err == nil {
		if ca.covers(names) && time.Until(ca.cert.NotAfter) > caRenewal {
			return ca, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	dnsNames, ipNets := constraints(names)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "edgecam emulator CA", Organization: []string{"edgecam"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		// Only the emulator's own names: a client trusting this CA trusts nothing else with it.
		PermittedDNSDomainsCritical: true,
		PermittedDNSDomains:         dnsNames,
		PermittedIPRanges:           ipNets,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode CA key: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, fmt.Errorf("write CA key: %w", err)
	}
	if err := os.WriteFile(certPath, certPEM, 0o644); err != nil {
		return nil, fmt.Errorf("write CA certificate: %w", err)
	}
	return &authority{cert: cert, key: key, certPEM: certPEM}, nil
}

func loadCA(certPath, keyPath string) (*authority, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, err
	}
	bad := func(what string) error {
		return fmt.Errorf("%s is not a valid emulator CA %s; delete %s and %s to generate a new CA", certPath, what, certPath, keyPath)
	}
	cb, _ := pem.Decode(certPEM)
	if cb == nil {
		return nil, bad("certificate")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil || !cert.IsCA {
		return nil, bad("certificate")
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, bad("key")
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil || !key.PublicKey.Equal(cert.PublicKey) {
		return nil, bad("key")
	}
	if time.Now().After(cert.NotAfter) {
		return nil, bad("certificate (expired)")
	}
	return &authority{cert: cert, key: key, certPEM: certPEM}, nil
}

// constraints are the CA's permitted DNS domains and IP ranges: loopback plus names.
func constraints(names []string) ([]string, []*net.IPNet) {
	dns := []string{"localhost"}
	ips := []*net.IPNet{
		{IP: net.IPv4(127, 0, 0, 0).To4(), Mask: net.CIDRMask(8, 32)},
		{IP: net.IPv6loopback, Mask: net.CIDRMask(128, 128)},
	}
	for _, n := range names {
		if n == "" {
			continue
		}
		if ip := net.ParseIP(n); ip != nil {
			if ip.IsLoopback() {
				continue
			}
			if v4 := ip.To4(); v4 != nil {
				ips = append(ips, &net.IPNet{IP: v4, Mask: net.CIDRMask(32, 32)})
			} else {
				ips = append(ips, &net.IPNet{IP: ip, Mask: net.CIDRMask(128, 128)})
			}
		} else if !slices.Contains(dns, strings.ToLower(n)) {
			dns = append(dns, strings.ToLower(n))
		}
	}
	return dns, ips
}

// covers reports whether the CA's name constraints permit every name (an unconstrained CA,
// from before constraints were added, covers nothing: it is replaced).
func (ca *authority) covers(names []string) bool {
	c := ca.cert
	if len(c.PermittedDNSDomains) == 0 && len(c.PermittedIPRanges) == 0 {
		return false
	}
	for _, n := range append([]string{"localhost", "127.0.0.1", "::1"}, names...) {
		if n == "" {
			continue
		}
		ok := false
		if ip := net.ParseIP(n); ip != nil {
			for _, r := range c.PermittedIPRanges {
				ok = ok || r.Contains(ip)
			}
		} else {
			for _, d := range c.PermittedDNSDomains {
				ok = ok || strings.EqualFold(n, d) || strings.HasSuffix(strings.ToLower(n), "."+strings.ToLower(d))
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// serverCert issues a TLS server certificate for the loopback names plus names (host names or
// IP addresses), valid as long as the CA.
func (ca *authority) serverCert(names []string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate server key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: "edgecam emulator", Organization: []string{"edgecam"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     ca.cert.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	seen := map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true}
	for _, n := range names {
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("create server certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.cert.Raw}, PrivateKey: key}, nil
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}
