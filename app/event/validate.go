package event

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// NormalizeName trims space around name and checks the name rules: 1 to
// MaxNameLen characters, valid UTF-8, no control characters. It returns the
// trimmed name, or ErrNameEmpty, ErrNameTooLong or ErrNameInvalid.
func NormalizeName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", ErrNameEmpty
	case !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsControl) >= 0:
		return "", ErrNameInvalid
	case utf8.RuneCountInString(name) > MaxNameLen:
		return "", ErrNameTooLong
	}
	return name, nil
}

// NormalizeText trims space around a message and checks the message rules:
// 1 to MaxTextLen characters, valid UTF-8, no control characters but tab and
// newline. It returns the trimmed text, or ErrTextEmpty, ErrTextTooLong or
// ErrTextInvalid.
func NormalizeText(text string) (string, error) {
	text = strings.TrimSpace(text)
	switch {
	case text == "":
		return "", ErrTextEmpty
	case !utf8.ValidString(text) || strings.IndexFunc(text, forbiddenInText) >= 0:
		return "", ErrTextInvalid
	case utf8.RuneCountInString(text) > MaxTextLen:
		return "", ErrTextTooLong
	}
	return text, nil
}

// forbiddenInText reports control characters other than tab and newline,
// which a multi-line message may hold.
func forbiddenInText(r rune) bool {
	return unicode.IsControl(r) && r != '\t' && r != '\n'
}

// ValidRoom reports whether name is a room name: 1 to MaxRoomLen ASCII
// letters, digits, '-' or '_', so that it is safe in a URL path and a log.
func ValidRoom(name string) bool {
	if name == "" || len(name) > MaxRoomLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}
