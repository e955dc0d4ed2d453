package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// lighthouseTimeout bounds one Lighthouse run: 3 minutes, as the first one
// fetches Lighthouse itself (npx) and a run takes some 30 s on a slow
// machine.
const lighthouseTimeout = 3 * time.Minute

// lighthouseTries is how many times a Lighthouse run is tried: 2, as on a
// busy machine Lighthouse sometimes fails to record its trace
// (NO_NAVSTART) and asks to be run again.
const lighthouseTries = 2

// page is what one Lighthouse run measured of the page: its performance
// score (0 to 100), largest contentful paint and total blocking time, under
// Lighthouse's mobile defaults (a simulated mid-range phone on a slow 4G).
type page struct {
	Score float64
	LCP   time.Duration
	TBT   time.Duration
}

// lighthouseCommand is the command that runs the pinned Lighthouse.
func lighthouseCommand() []string {
	return []string{"npx", "--yes", "lighthouse@" + lighthouseVersion}
}

// chromePath is the browser Lighthouse drives: $CHROME_PATH, or the first
// Chromium or Chrome on the PATH.
func chromePath() (string, error) {
	if p := os.Getenv("CHROME_PATH"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no Chromium or Chrome on the PATH; set CHROME_PATH")
}

// runLighthouse runs Lighthouse, performance only and with its mobile
// defaults, on the page of the server whose WebSocket endpoint is wsURL.
func (s *suite) runLighthouse(ctx context.Context, wsURL string) (page, error) {
	chrome, err := chromePath()
	if err != nil {
		return page{}, err
	}
	dir, err := os.MkdirTemp("", "chat-lighthouse-")
	if err != nil {
		return page{}, fmt.Errorf("make Lighthouse's directory: %w", err)
	}
	defer os.RemoveAll(dir)
	report := filepath.Join(dir, "report.json")
	url := strings.TrimSuffix(strings.Replace(wsURL, "ws://", "http://", 1), "ws")
	ctx, cancel := context.WithTimeout(ctx, lighthouseTimeout)
	defer cancel()
	args := append(lighthouseCommand()[1:], url,
		"--output=json", "--output-path="+report, "--quiet", "--only-categories=performance",
		"--chrome-flags=--headless=new --no-sandbox")
	cmd := exec.CommandContext(ctx, lighthouseCommand()[0], args...)
	cmd.Env = append(os.Environ(), "CHROME_PATH="+chrome)
	if out, err := cmd.CombinedOutput(); err != nil {
		return page{}, fmt.Errorf("lighthouse: %w: %s", err, lastLines(string(out), 5))
	}
	b, err := os.ReadFile(report)
	if err != nil {
		return page{}, fmt.Errorf("lighthouse: read its report: %w", err)
	}
	return parseLighthouse(b)
}

// parseLighthouse reads a Lighthouse JSON report: the performance score and
// the audits largest-contentful-paint and total-blocking-time.
func parseLighthouse(b []byte) (page, error) {
	var lhr struct {
		Categories map[string]struct {
			Score *float64 `json:"score"`
		} `json:"categories"`
		Audits map[string]struct {
			NumericValue *float64 `json:"numericValue"`
		} `json:"audits"`
		RuntimeError *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"runtimeError"`
	}
	if err := json.Unmarshal(b, &lhr); err != nil {
		return page{}, fmt.Errorf("lighthouse: its report is not JSON: %w", err)
	}
	if e := lhr.RuntimeError; e != nil && e.Code != "" {
		return page{}, fmt.Errorf("lighthouse: %s: %s", e.Code, e.Message)
	}
	perf := lhr.Categories["performance"].Score
	if perf == nil {
		return page{}, errors.New("lighthouse: the report has no performance score")
	}
	ms := func(audit string) (time.Duration, error) {
		v := lhr.Audits[audit].NumericValue
		if v == nil || *v < 0 || math.IsNaN(*v) {
			return 0, fmt.Errorf("lighthouse: the report has no %s", audit)
		}
		return time.Duration(*v * float64(time.Millisecond)), nil
	}
	lcp, err := ms("largest-contentful-paint")
	if err != nil {
		return page{}, err
	}
	tbt, err := ms("total-blocking-time")
	if err != nil {
		return page{}, err
	}
	return page{Score: math.Round(*perf * 100), LCP: lcp, TBT: tbt}, nil
}

// lastLines is the last n lines of s, for an error.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}
