package identity

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/chatwasm/chat/app/event"
)

// testSecret returns a fixed secret made of b repeated, so that tests are
// reproducible.
func testSecret(b byte) []byte {
	return bytes.Repeat([]byte{b}, SecretLen)
}

// newTestSigner returns a Signer for testSecret(b).
func newTestSigner(t testing.TB, b byte) *Signer {
	t.Helper()
	s, err := NewSigner(testSecret(b), 0)
	if err != nil {
		t.Fatalf("NewSigner: %v", err)
	}
	return s
}

// now is a fixed time with a fraction of a second, which tokens drop.
var now = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.FixedZone("CET", 3600))

func TestIssueVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	s := newTestSigner(t, 1)
	tests := []struct {
		name     string
		user     string
		userName string
		now      time.Time
	}{
		{"newcomer", "", "Ann", now},
		{"existing user", "3f1c9a2e-0000-4000-8000-000000000001", "Bob", now},
		{"unicode name", "", "Zoë 🙂 李", now},
		{"inner spaces", "", "Ann  Marie", now},
		{"longest name", "", strings.Repeat("é", event.MaxNameLen), now},
		{"escaped name", "", `<"&\>x`, now},
		{"longest user", strings.Repeat("a", MaxUserLen), "Ann", now},
		{"user of every allowed kind", "AZaz09-._~", "Ann", now},
		{"epoch", "", "Ann", time.Unix(0, 0)},
		{"before epoch", "", "Ann", time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"zero time", "", "Ann", time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			token, c := s.Issue(tt.user, tt.userName, tt.now)
			want := Claims{User: tt.user, Name: tt.userName, Issued: tt.now.Truncate(time.Second).UTC()}
			if tt.user == "" {
				if err := uuid.Validate(c.User); err != nil {
					t.Fatalf("new user id %q is not a UUID: %v", c.User, err)
				}
				want.User = c.User
			}
			if c != want {
				t.Fatalf("Issue claims = %+v, want %+v", c, want)
			}
			if len(token) > MaxTokenLen {
				t.Fatalf("token is %d bytes, over MaxTokenLen", len(token))
			}
			got, err := s.Verify(token, tt.now)
			if err != nil {
				t.Fatalf("Verify(%s): %v", token, err)
			}
			if got != want {
				t.Fatalf("Verify claims = %+v, want %+v", got, want)
			}
		})
	}
}

func TestIssueNewUsersDiffer(t *testing.T) {
	t.Parallel()
	s := newTestSigner(t, 1)
	_, a := s.Issue("", "Ann", now)
	_, b := s.Issue("", "Ann", now)
	if a.User == b.User {
		t.Fatalf("two newcomers got the same user id %q", a.User)
	}
}

func TestUserStableAcrossRename(t *testing.T) {
	t.Parallel()
	s := newTestSigner(t, 1)
	first, c1 := s.Issue("", "Ann", now)
	renamed, c2 := s.Issue(c1.User, "Annie", now.Add(time.Hour))
	if first == renamed {
		t.Fatal("a rename returned the same token")
	}
	for _, tok := range []string{first, renamed} {
		c, err := s.Verify(tok, now.Add(time.Hour))
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if c.User != c1.User {
			t.Fatalf("user id changed across a rename: %q, then %q", c1.User, c.User)
		}
	}
	if c2.User != c1.User || c2.Name != "Annie" {
		t.Fatalf("renamed claims = %+v, want user %q named Annie", c2, c1.User)
	}
}

func TestSignersWithSameSecretAgree(t *testing.T) {
	t.Parallel()
	a, b := newTestSigner(t, 7), newTestSigner(t, 7)
	ta, ca := a.Issue("u-1", "Ann", now)
	tb, cb := b.Issue("u-1", "Ann", now)
	if ta != tb || ca != cb {
		t.Fatalf("same secret, same claims, different tokens: %s, %s", ta, tb)
	}
	if c, err := b.Verify(ta, now); err != nil || c != ca {
		t.Fatalf("the other Signer's Verify = %+v, %v; want %+v", c, err, ca)
	}
}

