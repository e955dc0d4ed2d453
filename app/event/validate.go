package event

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Limits on combining marks (Unicode categories Mn, Mc and Me) in a row on
// one character. Each mark stacks on the one before, so a long run paints
// far above or below its line, over the rows around it ("zalgo" text needs
// dozens); the languages that stack marks need far fewer.
const (
	// MaxNameMarks is the most marks a name may put on one character: 4.
	// Vietnamese needs 2 (ệ is e, dot below and circumflex), Devanagari and
	// Thai 2 or 3 (a vowel sign, a nasal sign, a virama).
	MaxNameMarks = 4

	// MaxTextMarks is the most marks a message may put on one character: 8,
	// twice a name's, which leaves room for scholarly transcription and
	// Tibetan stacks while the row's line height and clipping still hold
	// what a run of 8 paints.
	MaxTextMarks = 8
)

// ReservedName is the name no one may take, in any case: the page shows the
// person's own messages as "You: …", so a person called "You" would pass
// their messages off as the reader's own.
const ReservedName = "You"

// noticeWords are the last words of the page's notices ("<name> connected",
// "<name> disconnected", "You joined"). A name may not end with one of them,
// in any case, so that no message row or notice reads like a notice about
// someone else.
var noticeWords = []string{"connected", "disconnected", "joined"}

// NormalizeName trims space around name, puts it in Unicode normalization
// form C (so that "José" typed with a combining accent and "José" typed
// precomposed are the same name) and checks the name rules, so that a name
// can neither be invisible nor pass for someone or something else:
//
//   - 1 to MaxNameLen characters, counted after normalization;
//   - valid UTF-8 and no control characters (ErrNameInvalid);
//   - no format characters, Unicode category Cf: zero-width spaces and
//     joiners, soft hyphens, byte order marks, direction overrides
//     (ErrNameFormat);
//   - no blank fillers that letters-only checks let through: the Hangul
//     fillers U+115F, U+1160, U+3164 and U+FFA0, the Khmer inherent vowels
//     U+17B4 and U+17B5, the blank braille pattern U+2800 (ErrNameFiller);
//   - no line or paragraph separator, U+2028 or U+2029 (ErrNameSeparator);
//   - at most MaxNameMarks combining marks on one character (ErrNameMarks);
//   - at least one letter or digit (ErrNameNoLetter);
//   - not ReservedName in any case or width (ErrNameReserved);
//   - not ending with a notice word, in any case or width (ErrNameNotice).
//
// It returns the normalized name or the first rule it breaks.
func NormalizeName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", ErrNameEmpty
	}
	if !utf8.ValidString(name) {
		return "", ErrNameInvalid
	}
	name = strings.TrimSpace(norm.NFC.String(name))
	letter := false
	for _, r := range name {
		switch {
		case unicode.IsControl(r):
			return "", ErrNameInvalid
		case r == '\u2028' || r == '\u2029':
			return "", ErrNameSeparator
		case unicode.Is(unicode.Cf, r):
			return "", ErrNameFormat
		case isFiller(r):
			return "", ErrNameFiller
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			letter = true
		}
	}
	switch {
	case utf8.RuneCountInString(name) > MaxNameLen:
		return "", ErrNameTooLong
	case maxMarkRun(name) > MaxNameMarks:
		return "", ErrNameMarks
	case !letter:
		return "", ErrNameNoLetter
	}
	// Compatibility forms compare as their plain letters: a fullwidth
	// "Ｙｏｕ" reads as "You".
	plain := norm.NFKC.String(name)
	if strings.EqualFold(plain, ReservedName) {
		return "", ErrNameReserved
	}
	last := lastWord(plain)
	for _, w := range noticeWords {
		if strings.EqualFold(last, w) {
			return "", ErrNameNotice
		}
	}
	return name, nil
}

// isFiller reports the blank characters that are letters or symbols to
// Unicode, so that the other rules let them through, yet paint nothing.
func isFiller(r rune) bool {
	switch r {
	case '\u115f', '\u1160', '\u17b4', '\u17b5', '\u2800', '\u3164', '\uffa0':
		return true
	}
	return false
}

// maxMarkRun returns the longest run of combining marks in s: the most
// marks on one character.
func maxMarkRun(s string) int {
	longest, run := 0, 0
	for _, r := range s {
		if !unicode.IsMark(r) {
			run = 0
			continue
		}
		run++
		longest = max(longest, run)
	}
	return longest
}

// lastWord returns the last run of letters, digits and marks in s, ignoring
// what follows it (spaces, punctuation, emoji): the word a reader takes for
// the last one.
func lastWord(s string) string {
	isWord := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) }
	end := strings.LastIndexFunc(s, isWord)
	if end < 0 {
		return ""
	}
	_, size := utf8.DecodeRuneInString(s[end:])
	s = s[:end+size]
	return s[strings.LastIndexFunc(s, func(r rune) bool { return !isWord(r) })+1:]
}

// NormalizeText trims space around a message and checks the message rules:
// 1 to MaxTextLen characters, valid UTF-8, no control characters but tab and
// newline, at most MaxTextMarks combining marks on one character. It returns
// the trimmed text, or ErrTextEmpty, ErrTextTooLong, ErrTextInvalid or
// ErrTextMarks. Unlike a name, a text is not normalized: it is shown as
// written, and the page isolates its direction.
func NormalizeText(text string) (string, error) {
	text = strings.TrimSpace(text)
	switch {
	case text == "":
		return "", ErrTextEmpty
	case !utf8.ValidString(text) || strings.IndexFunc(text, forbiddenInText) >= 0:
		return "", ErrTextInvalid
	case utf8.RuneCountInString(text) > MaxTextLen:
		return "", ErrTextTooLong
	case maxMarkRun(text) > MaxTextMarks:
		return "", ErrTextMarks
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
