// Package identity issues and verifies signed identity tokens.
//
// On a browser's first join the server issues it a token that binds a stable
// user id to the chosen name. The browser keeps the token (localStorage) and
// presents it on every connect and reconnect, so that a reload is the same
// person. The server takes the user id and the name from a verified token
// only, never from fields of a frame, so nobody can speak as someone else by
// editing ids or names.
//
// A token is
//
//	v1.<payload>.<mac>
//
// where payload is the unpadded base64url encoding of a compact JSON object
// {"u":user,"n":name,"t":issued} (issued in Unix seconds) and mac is the
// unpadded base64url encoding of HMAC-SHA256(secret, "v1." + payload). The
// secret stays on the server (see LoadOrCreateSecret); the payload is signed,
// not encrypted, so it must hold nothing the browser may not read.
//
// Tokens expire: Verify refuses a token issued more than the Signer's max age
// ago (DefaultMaxAge, 30 days, unless NewSigner is given another), judged by
// the signed issue time, so a token copied from a device stops working on its
// own. The server issues a fresh token at every join, so a person who comes
// back within the max age never notices; one who stays away longer becomes a
// new user. A token issued more than MaxClockSkew in the future is refused
// the same way: it would otherwise outlive the max age. Replacing the secret
// revokes every token at once.
package identity

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/chatwasm/chat/app/event"
)

const (
	// SecretLen is the length of the signing secret in bytes: 32 bytes (256
	// bits) is the output size of SHA-256, the key length HMAC-SHA256 is
	// designed for. NewSigner refuses a shorter secret.
	SecretLen = 32

	// MaxUserLen is the longest user id in bytes: 64 holds a UUID (36) with
	// room for another scheme, and bounds what a token may carry.
	MaxUserLen = 64

	// MaxTokenLen is the longest token Verify reads, in bytes; a longer one is
	// refused before anything is decoded or hashed, so a hostile client cannot
	// make the server work on megabytes. The largest token Issue can produce
	// is under 442 bytes: a 64-byte user id, a name of MaxNameLen characters
	// that JSON escapes to six bytes each (192 bytes; a valid name needs one
	// letter, so less) and a 20-digit time make at most a 296-byte payload,
	// 395 in base64, plus "v1.", a dot and a 43-byte MAC. 512 is above that,
	// and small enough to sit in any frame or header.
	MaxTokenLen = 512

	// DefaultMaxAge is how long a token stays valid after it was issued,
	// when NewSigner is given 0: 30 days. The server refreshes a person's
	// token at every join, so only someone away for a month loses their
	// identity (and becomes a new user, as with a cleared browser), while a
	// token copied from a device, a backup or a shared computer stops
	// working a month after that device last joined.
	DefaultMaxAge = 30 * 24 * time.Hour

	// MaxClockSkew is how far in the future a token's issue time may be and
	// still verify: 5 minutes covers the drift between servers that share a
	// secret and a clock stepped back by NTP, while bounding how long past
	// its max age a token issued by a clock that ran ahead stays valid.
	MaxClockSkew = 5 * time.Minute
)

// version is the format prefix of a token, dot included. A new format gets a
// new prefix, so that old and new tokens can be told apart.
const version = "v1."

// macLen is the length of an encoded MAC: 32 bytes in unpadded base64.
var macLen = base64.RawURLEncoding.EncodedLen(sha256.Size)

// b64 decodes the parts of a token. Strict refuses non-zero padding bits, so
// that one payload or MAC has exactly one encoding.
var b64 = base64.RawURLEncoding.Strict()

// Errors returned by Verify. Each means the token proves nothing now: the
// server should treat the connection as a newcomer and issue a new token.
var (
	// ErrMalformed: the token is not one this package issues: too long, not
	// "v1." and two base64url parts, or a signed payload that is not a
	// valid claim (bad JSON, invalid name or user id). Its text never
	// contains the token, so it is safe to log.
	ErrMalformed = errors.New("identity: malformed token")
	// ErrBadSignature: the token is well formed but its MAC does not match:
	// it was altered, forged, or signed with another secret (for example,
	// before the server's secret was replaced).
	ErrBadSignature = errors.New("identity: token signature does not match")
	// ErrExpired: the token is well formed and signed with this secret, but
	// outside its validity period: issued more than the Signer's max age
	// before the time given to Verify, or more than MaxClockSkew after it.
	ErrExpired = errors.New("identity: token expired")
)

