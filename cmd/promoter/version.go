package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/promoter-dev/promoter/internal/buildinfo"
)

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print promoter's version, commit, build date and Go version",
		Long: `version prints which promoter this is: the release version (or "devel" for a build from a
checkout), the commit it was built from, the commit's or release's date, the Go version and the
platform. -o json prints the same as one JSON object.`,
		Example: `  promoter version
  promoter version -o json`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			info := buildinfo.Read()
			if g.output == "json" {
				return writeJSON(g.stdout, info)
			}
			commit := info.Commit
			if commit == "" {
				commit = "unknown"
			} else if info.Modified {
				commit += " (modified)"
			}
			date := info.Date
			if date == "" {
				date = "unknown"
			}
			_, err := fmt.Fprintf(g.stdout, "promoter %s\n  commit:   %s\n  date:     %s\n  go:       %s\n  platform: %s\n",
				info.Version, commit, date, info.GoVersion, info.Platform)
			return err
		},
	}
}
