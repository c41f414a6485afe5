package bounded

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReaderFailsPastTheLimit(t *testing.T) {
	errOver := errors.New("over")
	read := func(s string, limit int64) (string, error) {
		b, err := io.ReadAll(&Reader{R: strings.NewReader(s), Left: limit, Over: func() error { return errOver }})
		return string(b), err
	}
	if got, err := read("12345", 5); err != nil || got != "12345" {
		t.Errorf("exactly the limit: %q, %v", got, err)
	}
	if got, err := read("123", 5); err != nil || got != "123" {
		t.Errorf("under the limit: %q, %v", got, err)
	}
	if _, err := read("123456", 5); !errors.Is(err, errOver) {
		t.Errorf("over the limit: %v, want the Over error", err)
	}
}
