package event

import (
	"errors"
	"fmt"
)

// Code identifies why the server refused a frame, in an Error event.
type Code string

// Error codes.
const (
	CodeBadFrame      Code = "bad_frame"      // not a JSON object with a string "type"
	CodeUnknownType   Code = "unknown_type"   // "type" names no client event
	CodeMissingField  Code = "missing_field"  // a required field is absent (a room, on a connection in several)
	CodeNotJoined     Code = "not_joined"     // a send, leave, typing or history before the join, or for a room not joined
	CodeAlreadyJoined Code = "already_joined" // a join for a room the connection is already in
	CodeTooManyRooms  Code = "too_many_rooms" // a join beyond MaxRoomsPerConn rooms on one connection
	CodeInvalidName   Code = "invalid_name"   // the name breaks the name rules
	CodeInvalidText   Code = "invalid_text"   // the text breaks the message rules
	CodeInvalidID     Code = "invalid_id"     // a send's id is too long or not visible ASCII
	CodeRateLimited   Code = "rate_limited"   // too many messages, joins or history requests: retry after Error.RetryAfter
	CodeInternal      Code = "internal"       // the server failed; the frame may be retried
	CodeJoinTimeout   Code = "join_timeout"   // no join within JoinTimeout: a StatusJoinTimeout close follows
)

// Errors returned by Decode and the validation functions. Each maps to a
// Code through CodeOf, and its text is fit to show to a person.
var (
	// ErrBadFrame: the frame is not a JSON object with a string "type", or
	// breaks the strict rules of client frames: invalid UTF-8, a lone
	// surrogate escape, a duplicate field, a field name in another case.
	ErrBadFrame = errors.New("frame is not a JSON event object")
	// ErrUnknownType: the "type" is not one this side accepts.
	ErrUnknownType = errors.New("unknown event type")
	// ErrMissingField: a required field is absent.
	ErrMissingField = errors.New("missing field")

	// ErrNotJoined: a Send, Leave, Typing or HistoryRequest arrived before
	// the connection's Join.
	ErrNotJoined = errors.New("join before sending")
	// ErrNotInRoom: a Send, Leave, Typing or HistoryRequest named a room the
	// connection is not in.
	ErrNotInRoom = errors.New("not joined to that room")
	// ErrAlreadyJoined: a Join named a room the connection is already in.
	ErrAlreadyJoined = errors.New("already joined")
	// ErrTooManyRooms: a Join would put the connection in more than
	// MaxRoomsPerConn rooms.
	ErrTooManyRooms = fmt.Errorf("too many rooms: one connection may be in %d at once; leave one first", MaxRoomsPerConn)
	// ErrRoomRequired: a Send, Leave, Typing or HistoryRequest named no
	// room on a connection that is in several, so that which one it meant
	// is unknown.
	ErrRoomRequired = fmt.Errorf("%w: \"room\" is required on a connection in several rooms", ErrMissingField)

	// ErrIDInvalid: a Send.ID is longer than MaxIDLen or not visible ASCII.
	ErrIDInvalid = fmt.Errorf("id is longer than %d bytes or not visible ASCII", MaxIDLen)

	// ErrTokenTooLong: a Join.Token is longer than MaxTokenLen.
	ErrTokenTooLong = fmt.Errorf("token is longer than %d bytes", MaxTokenLen)
	// ErrRoomInvalid: the room of a Join, Leave, Send, Typing or
	// HistoryRequest breaks the room rules.
	ErrRoomInvalid = fmt.Errorf("room must be 1 to %d letters, digits, '-' or '_'", MaxRoomLen)

	// ErrBeforeInvalid: a HistoryRequest.Before is 0, which no message is
	// below.
	ErrBeforeInvalid = errors.New("before must be a seq of 1 or more")
	// ErrLimitInvalid: a HistoryRequest.Limit is negative or above
	// MaxHistoryLimit.
	ErrLimitInvalid = fmt.Errorf("limit must be 0 to %d (0 means %d)", MaxHistoryLimit, MaxHistoryLimit)

	// ErrNameEmpty: the name is empty once trimmed.
	ErrNameEmpty = errors.New("name is empty")
	// ErrNameTooLong: the name has more than MaxNameLen characters.
	ErrNameTooLong = fmt.Errorf("name is longer than %d characters", MaxNameLen)
	// ErrNameInvalid: the name holds control characters or invalid UTF-8.
	ErrNameInvalid = errors.New("name contains control characters or invalid UTF-8")
	// ErrNameFormat: the name holds a format character (Unicode Cf), which
	// is invisible or reorders the text around it.
	ErrNameFormat = errors.New("name contains invisible formatting characters, such as a zero-width space or a direction override")
	// ErrNameFiller: the name holds a blank filler character, which counts
	// as a letter but paints nothing.
	ErrNameFiller = errors.New("name contains a blank filler character that shows as nothing")
	// ErrNameSeparator: the name holds U+2028 or U+2029, which break the
	// line like a newline.
	ErrNameSeparator = errors.New("name contains a line or paragraph separator")
	// ErrNameMarks: the name stacks more than MaxNameMarks combining marks
	// on one character.
	ErrNameMarks = fmt.Errorf("name has more than %d accents or other combining marks on one character", MaxNameMarks)
	// ErrNameNoLetter: the name has no letter or digit, only spaces,
	// punctuation, symbols or marks.
	ErrNameNoLetter = errors.New("name needs at least one letter or digit")
	// ErrNameReserved: the name is ReservedName, in some case.
	ErrNameReserved = fmt.Errorf("name %q is reserved: the page shows your own messages under it", ReservedName)
	// ErrNameNotice: the name ends with a word of the page's notices.
	ErrNameNotice = errors.New(`name cannot end with "connected", "disconnected" or "joined", which would read like a notice`)

	// ErrTextEmpty: the message is empty once trimmed.
	ErrTextEmpty = errors.New("message is empty")
	// ErrTextTooLong: the message has more than MaxTextLen characters.
	ErrTextTooLong = fmt.Errorf("message is longer than %d characters", MaxTextLen)
	// ErrTextInvalid: the message holds control characters other than tab
	// and newline, or invalid UTF-8.
	ErrTextInvalid = errors.New("message contains control characters or invalid UTF-8")
	// ErrTextMarks: the message stacks more than MaxTextMarks combining
	// marks on one character.
	ErrTextMarks = fmt.Errorf("message has more than %d accents or other combining marks on one character", MaxTextMarks)
)

