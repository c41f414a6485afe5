//go:build linux

package lockdown

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	seccomp "github.com/elastic/go-seccomp-bpf"
)

func forbidExec() error {
	filter := seccomp.Filter{
		NoNewPrivs: true,
		Flag:       seccomp.FilterFlagTSync,
		Policy: seccomp.Policy{
			DefaultAction: seccomp.ActionAllow,
			Syscalls: []seccomp.SyscallGroup{{
				Action: seccomp.ActionErrno, // EPERM
				Names:  []string{"execve", "execveat"},
			}},
		},
	}
	// no_new_privs and the filter are set by two system calls that must
	// come from the same thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := seccomp.LoadFilter(filter); err != nil {
		return err
	}
	return everyThreadFiltered()
}

// everyThreadFiltered checks that the filter reached every thread: a
// synchronisation that fails returns the failing thread's id, which the
// library does not report as an error.
func everyThreadFiltered() error {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil // no /proc to check against; the system call succeeded
	}
	for _, t := range tasks {
		status, err := os.ReadFile(filepath.Join("/proc/self/task", t.Name(), "status"))
		if err != nil {
			continue // the thread ended
		}
		for line := range bytes.Lines(status) {
			if v, ok := bytes.CutPrefix(line, []byte("Seccomp:")); ok && string(bytes.TrimSpace(v)) != "2" {
				return fmt.Errorf("thread %s has no seccomp filter", t.Name())
			}
		}
	}
	return nil
}
