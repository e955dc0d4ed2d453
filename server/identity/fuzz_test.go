package identity

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatwasm/chat/app/event"
)

// fuzzSecret is the fuzz target's secret: fixed, so that the valid tokens in
// testdata/fuzz/FuzzVerify verify.
const fuzzSecret = "identity-fuzz-secret-32-bytes..."

// fuzzNow is the time the fuzz target verifies at: within the max age of
// both valid tokens of the corpus, issued at 1764150000 and 1764153600.
var fuzzNow = time.Unix(1764160000, 0)

// FuzzVerify feeds Verify arbitrary tokens, and arbitrary payloads signed
// with the key, since random bytes almost never carry a valid MAC. Verify
// must not panic, must refuse with one of its errors, and whatever it accepts
// must hold a valid name and user id and verify again to the same claims.
func FuzzVerify(f *testing.F) {
	s, err := NewSigner([]byte(fuzzSecret), 0)
	if err != nil {
		f.Fatal(err)
	}
	valid, _ := s.Issue("3f1c9a2e-0000-4000-8000-000000000001", "Ann", time.Unix(1764150000, 0))
	dot := strings.LastIndexByte(valid, '.')
	for _, seed := range []string{
		valid,
		flip(valid, len(version)+2),
		flip(valid, dot+2),
		valid[:len(valid)-1],
		valid + ".",
		"v2." + valid[len(version):],
		version + "." + valid[dot+1:],
		"",
		version,
		"v1..",
		"not a token",
		`{"u":"u-1","n":"Ann","t":1}`,
		`{"u":"u-1","n":" Ann","t":1}`,
		`{"u":"","n":"Ann","t":1}`,
		`{"u":"u-1","n":"a\u0000b","t":-1}`,
		`{"u":"u-1","n":"` + strings.Repeat("<", event.MaxNameLen) + `","t":9223372036854775807}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		c, err := s.Verify(token, fuzzNow)
		if err != nil {
			checkRefused(t, token, c, err)
		} else {
			checkAccepted(t, s, token, c)
			// Only Issue signs with this key, and Issue writes one
			// spelling of each claim: an accepted token is that spelling.
			if again, _ := s.Issue(c.User, c.Name, c.Issued); again != token {
				t.Fatalf("Verify accepted %q, which Issue spells %q", token, again)
			}
		}
		// The same bytes as a payload signed with the key: this reaches the
		// payload checks that a forged MAC never gets to.
		signed := s.sign([]byte(token))
		if c, err := s.Verify(signed, fuzzNow); err != nil {
			checkRefused(t, signed, c, err)
		} else {
			checkAccepted(t, s, signed, c)
			// The claims survive a trip through Issue.
			again, ac := s.Issue(c.User, c.Name, c.Issued)
			if ac != c {
				t.Fatalf("Issue(%+v) claims %+v", c, ac)
			}
			checkAccepted(t, s, again, c)
		}
	})
}

// checkRefused fails t unless a refusal of token is one of Verify's errors
// with no claims.
func checkRefused(t *testing.T, token string, c Claims, err error) {
	t.Helper()
	if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrExpired) {
		t.Fatalf("Verify(%q) error %v wraps none of ErrMalformed, ErrBadSignature and ErrExpired", token, err)
	}
	if c != (Claims{}) {
		t.Fatalf("Verify(%q) refused with claims %+v", token, c)
	}
}

// checkAccepted fails t unless token, which Verify accepted with claims c,
// holds valid claims and verifies again to c.
func checkAccepted(t *testing.T, s *Signer, token string, c Claims) {
	t.Helper()
	if len(token) > MaxTokenLen {
		t.Fatalf("Verify accepted a %d-byte token", len(token))
	}
	if n, err := event.NormalizeName(c.Name); err != nil || n != c.Name {
		t.Fatalf("Verify(%q) accepted name %q: NormalizeName = %q, %v", token, c.Name, n, err)
	}
	if !validUser(c.User) {
		t.Fatalf("Verify(%q) accepted user id %q", token, c.User)
	}
	if c.Issued.Location() != time.UTC || c.Issued.Nanosecond() != 0 {
		t.Fatalf("Verify(%q) accepted time %v, not whole UTC seconds", token, c.Issued)
	}
	again, err := s.Verify(token, fuzzNow)
	if err != nil || again != c {
		t.Fatalf("Verify(%q) again = %+v, %v; want %+v", token, again, err, c)
	}
}

// TestFormatKnownAnswer pins the token format down with tokens written by an
// independent implementation (Python's hmac and base64, under fuzzSecret):
// Issue must spell them exactly, and the valid tokens of the fuzz corpus
// must verify, so that the corpus exercises the accepting path.
func TestFormatKnownAnswer(t *testing.T) {
	t.Parallel()
	s, err := NewSigner([]byte(fuzzSecret), 0)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file, token string
		want        Claims
	}{
		{
			"valid",
			"v1.eyJ1IjoiM2YxYzlhMmUtMDAwMC00MDAwLTgwMDAtMDAwMDAwMDAwMDAxIiwibiI6IkFubiIsInQiOjE3NjQxNTAwMDB9.Bt7BMSjhxFh7xBcCMgHvX3CNYjYo-enPXKXkvZDKR-Y",
			Claims{User: "3f1c9a2e-0000-4000-8000-000000000001", Name: "Ann", Issued: time.Unix(1764150000, 0).UTC()},
		},
		{
			"valid_unicode",
			"v1.eyJ1IjoiM2YxYzlhMmUtMDAwMC00MDAwLTgwMDAtMDAwMDAwMDAwMDAyIiwibiI6Ilpvw6sg8J-ZgiIsInQiOjE3NjQxNTM2MDB9.4CLyOWjrSZaRflBF1XVNTa5tYQDoAc7H97TleBMlffc",
			Claims{User: "3f1c9a2e-0000-4000-8000-000000000002", Name: "Zoë 🙂", Issued: time.Unix(1764153600, 0).UTC()},
		},
	}
	for _, tt := range tests {
		if token, c := s.Issue(tt.want.User, tt.want.Name, tt.want.Issued); token != tt.token || c != tt.want {
			t.Errorf("Issue(%+v) = %s, %+v; want %s", tt.want, token, c, tt.token)
		}
		if c, err := s.Verify(tt.token, fuzzNow); err != nil || c != tt.want {
			t.Errorf("Verify(%s) = %+v, %v; want %+v", tt.token, c, err, tt.want)
		}
		b, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzVerify", tt.file))
		if err != nil {
			t.Fatal(err)
		}
		if want := "go test fuzz v1\nstring(" + strconv.Quote(tt.token) + ")\n"; string(b) != want {
			t.Errorf("corpus file %s = %q, want %q", tt.file, b, want)
		}
	}
}
