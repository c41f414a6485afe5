//go:build !linux

package lockdown

import (
	"fmt"
	"runtime"
)

func forbidExec() error {
	return fmt.Errorf("no seccomp on %s", runtime.GOOS)
}