func TestNewSigner(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, SecretLen - 1} {
		if _, err := NewSigner(make([]byte, n), 0); err == nil {
			t.Errorf("NewSigner accepted a %d-byte secret", n)
		}
	}
	if _, err := NewSigner(make([]byte, 2*SecretLen), 0); err != nil {
		t.Errorf("NewSigner refused a %d-byte secret: %v", 2*SecretLen, err)
	}
	// The Signer keeps its own copy of the secret.
	secret := testSecret(3)
	s, err := NewSigner(secret, 0)
	if err != nil {
		t.Fatal(err)
	}
	token, _ := s.Issue("", "Ann", now)
	secret[0] ^= 1
	if _, err := s.Verify(token, now); err != nil {
		t.Fatalf("changing the caller's slice changed the Signer: %v", err)
	}
}

func TestIssuePanicsOnInvalidInput(t *testing.T) {
	t.Parallel()
	s := newTestSigner(t, 1)
	tests := []struct{ name, user, userName string }{
		{"untrimmed name", "", " Ann"},
		{"empty name", "", ""},
		{"long name", "", strings.Repeat("a", event.MaxNameLen+1)},
		{"control in name", "", "a\x00b"},
		{"long user", strings.Repeat("a", MaxUserLen+1), "Ann"},
		{"user with a space", "a b", "Ann"},
		{"user with a quote", `a"b`, "Ann"},
		{"non-ASCII user", "é", "Ann"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				if recover() == nil {
					t.Fatalf("Issue(%q, %q) did not panic", tt.user, tt.userName)
				}
			}()
			s.Issue(tt.user, tt.userName, now)
		})
	}
}

// TestMaxTokenLen checks the arithmetic in MaxTokenLen's comment: the largest
// token Issue can make fits.
func TestMaxTokenLen(t *testing.T) {
	t.Parallel()
	s := newTestSigner(t, 1)
	user := strings.Repeat("~", MaxUserLen)
	// '<', '>' and '&' are the characters of a valid name that JSON escapes
	// to six bytes; a name needs one letter or digit besides.
	for _, name := range []string{"a" + strings.Repeat("<", event.MaxNameLen-1), strings.Repeat("&>", event.MaxNameLen/2-1) + "a1"} {
		token, c := s.Issue(user, name, time.Unix(math.MinInt64/2, 0))
		if len(token) > MaxTokenLen {
			t.Fatalf("worst-case token is %d bytes, over MaxTokenLen %d", len(token), MaxTokenLen)
		}
		if got, err := s.Verify(token, c.Issued); err != nil || got != c {
			t.Fatalf("worst-case token: Verify = %+v, %v; want %+v", got, err, c)
		}
	}
	// The 20-digit time, alone, is the longest "t". With every character
	// escaped the bound of the comment is reached; the largest valid name
	// keeps one letter.
	payload := func(name string) []byte {
		return []byte(`{"u":"` + user + `","n":"` + name + `","t":-9223372036854775808}`)
	}
	bound := s.sign(payload(strings.Repeat(`\u003c`, event.MaxNameLen)))
	if len(bound) != 442 || len(bound) > MaxTokenLen {
		t.Fatalf("the bound is %d bytes, want 442 as MaxTokenLen's comment says", len(bound))
	}
	largest := s.sign(payload(strings.Repeat(`\u003c`, event.MaxNameLen-1) + "a"))
	if len(largest) > len(bound) {
		t.Fatalf("largest valid token is %d bytes, over the bound %d", len(largest), len(bound))
	}
	if _, err := s.Verify(largest, time.Unix(math.MinInt64, 0)); err != nil {
		t.Fatalf("largest valid token refused: %v", err)
	}
}

