#!/usr/bin/env bash
# The Git CLI floor of the scale benchmark: the same commits and pushes that
# one `promoter run` made, made by git itself, so that promoter's time can be
# compared with what Git costs anyway.
#
#   floor.sh clone  REMOTE BRANCH WORKDIR      clone the target branch
#   floor.sh commit WORKDIR BRANCH CHANGES     one commit and one push per change
#
# CHANGES holds one directory per commit, in order (0001, 0002, …), each with
# `message` (the commit message), `paths` (every changed path, one a line),
# `deleted` (deleted paths) and `files/` (the new contents of the others).
set -euo pipefail

case "${1:-}" in
clone)
	git clone -q --no-tags --single-branch --branch "$3" "$2" "$4"
	;;
commit)
	work=$2 branch=$3 changes=$4
	cd "$work"
	for c in "$changes"/*/; do
		if [ -d "$c/files" ]; then
			cp -R "$c/files/." .
		fi
		if [ -s "$c/deleted" ]; then
			xargs -a "$c/deleted" -d '\n' rm -f --
		fi
		xargs -a "$c/paths" -d '\n' git add -A --
		git commit -q -F "$c/message"
		git push -q origin "HEAD:refs/heads/$branch"
	done
	;;
*)
	echo "usage: floor.sh clone REMOTE BRANCH WORKDIR | floor.sh commit WORKDIR BRANCH CHANGES" >&2
	exit 2
	;;
esac