// codes maps each sentinel error to the Code the server answers it with.
var codes = []struct {
	err  error
	code Code
}{
	{ErrBadFrame, CodeBadFrame},
	{ErrUnknownType, CodeUnknownType},
	{ErrMissingField, CodeMissingField},
	{ErrNotJoined, CodeNotJoined},
	{ErrNotInRoom, CodeNotJoined},
	{ErrAlreadyJoined, CodeAlreadyJoined},
	{ErrTooManyRooms, CodeTooManyRooms},
	{ErrIDInvalid, CodeInvalidID},
	{ErrTokenTooLong, CodeBadFrame},
	{ErrRoomInvalid, CodeBadFrame},
	{ErrBeforeInvalid, CodeBadFrame},
	{ErrLimitInvalid, CodeBadFrame},
	{ErrNameEmpty, CodeInvalidName},
	{ErrNameTooLong, CodeInvalidName},
	{ErrNameInvalid, CodeInvalidName},
	{ErrNameFormat, CodeInvalidName},
	{ErrNameFiller, CodeInvalidName},
	{ErrNameSeparator, CodeInvalidName},
	{ErrNameMarks, CodeInvalidName},
	{ErrNameNoLetter, CodeInvalidName},
	{ErrNameReserved, CodeInvalidName},
	{ErrNameNotice, CodeInvalidName},
	{ErrTextEmpty, CodeInvalidText},
	{ErrTextTooLong, CodeInvalidText},
	{ErrTextInvalid, CodeInvalidText},
	{ErrTextMarks, CodeInvalidText},
}

// CodeOf returns the Code for err, which may wrap one of this package's
// errors; any other error is CodeInternal.
func CodeOf(err error) Code {
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return CodeInternal
}
