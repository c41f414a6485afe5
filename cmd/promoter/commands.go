package main

import "github.com/spf13/cobra"

// commands lists the subcommands; each lives in its own file.
func commands(g *globals) []*cobra.Command {
	return []*cobra.Command{
		newInitCmd(g),
		newValidateCmd(g),
		newRenderCmd(g),
		newStartCmd(g),
		newRollbackCmd(g),
		newRunCmd(g),
		newPlanCmd(g),
		newWatchCmd(g),
		newStatusCmd(g),
		newPromoteCmd(g),
		newDemoCmd(g),
		newGatesCmd(g),
		newVersionCmd(g),
	}
}