// Claims is what a verified token proves: that this server gave the user id
// User the name Name at the time Issued.
type Claims struct {
	// User is the stable user id: it stays the same across reconnects and
	// renames. It is 1 to MaxUserLen bytes of ASCII letters, digits, '-',
	// '.', '_' and '~' (a UUID when Issue chose it).
	User string
	// Name is the display name, as event.NormalizeName returns it.
	Name string
	// Issued is when the token was issued, in UTC and whole seconds: the
	// token expires the Signer's max age after it.
	Issued time.Time
}

// Signer issues and verifies tokens with one secret. It is safe for
// concurrent use: it never changes after NewSigner.
type Signer struct {
	key    []byte
	maxAge time.Duration
}

// NewSigner returns a Signer for secret, which must be at least SecretLen
// bytes (LoadOrCreateSecret returns one), whose tokens expire maxAge after
// they were issued; 0 means DefaultMaxAge, and a negative maxAge is an
// error. The secret is copied, so the caller may reuse its slice.
func NewSigner(secret []byte, maxAge time.Duration) (*Signer, error) {
	if len(secret) < SecretLen {
		return nil, fmt.Errorf("identity: secret is %d bytes, want at least %d", len(secret), SecretLen)
	}
	switch {
	case maxAge < 0:
		return nil, fmt.Errorf("identity: negative token max age %v", maxAge)
	case maxAge == 0:
		maxAge = DefaultMaxAge
	}
	return &Signer{key: append([]byte(nil), secret...), maxAge: maxAge}, nil
}

// MaxAge returns how long the Signer's tokens stay valid after they were
// issued.
func (s *Signer) MaxAge() time.Duration { return s.maxAge }

// payload is the signed JSON of a token. The keys are one letter each to keep
// tokens short.
type payload struct {
	User   string `json:"u"`
	Name   string `json:"n"`
	Issued int64  `json:"t"`
}

// Issue returns a token for user with name, issued at now, and the claims it
// proves. An empty user means a newcomer: Issue gives it a new random id
// (uuid.NewString()). To rename someone, pass their Claims.User with the new
// name: the user id stays the same.
//
// The name must already be normalized by event.NormalizeName and a non-empty
// user must be a valid user id (see Claims.User): Issue panics otherwise,
// since either is a bug in the caller and the token would not verify.
func (s *Signer) Issue(user, name string, now time.Time) (token string, c Claims) {
	if user == "" {
		user = uuid.NewString()
	}
	if !validUser(user) {
		panic(fmt.Sprintf("identity: Issue with an invalid user id %q", user))
	}
	if n, err := event.NormalizeName(name); err != nil || n != name {
		panic(fmt.Sprintf("identity: Issue with a name that event.NormalizeName does not return unchanged: %q", name))
	}
	p := payload{User: user, Name: name, Issued: now.Unix()}
	b, err := json.Marshal(p)
	if err != nil {
		// A struct of strings and an int64 always encodes.
		panic(fmt.Sprintf("identity: encode payload: %v", err))
	}
	return s.sign(b), p.claims()
}

// sign returns the token that carries payload b, whatever b holds. Issue uses
// it for valid claims; the tests use it to prove that Verify checks a
// validly signed payload too.
func (s *Signer) sign(b []byte) string {
	signed := version + base64.RawURLEncoding.EncodeToString(b)
	return signed + "." + base64.RawURLEncoding.EncodeToString(s.mac(signed))
}

// mac returns HMAC-SHA256(key, signed).
func (s *Signer) mac(signed string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(signed))
	return m.Sum(nil)
}

