package promote

import (
	"fmt"
	"strings"
)

// NotFoundError is returned by a pass when canaries selected by name are
// not in the repository.
type NotFoundError struct {
	// Missing are the names given that no spec has.
	Missing []string
	// Known are the names of the canaries the repository has.
	Known []string
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("no canary named %s in the repository", strings.Join(e.Missing, ", "))
}
