#!/usr/bin/env bash
# Run bpftrace's runtime test engine (set up by setup.sh) against a tracer.
# Usage: run.sh TRACER [SUITE...] [-- main.py args, e.g. --filter 'call.buf*']
# The engine wants a directory holding an executable named `bpftrace`; a script
# tracer (pybpftrace) is wrapped with `exec -a bpftrace` so `pidof bpftrace`
# finds it.  Each run gets its own directory, so runs do not race.
set -u
cd "$(dirname "$0")"
tracer=$(readlink -f "$1"); shift
bindir=$(mktemp -d)
if head -c2 "$tracer" | grep -q '#!'; then
  interp=$(head -n1 "$tracer" | sed 's/^#! *//')
  printf '#!/bin/bash\nexec -a bpftrace %s %q "$@"\n' "$interp" "$tracer" > "$bindir/bpftrace"
  chmod +x "$bindir/bpftrace"
else
  ln -s "$tracer" "$bindir/bpftrace"
fi
export BPFTRACE_RUNTIME_TEST_EXECUTABLE=$bindir
suites=(); extra=()
while [ $# -gt 0 ]; do
  if [ "$1" = "--" ]; then shift; extra=("$@"); break; fi
  suites+=("$1"); shift
done
rc=0
if [ ${#extra[@]} -gt 0 ]; then
  python3 runtime/engine/main.py "${extra[@]}" || rc=1
else
  [ ${#suites[@]} -eq 0 ] && suites=('*')
  for s in "${suites[@]}"; do python3 runtime/engine/main.py --filter "$s.*" || rc=1; done
fi
rm -rf "$bindir"
exit $rc
