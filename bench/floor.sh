#!/usr/bin/env bash
# The Git CLI floor of the scale benchmark: the same commits and pushes that
# one `promoter run` made, made by git itself, so that promoter's time can be
# compared with what Git costs anyway.
#
#   floor.sh clone  REMOTE BRANCH WORKDIR      clone the target branch
#   floor.sh commit WORKDIR BRANCH CHANGES     one commit and one push per change
#   floor.sh read   WORKDIR                    read every blob of HEAD's tree
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
read)
	# What any run has to do at least: read the whole tree of the target
	# branch from the object store, every blob's content.
	git -C "$2" ls-tree -r --object-only HEAD | git -C "$2" cat-file --batch >/dev/null
	;;
*)
	echo "usage: floor.sh clone REMOTE BRANCH WORKDIR | floor.sh commit WORKDIR BRANCH CHANGES | floor.sh read WORKDIR" >&2
	exit 2
	;;
esac
