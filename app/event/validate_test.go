package event

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

func TestNormalizeNameAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"ascii", "Ann", "Ann"},
		{"trimmed", "  Ann  ", "Ann"},
		{"vietnamese", "Nguyễn Thị Minh Khai", "Nguyễn Thị Minh Khai"},
		{"vietnamese decomposed", norm.NFD.String("Nguyễn Thị Minh Khai"), "Nguyễn Thị Minh Khai"},
		{"devanagari", "देवनागरी", "देवनागरी"},
		{"hindi conjuncts", "श्रीमती स्त्री", "श्रीमती स्त्री"},
		{"decomposed é comes back composed", "Jose\u0301", "Jos\u00e9"},
		{"arabic", "عمر الخيام", "عمر الخيام"},
		{"hebrew", "דוד", "דוד"},
		{"chinese", "王小明", "王小明"},
		{"japanese", "さくら", "さくら"},
		{"korean", "김민준", "김민준"},
		{"thai", "น้ำฝน", "น้ำฝน"},
		{"emoji with a letter", "Ana 🌸", "Ana 🌸"},
		{"emoji with variation selector", "Bo ❤️", "Bo ❤️"},
		{"digits only", "42", "42"},
		{"four marks on one character", "x\u0301\u0302\u0303\u0304", "x\u0301\u0302\u0303\u0304"},
		{"five marks, one of them composed away", "a\u0301\u0302\u0303\u0304\u0308", "\u00e1\u0302\u0303\u0304\u0308"},
		{"you inside a longer name", "Young", "Young"},
		{"you as a word", "You Two", "You Two"},
		{"notice word not last", "Joined Forces Ltd", "Joined Forces Ltd"},
		{"notice word inside a word", "Disconnectedness", "Disconnectedness"},
		{"32 characters after composition", strings.Repeat("e\u0301", MaxNameLen), strings.Repeat("é", MaxNameLen)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := NormalizeName(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("NormalizeName(%+q) = %+q, %v; want %+q", tt.in, got, err, tt.want)
			}
			if !norm.NFC.IsNormalString(got) {
				t.Fatalf("NormalizeName(%+q) = %+q, not in NFC", tt.in, got)
			}
			if again, err := NormalizeName(got); err != nil || again != got {
				t.Fatalf("NormalizeName is not idempotent on %+q: %+q, %v", got, again, err)
			}
		})
	}
}

func TestNormalizeNameRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		err      error
	}{
		{"empty", "", ErrNameEmpty},
		{"blank", " \t\u3000 ", ErrNameEmpty},
		{"too long", strings.Repeat("a", MaxNameLen+1), ErrNameTooLong},
		{"too long after composition", strings.Repeat("é", MaxNameLen+1), ErrNameTooLong},
		{"control", "a\u0007b", ErrNameInvalid},
		{"newline", "a\nb", ErrNameInvalid},
		{"invalid UTF-8", "a\xffb", ErrNameInvalid},
		{"reserved", "You", ErrNameReserved},
		{"reserved in lower case", "you", ErrNameReserved},
		{"reserved in upper case", "YOU", ErrNameReserved},
		{"reserved in full width", "Ｙｏｕ", ErrNameReserved},
		{"reserved with spaces around", "  You ", ErrNameReserved},
		{"zero-width space", "\u200b", ErrNameFormat},
		{"zero-width space inside", "Ann\u200bBob", ErrNameFormat},
		{"zero-width joiner", "Ann\u200d", ErrNameFormat},
		{"soft hyphen", "\u00ad", ErrNameFormat},
		{"byte order mark", "\ufeffadmin", ErrNameFormat},
		{"right-to-left override", "\u202eecila", ErrNameFormat},
		{"right-to-left isolate", "\u2067ecila\u2069", ErrNameFormat},
		{"left-to-right mark", "ann\u200e", ErrNameFormat},
		{"word joiner", "a\u2060b", ErrNameFormat},
		{"tag character", "a\U000e0041", ErrNameFormat},
		{"hangul filler", "\u3164", ErrNameFiller},
		{"hangul filler after a letter", "a\u3164", ErrNameFiller},
		{"hangul choseong filler", "\u115f", ErrNameFiller},
		{"hangul jungseong filler", "\u1160", ErrNameFiller},
		{"halfwidth hangul filler", "\uffa0", ErrNameFiller},
		{"khmer inherent vowel", "a\u17b4", ErrNameFiller},
		{"blank braille", "\u2800", ErrNameFiller},
		{"line separator", "x\u2028y", ErrNameSeparator},
		{"paragraph separator", "x\u2029y", ErrNameSeparator},
		{"twenty combining accents", "a" + strings.Repeat("\u0301", 20), ErrNameMarks},
		{"five marks on one character", "x\u0301\u0302\u0303\u0304\u0308", ErrNameMarks},
		{"marks with no letter", "\u0301", ErrNameNoLetter},
		{"punctuation only", "...", ErrNameNoLetter},
		{"emoji only", "🌸🌸", ErrNameNoLetter},
		{"disconnected", "alice disconnected", ErrNameNotice},
		{"connected", "Bob connected", ErrNameNotice},
		{"joined", "Carol joined", ErrNameNotice},
		{"notice word alone", "Joined", ErrNameNotice},
		{"notice word in upper case", "ALICE DISCONNECTED", ErrNameNotice},
		{"notice word before punctuation", "alice disconnected!", ErrNameNotice},
		{"notice word before an emoji", "alice connected 🌸", ErrNameNotice},
		{"notice word after an underscore", "alice_disconnected", ErrNameNotice},
		{"notice word in full width", "alice ｊｏｉｎｅｄ", ErrNameNotice},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := NormalizeName(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("NormalizeName(%+q) = %+q, %v; want %v", tt.in, got, err, tt.err)
			}
			if got != "" {
				t.Fatalf("NormalizeName(%+q) refused, yet returned %+q", tt.in, got)
			}
			if code := CodeOf(err); code != CodeInvalidName {
				t.Fatalf("CodeOf(%v) = %s, want %s", err, code, CodeInvalidName)
			}
		})
	}
}

