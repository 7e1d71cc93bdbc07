package camera

import (
	"reflect"
	"strings"
	"testing"
)

// RFC 7616 section 3.9.1: the same request answered with MD5 and with SHA-256.
func TestDigestRFC7616Examples(t *testing.T) {
	for _, tc := range []struct{ alg, want string }{
		{"MD5", "8ca523f5e9506fed4657c9700eebdbec"},
		{"SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"},
	} {
		chs := parseChallenges([]string{`Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=` + tc.alg +
			`, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`})
		c, err := pickDigest(chs)
		if err != nil {
			t.Fatal(err)
		}
		d := digestAuth{username: "Mufasa", password: "Circle of Life"}
		d.setChallenge(c)
		d.nc = 1
		got := d.authorizationWith("GET", "/dir/index.html", "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")
		if !strings.Contains(got, `response="`+tc.want+`"`) {
			t.Errorf("%s: %s\nwant response %s", tc.alg, got, tc.want)
		}
		for _, part := range []string{`username="Mufasa"`, `uri="/dir/index.html"`, "qop=auth,", "nc=00000001",
			`opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`, "algorithm=" + tc.alg} {
			if !strings.Contains(got, part) {
				t.Errorf("%s: header %s lacks %s", tc.alg, got, part)
			}
		}
	}
}

func TestParseChallenges(t *testing.T) {
	got := parseChallenges([]string{
		`Digest realm="cam, \"front\"", nonce="abc", algorithm=SHA-256, qop="auth", Digest realm="cam", nonce="def", algorithm=MD5`,
		`Basic realm="x", charset="UTF-8"`,
		`Bearer`,
	})
	want := []challenge{
		{"digest", map[string]string{"realm": `cam, "front"`, "nonce": "abc", "algorithm": "SHA-256", "qop": "auth"}},
		{"digest", map[string]string{"realm": "cam", "nonce": "def", "algorithm": "MD5"}},
		{"basic", map[string]string{"realm": "x", "charset": "UTF-8"}},
		{"bearer", map[string]string{}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	c, err := pickDigest(got)
	if err != nil || c.params["nonce"] != "abc" {
		t.Fatalf("pickDigest chose %+v, %v; want the SHA-256 challenge", c, err)
	}
	if _, err := pickDigest(parseChallenges([]string{`Digest realm="r", nonce="n", qop="auth-int", algorithm=SHA-512-256`})); err == nil {
		t.Fatal("pickDigest accepted SHA-512-256 with auth-int only")
	}
}

func FuzzParseChallenges(f *testing.F) {
	f.Add(`Digest realm="a", nonce="b", qop="auth"`)
	f.Add(`Basic realm="x\"`)
	f.Fuzz(func(t *testing.T, h string) {
		chs := parseChallenges([]string{h})
		if c, err := pickDigest(chs); err == nil {
			d := digestAuth{username: "u", password: "p"}
			d.setChallenge(c)
			d.authorization("GET", "/")
		}
	})
}

// TestParseChallengesBounded feeds a megabyte of tiny challenges (a hostile camera): the parser
// keeps maxChallenges and allocates a bounded amount, whatever the header size.
func TestParseChallengesBounded(t *testing.T) {
	h := strings.Repeat("B, ", 1<<20) + `Digest a="` + strings.Repeat("x=1,", 1<<10) + `"`
	chs := parseChallenges([]string{h, h})
	if len(chs) != maxChallenges {
		t.Fatalf("%d challenges kept, want %d", len(chs), maxChallenges)
	}
	params := strings.Repeat(`p=1, q=2, r=3, s=4, `, 100)
	chs = parseChallenges([]string{"Digest " + params})
	if len(chs) != 1 || len(chs[0].params) > maxChallengeParams {
		t.Fatalf("params not bounded: %d challenges, %d params", len(chs), len(chs[0].params))
	}
	if allocs := testing.AllocsPerRun(2, func() { parseChallenges([]string{h}) }); allocs > 200 {
		t.Errorf("%v allocations for a 3 MiB header: the parser allocates per token", allocs)
	}
}
