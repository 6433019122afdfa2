#!/usr/bin/env bash
# Runs the hwtest suites inside the kernel-vm guest, one after the other in the same boot, and summarizes.
# Started by scripts/hwtest; arguments: suite names (gpio, gpio-v2, ble, doctor).
set -uo pipefail
cd "$(dirname "$0")/../.."
results=() worst=0
for s in "$@"; do
  start=$(cut -d' ' -f1 /proc/uptime)
  echo "===== suite $s"
  case "$s" in
    gpio)    scripts/vm/gpio-scenarios.sh;;
    gpio-v2) scripts/vm/gpio-v2.sh;;
    ble)     scripts/vm/ble-scenarios.sh;;
    doctor)  scripts/vm/doctor-scenarios.sh;;
    *)       echo "unknown suite $s"; false;;
  esac
  rc=$?
  end=$(cut -d' ' -f1 /proc/uptime)
  results+=("$s: $([ $rc = 0 ] && echo ok || echo "FAIL (exit $rc)") ($(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.1f", b-a}') s in the guest)")
  [ $rc != 0 ] && worst=1
done
echo "===== hwtest summary"
printf '  %s\n' "${results[@]}"
exit $worst