// TestNameErrorsAreDistinct proves that each name refusal says its own
// reason: the name form shows the error's text as it is.
func TestNameErrorsAreDistinct(t *testing.T) {
	t.Parallel()
	errs := []error{ErrNameEmpty, ErrNameTooLong, ErrNameInvalid, ErrNameFormat, ErrNameFiller,
		ErrNameSeparator, ErrNameMarks, ErrNameNoLetter, ErrNameReserved, ErrNameNotice}
	seen := map[string]bool{}
	for _, err := range errs {
		msg := err.Error()
		if seen[msg] || !strings.HasPrefix(msg, "name ") || len(msg) > 120 {
			t.Errorf("name error %q: repeated, not about the name, or too long for the form", msg)
		}
		seen[msg] = true
		if CodeOf(err) != CodeInvalidName {
			t.Errorf("CodeOf(%q) = %s, want %s", msg, CodeOf(err), CodeInvalidName)
		}
	}
}

func TestNormalizeText(t *testing.T) {
	t.Parallel()
	zalgo := func(marks int) string {
		var sb strings.Builder
		for _, r := range "zalgo" {
			sb.WriteRune(r)
			for i := range marks {
				sb.WriteRune(rune(0x0300 + i%0x70))
			}
		}
		return sb.String()
	}
	tests := []struct {
		name, in, want string
		err            error
	}{
		{"plain", "  hello\n", "hello", nil},
		{"multi-line with tab", "a\n\tb", "a\n\tb", nil},
		{"not normalized", "Jose\u0301", "Jose\u0301", nil},
		{"eight marks on each character", zalgo(MaxTextMarks), zalgo(MaxTextMarks), nil},
		{"right-to-left override is shown isolated", "\u202eolleh", "\u202eolleh", nil},
		{"vietnamese decomposed", norm.NFD.String("Tiếng Việt"), norm.NFD.String("Tiếng Việt"), nil},
		{"longest", strings.Repeat("🙂", MaxTextLen), strings.Repeat("🙂", MaxTextLen), nil},
		{"empty", " \n ", "", ErrTextEmpty},
		{"too long", strings.Repeat("x", MaxTextLen+1), "", ErrTextTooLong},
		{"control", "a\u0000b", "", ErrTextInvalid},
		{"carriage return", "a\r\nb", "", ErrTextInvalid},
		{"nine marks on one character", zalgo(MaxTextMarks + 1), "", ErrTextMarks},
		{"nine marks at the start", strings.Repeat("\u0301", MaxTextMarks+1) + "a", "", ErrTextMarks},
		{"zalgo", zalgo(40), "", ErrTextMarks},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := NormalizeText(tt.in)
			if !errors.Is(err, tt.err) || got != tt.want {
				t.Fatalf("NormalizeText(%.40q) = %.40q, %v; want %.40q, %v", tt.in, got, err, tt.want, tt.err)
			}
			if tt.err != nil && CodeOf(err) != CodeInvalidText {
				t.Fatalf("CodeOf(%v) = %s, want %s", err, CodeOf(err), CodeInvalidText)
			}
		})
	}
}

func TestMaxMarkRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int
	}{
		{"", 0},
		{"abc", 0},
		{"e\u0301", 1},
		{"e\u0301x\u0301\u0302", 2},
		{"\u0301\u0301\u0301", 3},
		{"क्षि", 1},                      // virama, then a vowel sign on the next consonant
		{"1\ufe0f\u20e3", 2},             // keycap: a variation selector and an enclosing mark
		{"a\u0903\u0301\u20dd\u0302", 4}, // Mc, Mn and Me count alike
	}
	for _, tt := range tests {
		if got := maxMarkRun(tt.in); got != tt.want {
			t.Errorf("maxMarkRun(%+q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestLastWord(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", ""},
		{"...", ""},
		{"alice", "alice"},
		{"alice disconnected", "disconnected"},
		{"alice disconnected!! 🌸", "disconnected"},
		{"a-b_c", "c"},
		{"José", "José"},
		{"देवनागरी", "देवनागरी"},
	}
	for _, tt := range tests {
		got := lastWord(tt.in)
		if got != tt.want || !utf8.ValidString(got) {
			t.Errorf("lastWord(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
