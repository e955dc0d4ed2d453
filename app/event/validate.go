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
	// twice a name's, room for the stacked diacritics of transcriptions.
	// A run of 8 still paints past its line, and the page clips it at the
	// edge of its row; a run of dozens would cover the row's own text.
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
//   - not empty (ErrNameEmpty);
//   - valid UTF-8 and no control characters (ErrNameInvalid);
//   - no line or paragraph separator, U+2028 or U+2029 (ErrNameSeparator);
//   - no format characters, Unicode category Cf: zero-width spaces and
//     joiners, soft hyphens, byte order marks, direction overrides
//     (ErrNameFormat);
//   - no blank fillers that letters-only checks let through: the Hangul
//     fillers U+115F, U+1160, U+3164 and U+FFA0, the Khmer inherent vowels
//     U+17B4 and U+17B5, the blank braille pattern U+2800 (ErrNameFiller);
//   - at most MaxNameLen characters, counted after normalization
//     (ErrNameTooLong);
//   - at most MaxNameMarks combining marks on one character (ErrNameMarks);
//   - at least one letter or digit (ErrNameNoLetter);
//   - not ReservedName in any case or width (ErrNameReserved);
//   - not ending with a notice word, in any case or width (ErrNameNotice).
//
// The rules are checked in this order; it returns the normalized name or
// the error of the first rule it breaks.
func NormalizeName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", ErrNameEmpty
	}
	if !utf8.ValidString(name) {
		return "", ErrNameInvalid
	}
	name = strings.TrimSpace(norm.NFC.String(name))
	switch {
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return "", ErrNameInvalid
	case strings.ContainsAny(name, "\u2028\u2029"):
		return "", ErrNameSeparator
	case strings.IndexFunc(name, isFormat) >= 0:
		return "", ErrNameFormat
	case strings.IndexFunc(name, isFiller) >= 0:
		return "", ErrNameFiller
	case utf8.RuneCountInString(name) > MaxNameLen:
		return "", ErrNameTooLong
	case maxMarkRun(name) > MaxNameMarks:
		return "", ErrNameMarks
	case strings.IndexFunc(name, isLetterOrDigit) < 0:
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

// isFormat reports format characters (Unicode Cf): invisible, and some of
// them (the direction overrides) reorder the text around them.
func isFormat(r rune) bool { return unicode.Is(unicode.Cf, r) }

// isLetterOrDigit reports letters (L) and decimal digits (Nd).
func isLetterOrDigit(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

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
	isWord := func(r rune) bool { return isLetterOrDigit(r) || unicode.IsMark(r) }
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