// flip returns token with the byte at i replaced by another character of the
// base64url alphabet, so that only the signature can tell.
func flip(token string, i int) string {
	b := []byte(token)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestVerifyRefusesTampering(t *testing.T) {
	t.Parallel()
	s := newTestSigner(t, 1)
	token, _ := s.Issue("u-1", "Ann", now)
	dot := strings.LastIndexByte(token, '.')
	otherToken, _ := newTestSigner(t, 2).Issue("u-1", "Ann", now)
	// Bob's token, with Ann's MAC: swapping payloads between tokens fails.
	bobToken, _ := s.Issue("u-2", "Bob", now)
	spliced := bobToken[:strings.LastIndexByte(bobToken, '.')] + token[dot:]
	// Ann's payload, re-encoded with another name, with Ann's MAC.
	payload, err := base64.RawURLEncoding.DecodeString(token[len(version):dot])
	if err != nil {
		t.Fatal(err)
	}
	edited := version + base64.RawURLEncoding.EncodeToString(bytes.Replace(payload, []byte("Ann"), []byte("Eve"), 1)) + token[dot:]
	// Ann's MAC with its two unused low bits set: a lax decoder reads the
	// same 32 bytes from it, so only the strict decoding refuses it.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, token[len(token)-1])
	loose := token[:len(token)-1] + string(alphabet[last|3])

	tests := []struct {
		name  string
		token string
		err   error
	}{
		{"flipped payload byte", flip(token, len(version)+5), ErrBadSignature},
		{"flipped last payload byte", flip(token, dot-1), ErrBadSignature},
		{"flipped MAC byte", flip(token, dot+1+10), ErrBadSignature},
		{"MAC with padding bits set", loose, ErrMalformed},
		{"other secret", otherToken, ErrBadSignature},
		{"spliced payload", spliced, ErrBadSignature},
		{"edited payload", edited, ErrBadSignature},
		{"empty", "", ErrMalformed},
		{"prefix only", version, ErrMalformed},
		{"no MAC", token[:dot], ErrMalformed},
		{"empty MAC", token[:dot+1], ErrMalformed},
		{"truncated MAC", token[:len(token)-1], ErrMalformed},
		{"truncated payload", token[:len(version)+3] + token[dot:], ErrBadSignature},
		{"empty payload", version + token[dot:], ErrMalformed},
		{"no prefix", token[len(version):], ErrMalformed},
		{"wrong version", "v2." + token[len(version):], ErrMalformed},
		{"upper-case version", "V1." + token[len(version):], ErrMalformed},
		{"leading space", " " + token, ErrMalformed},
		{"trailing space", token + " ", ErrMalformed},
		{"trailing newline", token + "\n", ErrMalformed},
		{"newline in MAC", token[:dot+5] + "\n" + token[dot+5:len(token)-1], ErrMalformed},
		{"extra dot at the end", token + ".", ErrMalformed},
		{"extra part", token + ".AAAA", ErrMalformed},
		{"extra dot inside", token[:len(version)+4] + "." + token[len(version)+4:], ErrMalformed},
		{"padded MAC", token[:len(token)-1] + "=", ErrMalformed},
		{"standard base64 in payload", version + "+" + token[len(version)+1:], ErrMalformed},
		{"standard base64 in MAC", token[:dot+1] + "/" + token[dot+2:], ErrMalformed},
		{"non-base64 payload", version + "!!!!" + token[dot:], ErrMalformed},
		{"non-base64 MAC", token[:dot+1] + strings.Repeat("*", macLen), ErrMalformed},
		{"oversized", token + strings.Repeat("A", MaxTokenLen), ErrMalformed},
		{"MaxTokenLen bytes", version + strings.Repeat("A", MaxTokenLen-len(version)-1-macLen) + token[dot:], ErrBadSignature},
		{"oversized by one", version + strings.Repeat("A", MaxTokenLen-len(version)-1-macLen+1) + token[dot:], ErrMalformed},
		{"garbage", "hello, world", ErrMalformed},
		{"NUL bytes", "v1.\x00\x00.\x00", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.token == token {
				t.Fatal("the test case does not change the token")
			}
			c, err := s.Verify(tt.token, now)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Verify(%q) = %+v, %v; want error %v", tt.token, c, err, tt.err)
			}
			if c != (Claims{}) {
				t.Fatalf("refused token returned claims %+v", c)
			}
			if len(token) > 8 && strings.Contains(err.Error(), token[len(version):len(version)+8]) {
				t.Fatalf("the error echoes the token: %v", err)
			}
		})
	}
	if _, err := s.Verify(token, now); err != nil {
		t.Fatalf("the untouched token is refused: %v", err)
	}
}

