// Package buildinfo says which promoter this is: its version, the commit it
// was built from, when, and with which Go.
//
// The values come from the build information the Go toolchain records in
// every binary ([debug.ReadBuildInfo]: the module version, and the VCS
// revision and time when built from a checkout), overridden by linker flags
// when a release build sets them:
//
//	go build -ldflags "-X github.com/promoter-dev/promoter/internal/buildinfo.version=v1.2.3
//	  -X github.com/promoter-dev/promoter/internal/buildinfo.commit=$(git rev-parse HEAD)
//	  -X github.com/promoter-dev/promoter/internal/buildinfo.date=2026-01-02T15:04:05Z"
package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strconv"
)

// Set with -ldflags "-X ..." by release builds; empty otherwise.
var (
	version string
	commit  string
	date    string
)

// Info describes a build.
type Info struct {
	// Version is the release (v1.2.3), the module's pseudo-version when
	// installed with go install, or "devel".
	Version string `json:"version"`
	// Commit is the full revision built, "" when unknown.
	Commit string `json:"commit"`
	// Date is the commit time (or, for a release, the build time) in RFC
	// 3339, "" when unknown.
	Date string `json:"date"`
	// Modified is true when the checkout had uncommitted changes.
	Modified bool `json:"modified"`
	// GoVersion is the toolchain that built the binary (go1.26.8).
	GoVersion string `json:"goVersion"`
	// Platform is GOOS/GOARCH.
	Platform string `json:"platform"`
}

// Read returns the running binary's build information.
func Read() Info {
	bi, _ := debug.ReadBuildInfo()
	return from(bi, version, commit, date)
}

// from combines the toolchain's record with the linker overrides.
func from(bi *debug.BuildInfo, version, commit, date string) Info {
	info := Info{Version: "devel", GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi != nil {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			info.Version = v
		}
		if bi.GoVersion != "" {
			info.GoVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Commit = s.Value
			case "vcs.time":
				info.Date = s.Value
			case "vcs.modified":
				info.Modified, _ = strconv.ParseBool(s.Value)
			}
		}
	}
	if version != "" {
		info.Version = version
	}
	if commit != "" {
		info.Commit = commit
		// A release names its commit; whether some other checkout was
		// modified says nothing about it.
		info.Modified = false
	}
	if date != "" {
		info.Date = date
	}
	return info
}

// Short is the one-line form: "v1.2.3 (commit 0123456789ab, 2026-01-02T15:04:05Z, go1.26.8)".
func (i Info) Short() string {
	s := i.Version + " ("
	if i.Commit != "" {
		c := i.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		s += "commit " + c
		if i.Modified {
			s += "-dirty"
		}
		s += ", "
	}
	if i.Date != "" {
		s += i.Date + ", "
	}
	return s + i.GoVersion + ")"
}