// Verify checks token at the time now and returns the claims it proves. It
// returns an error wrapping ErrMalformed, ErrBadSignature or ErrExpired, and
// no claims, when the token proves nothing. The MAC is checked in constant
// time before the payload is decoded, a signed payload is held to the same
// rules as Issue's input, and only then is its issue time checked: a token
// older than the Signer's max age, or issued more than MaxClockSkew after
// now, is expired.
func (s *Signer) Verify(token string, now time.Time) (Claims, error) {
	if len(token) > MaxTokenLen {
		return Claims{}, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, MaxTokenLen)
	}
	rest, ok := strings.CutPrefix(token, version)
	if !ok {
		return Claims{}, fmt.Errorf("%w: no %q prefix", ErrMalformed, version)
	}
	payloadB64, macB64, ok := strings.Cut(rest, ".")
	if !ok || payloadB64 == "" || len(macB64) != macLen {
		return Claims{}, fmt.Errorf("%w: not a payload and a MAC", ErrMalformed)
	}
	// The alphabet check also refuses extra dots, and the '\r' and '\n' that
	// the base64 decoder would skip, so one token has one spelling.
	if !isBase64URL(payloadB64) || !isBase64URL(macB64) {
		return Claims{}, fmt.Errorf("%w: not base64url", ErrMalformed)
	}
	got, err := b64.DecodeString(macB64)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: MAC: %w", ErrMalformed, err)
	}
	if !hmac.Equal(got, s.mac(token[:len(version)+len(payloadB64)])) {
		return Claims{}, ErrBadSignature
	}
	b, err := b64.DecodeString(payloadB64)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: payload: %w", ErrMalformed, err)
	}
	c, err := parsePayload(b)
	if err != nil {
		return Claims{}, err
	}
	// Sub saturates, so issue times at the ends of the int64 range are
	// compared right.
	switch age := now.Sub(c.Issued); {
	case age > s.maxAge:
		return Claims{}, fmt.Errorf("%w: issued %v ago, more than %v", ErrExpired, age.Round(time.Second), s.maxAge)
	case age < -MaxClockSkew:
		return Claims{}, fmt.Errorf("%w: issued %v in the future, more than the %v allowed for clock skew", ErrExpired, (-age).Round(time.Second), MaxClockSkew)
	}
	return c, nil
}

// parsePayload decodes and checks a signed payload. Only this server can sign
// one, but it is checked as strictly as client input all the same: a bug or a
// future format must not let an invalid name or user id through.
func parsePayload(b []byte) (Claims, error) {
	// Pointers tell an absent field from a zero one.
	var w struct {
		User   *string `json:"u"`
		Name   *string `json:"n"`
		Issued *int64  `json:"t"`
	}
	// Unmarshal refuses trailing data; unknown fields are ignored, as a
	// newer server may add some.
	if err := json.Unmarshal(b, &w); err != nil {
		return Claims{}, fmt.Errorf("%w: payload is not a JSON claim: %w", ErrMalformed, err)
	}
	if w.User == nil || w.Name == nil || w.Issued == nil {
		return Claims{}, fmt.Errorf("%w: payload lacks a field", ErrMalformed)
	}
	if !validUser(*w.User) {
		return Claims{}, fmt.Errorf("%w: user id is empty, longer than %d bytes or not [A-Za-z0-9._~-]", ErrMalformed, MaxUserLen)
	}
	name, err := event.NormalizeName(*w.Name)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: name: %w", ErrMalformed, err)
	}
	if name != *w.Name {
		return Claims{}, fmt.Errorf("%w: name is not normalized", ErrMalformed)
	}
	return payload{User: *w.User, Name: name, Issued: *w.Issued}.claims(), nil
}

// claims returns the Claims that p proves.
func (p payload) claims() Claims {
	return Claims{User: p.User, Name: p.Name, Issued: time.Unix(p.Issued, 0).UTC()}
}

// validUser reports whether u is a usable user id: 1 to MaxUserLen bytes of
// RFC 3986 unreserved characters (ASCII letters, digits, '-', '.', '_', '~').
// Such an id needs no escaping in JSON, HTML, URLs or logs, and a UUID is one.
func validUser(u string) bool {
	if u == "" || len(u) > MaxUserLen {
		return false
	}
	for i := 0; i < len(u); i++ {
		c := u[i]
		if !isAlnum(c) && c != '-' && c != '.' && c != '_' && c != '~' {
			return false
		}
	}
	return true
}

// isBase64URL reports whether s holds only characters of the base64url
// alphabet (no padding).
func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// isAlnum reports whether c is an ASCII letter or digit.
func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