// TestVerifyRefusesSignedPayloads signs invalid payloads with the Signer's
// own key, to prove that Verify checks what it decodes and not only the MAC.
func TestVerifyRefusesSignedPayloads(t *testing.T) {
	t.Parallel()
	s := newTestSigner(t, 1)
	tests := []struct {
		name    string
		payload string
		err     error // besides ErrMalformed, when there is one
	}{
		{"not JSON", `hello`, nil},
		{"empty", ``, nil},
		{"truncated JSON", `{"u":"u-1","n":"Ann","t":1`, nil},
		{"trailing data", `{"u":"u-1","n":"Ann","t":1} x`, nil},
		{"two objects", `{"u":"u-1","n":"Ann","t":1}{"u":"u-1","n":"Ann","t":1}`, nil},
		{"null", `null`, nil},
		{"array", `["u-1","Ann",1]`, nil},
		{"string", `"u-1"`, nil},
		{"empty object", `{}`, nil},
		{"no user", `{"n":"Ann","t":1}`, nil},
		{"no name", `{"u":"u-1","t":1}`, nil},
		{"no time", `{"u":"u-1","n":"Ann"}`, nil},
		{"null user", `{"u":null,"n":"Ann","t":1}`, nil},
		{"user not a string", `{"u":1,"n":"Ann","t":1}`, nil},
		{"name not a string", `{"u":"u-1","n":["Ann"],"t":1}`, nil},
		{"time a string", `{"u":"u-1","n":"Ann","t":"1"}`, nil},
		{"time a fraction", `{"u":"u-1","n":"Ann","t":1.5}`, nil},
		{"time overflows", `{"u":"u-1","n":"Ann","t":9223372036854775808}`, nil},
		{"empty user", `{"u":"","n":"Ann","t":1}`, nil},
		{"long user", `{"u":"` + strings.Repeat("a", MaxUserLen+1) + `","n":"Ann","t":1}`, nil},
		{"user with a space", `{"u":"a b","n":"Ann","t":1}`, nil},
		{"user with a slash", `{"u":"a/b","n":"Ann","t":1}`, nil},
		{"user with a newline", `{"u":"a\nb","n":"Ann","t":1}`, nil},
		{"non-ASCII user", `{"u":"é","n":"Ann","t":1}`, nil},
		{"empty name", `{"u":"u-1","n":"","t":1}`, event.ErrNameEmpty},
		{"blank name", `{"u":"u-1","n":" \t ","t":1}`, event.ErrNameEmpty},
		{"long name", `{"u":"u-1","n":"` + strings.Repeat("a", event.MaxNameLen+1) + `","t":1}`, event.ErrNameTooLong},
		{"control in name", `{"u":"u-1","n":"a\u0007b","t":1}`, event.ErrNameInvalid},
		{"NUL in name", `{"u":"u-1","n":"a\u0000b","t":1}`, event.ErrNameInvalid},
		{"newline in name", `{"u":"u-1","n":"a\nb","t":1}`, event.ErrNameInvalid},
		{"untrimmed name", `{"u":"u-1","n":" Ann","t":1}`, nil},
		{"name with trailing newline", `{"u":"u-1","n":"Ann\n","t":1}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			token := s.sign([]byte(tt.payload))
			c, err := s.Verify(token, time.Unix(1, 0))
			if !errors.Is(err, ErrMalformed) || (tt.err != nil && !errors.Is(err, tt.err)) {
				t.Fatalf("Verify(sign(%q)) = %+v, %v; want ErrMalformed (and %v)", tt.payload, c, err, tt.err)
			}
			if c != (Claims{}) {
				t.Fatalf("refused token returned claims %+v", c)
			}
		})
	}
}

// TestVerifyRefusesSignedBadBase64 signs payload encodings that the strict
// decoder refuses, to reach the payload's decoding behind a valid MAC.
func TestVerifyRefusesSignedBadBase64(t *testing.T) {
	t.Parallel()
	s := newTestSigner(t, 1)
	// "A" is a length no encoding has; "AB" has its unused low bits set.
	for _, p := range []string{"A", "AB", "eyJ1IjoiYSJ9A"} {
		signed := version + p
		token := signed + "." + base64.RawURLEncoding.EncodeToString(s.mac(signed))
		if c, err := s.Verify(token, now); !errors.Is(err, ErrMalformed) {
			t.Errorf("Verify(%s) = %+v, %v; want ErrMalformed", token, c, err)
		}
	}
}

// TestVerifyAcceptsSignedPayloads pins down what a signed payload may vary in
// and still be accepted: these are not forgeries, since only the key can
// sign, but a newer server may write them.
func TestVerifyAcceptsSignedPayloads(t *testing.T) {
	t.Parallel()
	s := newTestSigner(t, 1)
	want := Claims{User: "u-1", Name: "Ann", Issued: time.Unix(1, 0).UTC()}
	for _, p := range []string{
		`{"u":"u-1","n":"Ann","t":1}`,
		`{"t":1,"n":"Ann","u":"u-1"}`,
		` {"u": "u-1", "n": "Ann", "t": 1} `,
		`{"u":"u-1","n":"Ann","t":1,"x":"a field from a newer server"}`,
		`{"u":"u-1","n":"\u0041nn","t":1}`,
	} {
		c, err := s.Verify(s.sign([]byte(p)), want.Issued)
		if err != nil || c != want {
			t.Errorf("Verify(sign(%s)) = %+v, %v; want %+v", p, c, err, want)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	s := newTestSigner(b, 1)
	token, _ := s.Issue("", "Ann", now)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Verify(token, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIssue(b *testing.B) {
	s := newTestSigner(b, 1)
	b.ReportAllocs()
	for b.Loop() {
		s.Issue("3f1c9a2e-0000-4000-8000-000000000001", "Ann", now)
	}
}

// TestVerifyExpiry checks the validity period of a token: from MaxClockSkew
// before its issue time to the Signer's max age after it, both ends
// included, for the default max age and a shorter one. Outside it the token
// is expired, and nothing else.
func TestVerifyExpiry(t *testing.T) {
	t.Parallel()
	hour, err := NewSigner(testSecret(1), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	def := newTestSigner(t, 1)
	tests := []struct {
		name    string
		s       *Signer
		age     time.Duration // of the token when it is verified
		expired bool
	}{
		{"just issued", def, 0, false},
		{"a day old", def, 24 * time.Hour, false},
		{"at the default max age", def, DefaultMaxAge, false},
		{"a second past the default max age", def, DefaultMaxAge + time.Second, true},
		{"a year old", def, 365 * 24 * time.Hour, true},
		{"at a max age of an hour", hour, time.Hour, false},
		{"past a max age of an hour", hour, time.Hour + time.Second, true},
		{"issued within the clock skew", def, -MaxClockSkew, false},
		{"issued beyond the clock skew", def, -MaxClockSkew - time.Second, true},
		{"issued a year ahead", def, -365 * 24 * time.Hour, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			issued := now.Truncate(time.Second)
			token, want := tt.s.Issue("u-1", "Ann", issued)
			c, err := tt.s.Verify(token, issued.Add(tt.age))
			if !tt.expired {
				if err != nil || c != want {
					t.Fatalf("Verify at age %v = %+v, %v; want %+v", tt.age, c, err, want)
				}
				return
			}
			if !errors.Is(err, ErrExpired) || errors.Is(err, ErrMalformed) || errors.Is(err, ErrBadSignature) {
				t.Fatalf("Verify at age %v = %+v, %v; want ErrExpired alone", tt.age, c, err)
			}
			if c != (Claims{}) {
				t.Fatalf("expired token returned claims %+v", c)
			}
		})
	}
}

// TestVerifyExpiryExtremes checks issue times at the ends of what a signed
// payload can hold: they are expired, not accepted by an overflow.
func TestVerifyExpiryExtremes(t *testing.T) {
	t.Parallel()
	s := newTestSigner(t, 1)
	for _, issued := range []int64{math.MinInt64, math.MinInt64 / 2, -1, math.MaxInt64 / 2, math.MaxInt64} {
		token := s.sign(fmt.Appendf(nil, `{"u":"u-1","n":"Ann","t":%d}`, issued))
		if c, err := s.Verify(token, now); !errors.Is(err, ErrExpired) {
			t.Errorf("Verify of a token issued at %d = %+v, %v; want ErrExpired", issued, c, err)
		}
	}
}

// TestNewSignerMaxAge checks the max ages NewSigner takes: zero is the
// default, a negative one is refused.
func TestNewSignerMaxAge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		maxAge time.Duration
		want   time.Duration // 0: refused
	}{
		{0, DefaultMaxAge},
		{time.Minute, time.Minute},
		{-time.Second, 0},
	}
	for _, tt := range tests {
		s, err := NewSigner(testSecret(1), tt.maxAge)
		switch {
		case tt.want == 0 && err == nil:
			t.Errorf("NewSigner(%v) accepted a negative max age", tt.maxAge)
		case tt.want != 0 && err != nil:
			t.Errorf("NewSigner(%v): %v", tt.maxAge, err)
		case tt.want != 0 && s.MaxAge() != tt.want:
			t.Errorf("NewSigner(%v).MaxAge() = %v, want %v", tt.maxAge, s.MaxAge(), tt.want)
		}
	}
}
