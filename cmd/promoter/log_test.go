package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The log handlers redact every string, error and Stringer that may carry a
// URL, and leave times and durations typed: the JSON log's time is RFC 3339.
func TestLogRedactsAndKeepsTimesTyped(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: redactAttr}))
	u, err := url.Parse("https://user:s3cret@example.com/repo.git")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("clone", "url", u, "raw", "https://user:s3cret@example.com/x", "err", errors.New("fetch https://user:s3cret@example.com/x: refused"), "took", 1500*time.Millisecond)
	line := buf.String()
	if strings.Contains(line, "s3cret") {
		t.Fatalf("the password reached the log: %s", line)
	}
	var rec struct {
		Time string  `json:"time"`
		Took float64 `json:"took"`
	}
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("%v in %s", err, line)
	}
	if _, err := time.Parse(time.RFC3339Nano, rec.Time); err != nil {
		t.Errorf("time %q is not RFC 3339: %v", rec.Time, err)
	}
	if rec.Took != float64(1500*time.Millisecond) {
		t.Errorf("took = %v, want the duration in nanoseconds", rec.Took)
	}
}
