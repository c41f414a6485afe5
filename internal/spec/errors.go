package spec

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrInvalid is what every [ValidationError] unwraps to, for callers that
// only need to know the input was bad (exit code 1, no retry).
var ErrInvalid = errors.New("invalid canary spec")

// Problem is one thing wrong with a spec, located by file, line and field.
type Problem struct {
	File    string
	Line    int
	Field   string // a field path such as spec.steps[2].weight; may be empty
	Message string
}

func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": ")
	}
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// ValidationError lists every problem found, one per line, sorted by file
// and line.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	ps := e.sorted()
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

func (e *ValidationError) sorted() []Problem {
	ps := slices.Clone(e.Problems)
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Field, b.Field))
	})
	return ps
}

// Join merges the problems of several errors; errors that are not
// ValidationErrors are returned as they are, first.
func Join(errs ...error) error {
	var (
		ve    ValidationError
		other []error
	)
	for _, err := range errs {
		var v *ValidationError
		switch {
		case err == nil:
		case errors.As(err, &v):
			ve.Problems = append(ve.Problems, v.Problems...)
		default:
			other = append(other, err)
		}
	}
	if len(ve.Problems) > 0 {
		other = append(other, &ve)
	}
	return errors.Join(other...)
}
