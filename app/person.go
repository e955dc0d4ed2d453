package app

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"
)

// paletteSize is how many colours tell people apart: 12 hues stay distinct
// from each other and readable on both themes. Two people share a colour
// with a chance of 1 in 12; their hover titles, with the short id, differ
// still.
const paletteSize = 12

// shortIDLen is how much of a user id the hover title shows: 8 characters,
// 32 bits of a random UUID, tell apart the people of any room.
const shortIDLen = 8

// hueClass returns the colour class of a user, hue-0 to hue-11: a hash
// (FNV-1a) of the user id, so that everyone sees a person in the same
// colour on every page, in the message list and the presence list alike.
// It is a class, not a style attribute, so that the page needs no inline
// styles. An unknown user ("") has none.
func hueClass(user string) string {
	if user == "" {
		return ""
	}
	h := uint32(2166136261)
	for i := 0; i < len(user); i++ {
		h = (h ^ uint32(user[i])) * 16777619
	}
	return "hue-" + strconv.Itoa(int(h%paletteSize))
}

// initial returns the badge letter of a name: its first letter or digit,
// upper-cased, with the combining marks that follow it (so "ễ" stays
// whole); "" if it has none.
func initial(name string) string {
	i := strings.IndexFunc(name, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) })
	if i < 0 {
		return ""
	}
	r, size := utf8.DecodeRuneInString(name[i:])
	rest := name[i+size:]
	marks := strings.IndexFunc(rest, func(r rune) bool { return !unicode.IsMark(r) })
	if marks < 0 {
		marks = len(rest)
	}
	return string(unicode.ToUpper(r)) + rest[:marks]
}

// personTitle returns the hover title of a person's name: the full name
// and the first shortIDLen characters of the user id, "Ann (3f2b8c1e)", so
// that two people of the same name can be told apart. The name is isolated
// (U+2068 … U+2069) so that its direction cannot take the id along.
func personTitle(user, name string) string {
	if user == "" {
		return "\u2068" + name + "\u2069"
	}
	short := user
	if utf8.RuneCountInString(user) > shortIDLen {
		short = string([]rune(user)[:shortIDLen])
	}
	return "\u2068" + name + "\u2069 (" + short + ")"
}

// personRow gives a list item the colour and badge of the person it is
// about: their hue class, and data-initial, which CSS paints
// (attr(data-initial)) so that the item's text stays what it says.
func personRow(li goapp.HTMLLi, user, name string) goapp.HTMLLi {
	if hue := hueClass(user); hue != "" {
		li = li.Class(hue)
	}
	if ini := initial(name); ini != "" {
		li = li.DataSet("initial", ini)
	}
	return li
}

// personName is a person's name as every list shows it: in a <bdi>, so that
// its direction cannot reorder what follows, with the name and short id on
// hover.
func personName(user, name string) goapp.HTMLBdi {
	return goapp.Bdi().Class("name").Title(personTitle(user, name)).Text(name)
}
