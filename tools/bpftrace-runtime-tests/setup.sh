#!/usr/bin/env bash
# Set up bpftrace's own runtime tests to run against a tracer (pybpftrace).
# Usage: setup.sh BPFTRACE_SOURCE_DIR WORK_DIR
#   BPFTRACE_SOURCE_DIR: an unpacked bpftrace source tree (e.g. 0.17.0, from
#   `apt-get source bpftrace`); WORK_DIR: where to put the tests and the
#   test programs they run (built with gcc here).  Then use run.sh.
set -euo pipefail
src=$(readlink -f "$1"); work=$2
mkdir -p "$work/testprogs" "$work/testlibs"
work=$(readlink -f "$work")
cp -r "$src/tests/runtime" "$work/"
echo 'LIBBCC_BPF_CONTAINS_RUNTIME = bool(False)' > "$work/runtime/engine/cmake_vars.py"
# USDT test programs need <sys/sdt.h> (systemtap-sdt-dev); without it they
# build with no markers and the usdt suite cannot pass.
for c in "$src"/tests/testprogs/*.c; do
  gcc -g -O0 -no-pie -fno-omit-frame-pointer -pthread -o "$work/testprogs/$(basename "$c" .c)" "$c" \
      -I"$src/tests/testprogs" 2>/dev/null || echo "skipped $(basename "$c")" >&2
done
for c in "$src"/tests/testlibs/*.c; do
  out="$work/testlibs/lib$(basename "$c" .c).so"
  gcc -g -O0 -fPIC -shared -o "$out" "$c" && chmod -x "$out"
done
cp "$(dirname "$0")/run.sh" "$work/"
echo "ready: $work/run.sh TRACER [SUITE...]"
