package client_test

import (
	"context"
	"log"
	"os"
	"os/signal"

	"github.com/chatwasm/chat/app/client"
	"github.com/chatwasm/chat/app/event"
)

// A bot: it joins as "bot", says hello, and answers every newer message from
// someone else with an echo, until interrupted. It needs a running server,
// so it is compiled here but not run.
func Example_bot() {
	var sess *client.Session
	var me string    // the bot's id, from its first Joined
	var since uint64 // the room's last seq then: older messages are history
	sess, err := client.NewSession(client.SessionConfig{
		URL: "ws://localhost:3000/ws",
		// Run calls OnUpdate from its goroutine, one call at a time.
		OnUpdate: func(u client.Update) {
			for _, e := range u.Events {
				switch e := e.(type) {
				case event.Joined:
					if me == "" {
						me, since = e.User, e.Seq
					}
				case event.Message:
					if e.User != me && e.Seq > since {
						_, _ = sess.Send("echo: " + e.Text)
					}
				}
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := sess.Join("bot"); err != nil {
		log.Fatal(err)
	}
	if _, err := sess.Send("Hello, I echo what you say."); err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	_ = sess.Run(ctx) // reconnects by itself until ctx ends
}
