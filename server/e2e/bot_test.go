package e2e

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	chatclient "github.com/chatwasm/chat/app/client"
	"github.com/chatwasm/chat/app/event"
	"github.com/chatwasm/chat/server"
	"github.com/chatwasm/chat/server/servertest"
)

// echoBot is a Go program in the chat, written with package client as any
// bot would be: a Session that joins under a name, says what it is told to,
// and answers each message someone else sends with "echo: <text>". It
// answers only messages newer than its first join, not the history it is
// given on arrival.
type echoBot struct {
	sess *chatclient.Session

	mu    sync.Mutex
	user  string   // the bot's own id, from its first Joined; empty before
	since uint64   // the room's last seq at that join: older is history
	own   []string // the texts of its own messages the room sent back
	err   error    // why Send refused an answer, the first time it did
}

// startEchoBot joins the server at url (ws://host/ws) as "bot" and waits
// for its Joined. It leaves when the test ends.
func startEchoBot(t *testing.T, url string) *echoBot {
	t.Helper()
	b := new(echoBot)
	sess, err := chatclient.NewSession(chatclient.SessionConfig{URL: url, OnUpdate: b.on})
	if err != nil {
		t.Fatal(err)
	}
	b.sess = sess
	if err := sess.Join("bot"); err != nil {
		t.Fatal(err)
	}
	runUntilEnd(t, sess)
	servertest.CheckFor(t, actionTimeout, 10*time.Millisecond, func() error {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.user == "" {
			return errors.New("the bot has not joined")
		}
		return nil
	})
	return b
}

// on is the bot's SessionConfig.OnUpdate. The Session calls it from Run's
// goroutine; Send may be called from there.
func (b *echoBot) on(u chatclient.Update) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range u.Events {
		switch e := e.(type) {
		case event.Joined:
			if b.user == "" {
				b.user, b.since = e.User, e.Seq
			}
		case event.Message:
			switch {
			case e.User == b.user:
				b.own = append(b.own, e.Text)
			case e.Seq > b.since:
				if _, err := b.sess.Send("echo: " + e.Text); err != nil && b.err == nil {
					b.err = fmt.Errorf("answer %q: %w", e.Text, err)
				}
			}
		}
	}
}

// waitOwn waits until the room sent the bot's own message text back, and
// fails the test at once if the bot could not answer a message.
func (b *echoBot) waitOwn(t *testing.T, text string) {
	t.Helper()
	servertest.CheckFor(t, actionTimeout, 10*time.Millisecond, func() error {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.err != nil {
			t.Fatal(b.err)
		}
		if !slices.Contains(b.own, text) {
			return fmt.Errorf("the bot has not seen its %q come back: %q", text, b.own)
		}
		return nil
	})
}

// TestBot: a bot built with package client joins a real server, sends a
// message and receives it back as the room's; then it answers another
// client's message once, and never its own.
func TestBot(t *testing.T) {
	_, ts := startServerConfig(t, server.Config{Version: "bot"})
	bot := startEchoBot(t, servertest.SocketURL(ts.URL))

	if _, err := bot.sess.Send("Hello, I echo what you say."); err != nil {
		t.Fatal(err)
	}
	bot.waitOwn(t, "Hello, I echo what you say.")

	ann := joinProbe(t, ts.URL, "Ann")
	if _, err := ann.Send("ping"); err != nil {
		t.Fatal(err)
	}
	ann.waitLine(t, "bot: echo: ping")
	bot.waitOwn(t, "echo: ping")

	// Ann sends once more: whatever the bot would still send about the
	// first round arrives before the answer to this one.
	if _, err := ann.Send("pong"); err != nil {
		t.Fatal(err)
	}
	ann.waitLine(t, "bot: echo: pong")
	bot.waitOwn(t, "echo: pong")
	want := []string{"bot: Hello, I echo what you say.", "Ann: ping", "bot: echo: ping", "Ann: pong", "bot: echo: pong"}
	if got := ann.lines(); !slices.Equal(got, want) {
		t.Errorf("Ann received %q, want %q", got, want)
	}
}
