package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestFrom(t *testing.T) {
	stamped := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/promoter-dev/promoter", Version: "(devel)"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-01-02T15:04:05Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	installed := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/promoter-dev/promoter", Version: "v0.3.0"},
	}
	tests := []struct {
		name                  string
		bi                    *debug.BuildInfo
		version, commit, date string
		want                  Info
		short                 string
	}{
		{
			name: "checkout build", bi: stamped,
			want:  Info{Version: "devel", Commit: "0123456789abcdef0123456789abcdef01234567", Date: "2026-01-02T15:04:05Z", Modified: true, GoVersion: "go1.26.8"},
			short: "devel (commit 0123456789ab-dirty, 2026-01-02T15:04:05Z, go1.26.8)",
		},
		{
			name: "go install", bi: installed,
			want:  Info{Version: "v0.3.0", GoVersion: "go1.26.8"},
			short: "v0.3.0 (go1.26.8)",
		},
		{
			name: "release overrides", bi: stamped, version: "v1.2.3", commit: "fedcba9876543210", date: "2026-02-03T04:05:06Z",
			want:  Info{Version: "v1.2.3", Commit: "fedcba9876543210", Date: "2026-02-03T04:05:06Z", GoVersion: "go1.26.8"},
			short: "v1.2.3 (commit fedcba987654, 2026-02-03T04:05:06Z, go1.26.8)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := from(tt.bi, tt.version, tt.commit, tt.date)
			tt.want.Platform = got.Platform
			if got != tt.want {
				t.Errorf("from = %+v\nwant   %+v", got, tt.want)
			}
			if s := got.Short(); s != tt.short {
				t.Errorf("Short = %q, want %q", s, tt.short)
			}
		})
	}
	if got := from(nil, "", "", ""); got.Version != "devel" || got.GoVersion == "" || got.Platform == "" {
		t.Errorf("without build info: %+v", got)
	}
}
