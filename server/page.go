package server

import (
	"net/http"
	"strconv"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"
)

// Product colours, shared by the manifest and the stylesheet (web/app.css).
const (
	themeColor      = "#4f46e5" // indigo: the brand colour, the browser's title bar
	backgroundColor = "#f5f6fa" // the page background while the app starts
)

// pageHandler returns go-app's handler for the page, the service worker, the
// manifest and the web/ files, configured as an installable PWA whose every
// resource is local.
func (s *Server) pageHandler() (http.Handler, error) {
	size, err := wasmSize(s.cfg.Assets)
	if err != nil {
		return nil, err
	}
	s.version = s.cfg.Version
	if s.version == "" {
		if s.version, err = contentVersion(s.cfg.Assets); err != nil {
			return nil, err
		}
	}
	return &goapp.Handler{
		Name:            "Chat",
		ShortName:       "Chat",
		Title:           "Chat",
		Description:     "Real-time chat: pick a name and talk with everyone in the room.",
		Lang:            "en",
		BackgroundColor: backgroundColor,
		ThemeColor:      themeColor,
		LoadingLabel:    "Loading {progress}%",
		Icon: goapp.Icon{
			Default:  "/web/icon-192.png",
			Large:    "/web/icon-512.png",
			Maskable: "/web/icon-maskable-512.png",
			SVG:      "/web/icon.svg",
		},
		Styles:            []string{"/web/app.css"},
		RawHeaders:        []string{`<meta name="color-scheme" content="light dark">`},
		Resources:         assets{fs: s.cfg.Assets},
		Version:           s.version,
		WasmContentLength: strconv.FormatInt(size, 10),
	}, nil
}
