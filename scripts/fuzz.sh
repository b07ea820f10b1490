#!/usr/bin/env bash
# scripts/fuzz.sh — run every Go fuzz target of the module, one after
# another, each for FUZZTIME (default 30s). `make fuzz` and `make fuzz-short`
# (FUZZTIME=10000x, run by CI) call it.
#
# FUZZTIME is go test's -fuzztime: a duration (30s) or a count of inputs
# (10000x). CI uses a count: with a duration, Go 1.26's coordinator can report
# a bare "context deadline exceeded" failure, with no failing input, when the
# deadline passes while a worker is busy (golang/go#75804, fixed in Go 1.27);
# on a loaded 2-core machine that failed CI on FuzzDecodeFlow. A count has no
# deadline to race. A duration run that fails that way, with no "Failing input
# written" line, is that race, not a finding.
#
# FUZZMINIMIZETIME (go test's -fuzzminimizetime, default 60s) bounds the
# minimizing of each new input: with a count of inputs nothing else cuts it,
# and a target whose inputs each take long (a condition the sandbox stops
# after half a second) spent a minute minimizing one. fuzz-short sets 100x.
#
# Targets are found with `go test -list '^Fuzz' ./...`; each runs as
#   go test -run '^$' -fuzz '^NAME$' -fuzztime FUZZTIME ./pkg
# A failing target does not stop the others; the exit status is 1 if any
# failed (go test saves the failing input under the package's testdata/fuzz/).
# DATABASE_URL is passed on when set (make sets it); otherwise the private
# cluster is started (scripts/pg.sh url) before the listing, which runs each
# test binary's TestMain.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

FUZZTIME="${FUZZTIME:-30s}"
FUZZMINIMIZETIME="${FUZZMINIMIZETIME:-60s}"
GO="${GO:-go}"

if [[ -z ${DATABASE_URL:-} ]]; then
	DATABASE_URL="$(scripts/pg.sh url)"
fi
export DATABASE_URL

module="$("$GO" list -m)"
listing="$("$GO" test -list '^Fuzz' ./...)" || {
	printf '%s\n' "$listing" >&2
	echo "fuzz: listing the fuzz targets failed" >&2
	exit 1
}

# The listing prints each package's names, then "ok <pkg> <time>".
targets=()
names=()
while IFS= read -r line; do
	if [[ $line =~ ^Fuzz[A-Za-z0-9_]*$ ]]; then
		names+=("$line")
	elif [[ $line =~ ^ok[[:space:]]+([^[:space:]]+) ]]; then
		pkg="${BASH_REMATCH[1]}"
		if [[ $pkg == "$module" ]]; then
			dir=.
		else
			dir="./${pkg#"$module"/}"
		fi
		for n in "${names[@]+"${names[@]}"}"; do
			targets+=("$dir $n")
		done
		names=()
	elif [[ $line =~ ^\? ]]; then
		names=()
	fi
done <<<"$listing"

if ((${#targets[@]} == 0)); then
	echo "fuzz: no fuzz targets in $module"
	exit 0
fi

echo "fuzz: ${#targets[@]} target(s), ${FUZZTIME} each"
failed=()
for t in "${targets[@]}"; do
	dir="${t%% *}"
	name="${t#* }"
	echo "=== fuzz $dir $name ($FUZZTIME)"
	if ! "$GO" test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "$FUZZMINIMIZETIME" "$dir"; then
		failed+=("$dir $name")
	fi
done

if ((${#failed[@]} > 0)); then
	echo "fuzz: ${#failed[@]} of ${#targets[@]} target(s) FAILED:" >&2
	printf '  %s\n' "${failed[@]}" >&2
	exit 1
fi
echo "fuzz: all ${#targets[@]} target(s) passed"
