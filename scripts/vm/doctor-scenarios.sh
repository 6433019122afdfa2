#!/usr/bin/env bash
# `wardenctl doctor` on a real kernel: runs INSIDE the kernel-vm guest (scripts/hwtest doctor), with a gpio-sim
# chip wired as boards/gpio-sim.yaml and one virtual LE controller from btvirt. Checks that the doctor
#   (a) passes every hardware check with wardend stopped (it drives the relay itself; the simulator side shows the
#       pulse) and exits 0;
#   (b) passes through the running wardend (which holds the lines) and exits 0;
#   (c) names the gpio check, with exit 1, when the profile's relay line does not exist on the chip;
#   (d) names the bluetooth check, with exit 1, when the adapter is gone.
# Ends with exactly "hwtest doctor: N passed, M failed"; exit 1 if any failed.
set -uo pipefail
repo=${KERNEL_VM_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${WARDEN_BIN:-$repo/.build/debug}
ctl=$bin/wardenctl
RELAY=6 LOCKED=1 UNLOCKED=0

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[ "${KERNEL_VM:-}" = 1 ] || { echo "run me in the VM: scripts/hwtest doctor"; exit 2; }
vm_init doctor

btvirt_pid="" wardend_pid="" monitor_pid=""
cleanup() {
  [ -n "$wardend_pid" ] && kill -TERM "$wardend_pid" 2>/dev/null && wait "$wardend_pid" 2>/dev/null
  [ -n "$monitor_pid" ] && kill "$monitor_pid" 2>/dev/null
  [ -n "$btvirt_pid" ] && kill "$btvirt_pid" 2>/dev/null
  sim_down
}
trap cleanup EXIT

echo "== hwtest doctor: $(uname -r), binaries $bin"
sim_up warden-doctor || { fail "cannot create the gpio-sim chip through configfs"; vm_finish; }
btvirt -L -l1 > "$t/btvirt.log" 2>&1 & btvirt_pid=$!
for i in $(seq 100); do [ -e /sys/class/bluetooth/hci0 ] && break; nap 0.1; done
why="btvirt: $(tr '\n' ' ' < "$t/btvirt.log" | cut -c1-200)"
check "btvirt made a virtual LE controller hci0" [ -e /sys/class/bluetooth/hci0 ]
setup_keys || { fail "key setup failed"; vm_finish; }
write_config() {  # write_config FILE BOARD BLE
  cat > "$1" <<YAML
door: { id: hw-door, lock_id: lock-hwtest }
identity: { device_key: $t/device.pem, lock_certificate: $t/lock.cert }
presentation: { unix: $t/present.sock, ble: $3 }
board: $2
site: { time_zone: UTC }
authority_keys: { hw-2026: $t/authority.pem.pub }
state_dir: $t/state
control_socket: $t/control.sock
YAML
}
write_config "$t/warden.yaml" "$repo/boards/gpio-sim.yaml" true
doctor() { "$ctl" doctor --config "$1" > "$t/doctor.out" 2>&1; echo $? > "$t/doctor.rc"; }
rc() { cat "$t/doctor.rc"; }
line() { grep -E "^$1 +$2 " "$t/doctor.out" >/dev/null; }
show() { sed 's/^/       | /' "$t/doctor.out"; }

# (a) wardend stopped: the doctor requests the lines itself and pulses the relay; the simulator side sees it.
# A released line takes its pull: pull-up stands for the HAT's resistor that keeps an unheld relay locked.
pull $RELAY up
monitor_start
doctor "$t/warden.yaml"; show
why="exit $(rc)"
check "(a) doctor exits 0 on the gpio-sim board with its LE controller" [ "$(rc)" = 0 ]
for c in gpio relay inputs bluetooth; do check "(a) PASS $c" line PASS "$c"; done
why="relay monitor: $(tr '\n' ' ' < "$t/relay-monitor.log" | cut -c1-300)"
check "(a) the simulator saw the relay line driven unlocked ($UNLOCKED) and back to locked ($LOCKED)" \
  eval "grep -q -- '$LOCKED -> $UNLOCKED' '$t/relay-monitor.log' && grep -q -- '$UNLOCKED -> $LOCKED' '$t/relay-monitor.log'"
check "(a) the relay is locked after the doctor" [ "$(val $RELAY)" = "$LOCKED" ]

# (b) wardend running holds the lines: the doctor goes through its control socket.
"$bin/wardend" --config "$t/warden.yaml" 2> "$t/wardend.log" & wardend_pid=$!
for i in $(seq 300); do [ -S "$t/control.sock" ] && "$ctl" status --socket "$t/control.sock" >/dev/null 2>&1 && break; nap 0.1; done
doctor "$t/warden.yaml"; show
why="exit $(rc); wardend log: $(tail -3 "$t/wardend.log" | tr '\n' ' ')"
check "(b) doctor exits 0 with wardend running" [ "$(rc)" = 0 ]
check "(b) PASS relay through wardend" eval "grep -qE '^PASS +relay +pulsed 1 s through wardend' '$t/doctor.out'"
check "(b) PASS store (wardend's database)" line PASS store
kill -TERM "$wardend_pid"; wait "$wardend_pid" 2>/dev/null; wardend_pid=""

# (c) a relay line the chip does not have.
sed 's/^  line: 6$/  line: 12/' "$repo/boards/gpio-sim.yaml" > "$t/missing-line.yaml"
write_config "$t/missing.yaml" "$t/missing-line.yaml" true
doctor "$t/missing.yaml"; show
why="exit $(rc)"
check "(c) doctor exits 1 when the relay line is missing" [ "$(rc)" = 1 ]
check "(c) FAIL gpio names line 12" eval "grep -qE '^FAIL +gpio .*12' '$t/doctor.out'"
check "(c) the summary names gpio" eval "grep -q 'doctor: FAILED: gpio' '$t/doctor.out'"

# (d) the adapter is gone.
kill "$btvirt_pid"; wait "$btvirt_pid" 2>/dev/null; btvirt_pid=""
for i in $(seq 50); do [ -e /sys/class/bluetooth/hci0 ] || break; nap 0.1; done
doctor "$t/warden.yaml"; show
why="exit $(rc)"
check "(d) doctor exits 1 without the adapter" [ "$(rc)" = 1 ]
check "(d) FAIL bluetooth, with a fix hint" eval "grep -qE '^FAIL +bluetooth' '$t/doctor.out' && grep -q 'rfkill' '$t/doctor.out'"
check "(d) the GPIO checks still pass" eval "line PASS gpio && line PASS relay"
vm_finish
