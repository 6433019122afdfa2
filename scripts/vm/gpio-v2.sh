#!/usr/bin/env bash
# In the kernel-vm guest: the libgpiod v2 build against a real GPIO character device (gpio-sim).
#  1. warden-gpio from .build-gpiod-v2 (scripts/check-libgpiod-v2) reports API v2 and opens the gpio-sim chip by
#     label, by name and by /dev path, with the right line count.
#  2. If a v2-linked wardend exists (.build-gpiod-v2/swift/debug/wardend), the door scenarios of gpio-scenarios.sh
#     run with it (wardenctl from the default build: it only talks to the control socket).
# Ends with "hwtest gpio-v2: N passed, M failed". Without the v2 build it fails (scripts/hwtest leaves gpio-v2 out,
# saying so, unless it is asked for by name, as make test does).
set -uo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
prefix=${HWTEST_V2_PREFIX:-$repo/.build-gpiod-v2/prefix}
v2bin=$repo/.build-gpiod-v2/swift/debug
. scripts/vm/lib.sh   # ok/fail, vm_finish, the gpio-sim chip
[ "${KERNEL_VM:-}" = 1 ] || { echo "run me in the VM: scripts/hwtest gpio-v2"; exit 2; }
vm_init gpio-v2

[ -x "$v2bin/warden-gpio" ] && [ -f "$prefix/lib/libgpiod.so" ] ||
  { fail "no libgpiod v2 build ($v2bin/warden-gpio, $prefix/lib/libgpiod.so): run scripts/check-libgpiod-v2"; vm_finish; }

sim_up warden-v2probe || { fail "cannot create a gpio-sim chip"; vm_finish; }
name=$(cat "$C/bank0/chip_name")
probe() { LD_LIBRARY_PATH="$prefix/lib" "$v2bin/warden-gpio" "$@" 2>&1; }

ver=$(probe version)
case "$ver" in *"API v2"*) ok "v2 build: $ver";; *) fail "v2 build does not report API v2: $ver";; esac
for c in warden-sim "$name" "/dev/$name"; do
  out=$(probe probe "$c"); rc=$?
  case "$rc:$out" in
    0:*"[warden-sim] 8 lines"*"API v2"*) ok "warden-gpio (v2) probe $c: $out";;
    *) fail "warden-gpio (v2) probe $c: exit $rc: $out";;
  esac
done
out=$(probe probe warden-missing-chip); rc=$?
case "$rc:$out" in 1:*"no such GPIO chip"*) ok "warden-gpio (v2) probe of a missing chip fails clearly: $out";;
  *) fail "warden-gpio (v2) probe of a missing chip: exit $rc: $out";; esac
sim_down

if [ -x "$v2bin/wardend" ]; then
  echo "-- door scenarios with the libgpiod v2 wardend ($v2bin/wardend)"
  w=$(mktemp /tmp/wardend-v2.XXXXXX)
  printf '#!/bin/sh\nLD_LIBRARY_PATH=%s exec %s "$@"\n' "$prefix/lib" "$v2bin/wardend" > "$w"; chmod +x "$w"
  # ldd's output is captured first: `ldd | grep -q` under pipefail fails at random when grep exits on the first
  # match and ldd, still writing, dies of SIGPIPE (the CI run of e98a51a hit it).
  libs=$(LD_LIBRARY_PATH="$prefix/lib" ldd "$v2bin/wardend" 2>&1)
  case "$libs" in
    *"$prefix/lib/libgpiod.so"*) ok "v2 wardend links $prefix/lib/libgpiod.so.3";;
    *) fail "v2 wardend does not resolve libgpiod from $prefix"; echo "$libs" | sed 's/^/     ldd| /';;
  esac
  # The hardware-facing subset (lines taken, pulse, relock on close, SIGTERM); the rest is API-independent logic.
  HWTEST_ONLY="${HWTEST_V2_ONLY:-a b c f}" WARDEND=$w scripts/vm/gpio-scenarios.sh > /tmp/gpio-v2-scenarios.log 2>&1; rc=$?
  sed 's/^/  v2| /' /tmp/gpio-v2-scenarios.log
  summary=$(grep '^hwtest gpio:' /tmp/gpio-v2-scenarios.log)
  [ $rc = 0 ] && ok "door scenarios with the v2 wardend: ${summary#hwtest gpio: }" || fail "door scenarios with the v2 wardend: ${summary:-no summary} (exit $rc)"
else
  echo "     (no v2-linked wardend in $v2bin: the door scenarios ran with the v1 build only; build one with"
  echo "      PKG_CONFIG_PATH=$prefix/lib/pkgconfig swift build --scratch-path .build-gpiod-v2/swift --product wardend)"
fi
vm_finish
