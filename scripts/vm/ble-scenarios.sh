#!/usr/bin/env bash
# The BLE scenarios against the real BlueZ kernel stack: runs INSIDE the kernel-vm guest (scripts/hwtest ble starts it
# there, with bluetooth enable_ecred=1 and hci_vhci loaded). Two virtual LE controllers from btvirt (bluez-test-tools,
# unpacked by scripts/kernel-vm) see each other; no bluetoothd runs at first, so wardend advertises with raw HCI
# commands (a-i); then (j) starts a system bus and bluetoothd and wardend must advertise through its D-Bus API.
#   hci0  the lock: the debug-built wardend listens on an LE L2CAP CoC (BDADDR_ANY, PSM 0x81) and advertises on it;
#         its relay is a gpio-sim line (boards/gpio-sim.yaml, line 6, locked = 1), read on the simulator side
#   hci1  the phone: an active LE scan (raw HCI, scripts/vm/ble_client.py) checks the advertisement byte for byte;
#         `wardenctl phone unlock --ble` (binds BDADDR_ANY: the kernel routes to hci1, the only other controller)
#         presents a key; a raw L2CAP client sends a malformed frame and replays a recorded session
# Expected values (UUID, PSM 0x0081, lock tag = SHA-256(lock id)[0..7] by sha256sum) are computed here, not taken from
# the code under test. Environment:
#   WARDEN_BIN          folder with wardend and wardenctl (default .build/debug)
#   HWTEST_KEYS         keys and credential made on the host by scripts/hwtest (lock id lock-hwtest)
#   HWTEST_BLE_PSM      ble_psm written into wardend's config (default 0x81; the phone side always uses 0x81):
#                       set it to 0x83 to see the suite catch a lock on the wrong PSM
#   HWTEST_BLE_TO_TYPE  address type the raw client connects to: public (default), random or bredr (breakages)
#   HWTEST_BLE_READVERTISE  1: the test itself re-enables advertising on hci0 (raw HCI) before each new phone
#                       connection, for bisecting check (e) against a wardend that does not re-advertise after a
#                       session; 0 (default): it does not, so (e) sees what wardend does
# Ends with exactly "hwtest ble: N passed, M failed"; exit 1 if any failed.
set -uo pipefail
repo=${KERNEL_VM_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${WARDEN_BIN:-$repo/.build/debug}
wardend=${WARDEND:-$bin/wardend}
ctl=$bin/wardenctl
board=${HWTEST_BOARD:-$repo/boards/gpio-sim.yaml}
CFG_PSM=${HWTEST_BLE_PSM:-0x81}
PHONE_PSM=0x81
TO_TYPE=${HWTEST_BLE_TO_TYPE:-public}
READVERTISE=${HWTEST_BLE_READVERTISE:-0}
LOCK_ID=lock-hwtest
UUID=3f1d0001-8a5c-4c44-9b7e-57415244454e
RELAY=6 LOCKED=1 UNLOCKED=0 PULSE_MS=3000

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"   # ok/fail/check/note, nap/now_ms/since, the gpio-sim chip, the trace, the monitor

[ "${KERNEL_VM:-}" = 1 ] || { echo "run me in the VM: scripts/hwtest ble"; exit 2; }
vm_init ble
echo "== hwtest ble: $(uname -r), binaries $bin, config ble_psm $CFG_PSM, phone PSM $PHONE_PSM"

# ----- prerequisites -------------------------------------------------------------------------------------------------
missing=""
for c in btvirt btmgmt btmon hcitool hciconfig; do command -v $c >/dev/null || missing="$missing $c"; done
[ -z "$missing" ] || { fail "bluez tools missing in the guest:$missing (scripts/kernel-vm unpacks bluez + bluez-test-tools into .cache/kernel-vm/bluez and puts them on PATH)"; vm_finish; }
/usr/bin/python3 -c 'import socket; socket.AF_BLUETOOTH' 2>/dev/null ||
  { fail "/usr/bin/python3 has no socket.AF_BLUETOOTH"; vm_finish; }
[ -d /sys/class/bluetooth ] || { fail "no /sys/class/bluetooth: bluetooth.ko not loaded (scripts/hwtest ble loads it)"; vm_finish; }
note "enable_ecred=$(cat /sys/module/bluetooth/parameters/enable_ecred 2>/dev/null || echo ?)"

unlock_count() { trace_lines | grep -c "gpio_value: $RELAY_GPIO set $UNLOCKED"; }

# ----- Bluetooth helpers --------------------------------------------------------------------------------------------
btvirt_pid="" btmon_pid="" wardend_pid=""
addr_of() { hciconfig "$1" 2>/dev/null | awk '/BD Address/ { print $3; exit }'; }
links() { local l; for l in /sys/class/bluetooth/$1:*; do [ -e "$l" ] && echo "${l##*/}"; done; }
wait_no_links() {  # DEV TIMEOUT_MS: the LE link(s) on DEV are gone (the kernel drops an idle link ~2 s after L2CAP)
  local start; start=$(now_ms)
  while [ -n "$(links "$1")" ]; do [ $(since $start) -ge "$2" ] && return 1; nap 0.1; done
  link_gone_ms=$(since $start)
}
readvertise() {  # HWTEST_BLE_READVERTISE=1: LE Set Advertising Enable on the lock's controller, sent by the test
  [ "$READVERTISE" = 1 ] || return 0
  hcitool -i hci0 cmd 0x08 0x000a 01 > "$t/readvertise.out" 2>&1
  mark "test: LE Set Advertising Enable (hci0) re-sent by the test (HWTEST_BLE_READVERTISE=1)"
}
# The raw client (scripts/vm/ble_client.py) runs as one coprocess for the whole suite: a Python start with the
# cryptography import costs 5-15 s under TCG over 9p, so it is paid once, while wardend starts.
py_start() { coproc PY { exec /usr/bin/python3 -u "$repo/scripts/vm/ble_client.py" serve 2>&1; }; py_pid=$PY_PID; }
py() {  # py OUTFILE CMD ARGS...: one client command; its output in OUTFILE, its exit code returned
  local out=$1 line; shift
  : > "$out"
  [ -n "${PY[1]:-}" ] || { echo "the python client is not running (see $t/py-start.out)" > "$out"; return 125; }
  printf '%q ' "$@" >&"${PY[1]}"; echo >&"${PY[1]}"
  while IFS= read -r -t 120 -u "${PY[0]}" line; do
    case "$line" in "@@done "*) return "${line#@@done }";; "@@ready") continue;; esac
    echo "$line" >> "$out"
  done
  echo "(no answer from the python client)" >> "$out"; return 125
}
py_wait_ready() {  # the coprocess prints @@ready once its imports are done
  local line
  while IFS= read -r -t 120 -u "${PY[0]}" line; do [ "$line" = "@@ready" ] && return 0; echo "$line" >> "$t/py-start.out"; done
  return 1
}
py_pid=""
cleanup() {
  [ -n "$py_pid" ] && kill "$py_pid" 2>/dev/null
  [ -n "$wardend_pid" ] && kill -TERM "$wardend_pid" 2>/dev/null && wait "$wardend_pid" 2>/dev/null
  [ -n "$monitor_pid" ] && kill "$monitor_pid" 2>/dev/null
  [ -n "$btmon_pid" ] && kill "$btmon_pid" 2>/dev/null
  [ -n "$btvirt_pid" ] && kill "$btvirt_pid" 2>/dev/null
  sim_down
}
trap cleanup EXIT

# ----- (a) two virtual LE controllers -------------------------------------------------------------------------------
t_a=$(now_ms)
py_start
btmon -w "$t/btmon.snoop" > "$t/btmon.log" 2>&1 & btmon_pid=$!
btvirt -L -l2 > "$t/btvirt.log" 2>&1 & btvirt_pid=$!
for i in $(seq 100); do [ -e /sys/class/bluetooth/hci0 ] && [ -e /sys/class/bluetooth/hci1 ] && break; nap 0.1; done
why="btvirt: $(tr '\n' ' ' < "$t/btvirt.log" | cut -c1-300); /sys/class/bluetooth: $(ls /sys/class/bluetooth | tr '\n' ' ')"
check "(a) btvirt -L -l2 created two virtual controllers hci0 and hci1" [ -e /sys/class/bluetooth/hci0 -a -e /sys/class/bluetooth/hci1 ]
[ -e /sys/class/bluetooth/hci1 ] || vm_finish
btmgmt --index 0 power on > "$t/power0.out" 2>&1
LOCK_ADDR=$(addr_of hci0)
why="btmgmt: $(tr '\n' ' ' < "$t/power0.out"); hciconfig: $(hciconfig hci0 2>&1 | tr -s ' \n' ' ')"
check "(a) hci0 (the lock) powered on: $LOCK_ADDR" eval 'hciconfig hci0 | contains "UP RUNNING" && [ -n "$LOCK_ADDR" ]'
note "controllers up in $(since $t_a) ms; hci1 stays down until wardend has picked its advertising adapter"

# ----- the relay on gpio-sim, keys, config ---------------------------------------------------------------------------
sim_up warden-hwtest-ble || { fail "cannot create the gpio-sim chip through configfs"; vm_finish; }
RELAY_GPIO=$(( $(sim_base) + RELAY ))
setup_keys || { fail "key setup with wardenctl dev failed"; vm_finish; }
cat > "$t/warden.yaml" <<YAML
door: { id: hw-door, lock_id: $LOCK_ID, groups: [hw] }
identity: { device_key: $t/device.pem, lock_certificate: $t/lock.cert }
presentation: { ble: true, ble_psm: $CFG_PSM, unix: $t/present.sock }
board: $board
site: { time_zone: UTC }
authority_keys: { hw-2026: $t/authority.pem.pub }
state_dir: $t/state
control_socket: $t/control.sock
YAML
trace_on
monitor_start

# ----- (b) wardend: L2CAP listener and advertising -------------------------------------------------------------------
t_b=$(now_ms)
"$wardend" --config "$t/warden.yaml" 2> "$t/wardend.log" & wardend_pid=$!
for i in $(seq 300); do
  grep -qE 'advertising the Warden service|BLE advertising failed|BLE presentations are off' "$t/wardend.log" && [ -S "$t/control.sock" ] && break
  kill -0 $wardend_pid 2>/dev/null || break
  nap 0.1
done
if ! kill -0 $wardend_pid 2>/dev/null; then
  wait $wardend_pid; fail "wardend exited ($?) at start: $(tail -3 "$t/wardend.log" | tr '\n' ' ')"; wardend_pid=""; vm_finish
fi
note "wardend up in $(since $t_b) ms (pid $wardend_pid)"
py_wait_ready || { fail "the python client (ble_client.py serve) did not start: $(tr '\n' ' ' < "$t/py-start.out")"; vm_finish; }
note "python client ready $(since $t_a) ms after it was started"
why="wardend log: $(grep -iE 'ble|l2cap|bluetooth|error' "$t/wardend.log" | tail -3 | tr '\n' ' ')"
check "(b) wardend: 'BLE L2CAP listener ready' on PSM $CFG_PSM" grep -qE "BLE L2CAP listener ready.*psm=$CFG_PSM" "$t/wardend.log"
why="wardend log: $(grep -iE 'advertis' "$t/wardend.log" | tail -2 | tr '\n' ' ')"
check "(b) wardend: 'advertising the Warden service' on the first controller (hci0)" \
  grep -qE 'advertising the Warden service.*adapter=hci0' "$t/wardend.log"
grep -E 'BLE|advertis|L2CAP' "$t/wardend.log" | sed 's/^/     wardend: /'
v=$(val $RELAY); why="relay line $RELAY is $v"
check "(b) relay line at its locked level ($LOCKED) with wardend running" [ "$v" = $LOCKED ]
btmgmt --index 1 power on > "$t/power1.out" 2>&1
PHONE_ADDR=$(addr_of hci1)
why="$(tr '\n' ' ' < "$t/power1.out")"
check "(b) hci1 (the phone) powered on: $PHONE_ADDR" eval 'hciconfig hci1 | contains "UP RUNNING" && [ -n "$PHONE_ADDR" ]'

# ----- (c) the advertisement, scanned from hci1 ----------------------------------------------------------------------
uuid_le=$(echo $UUID | tr -d - | fold -w2 | tac | tr -d '\n')
tag=$(printf %s $LOCK_ID | sha256sum | cut -c1-16)
psm_le=$(printf '%02x00' $((PHONE_PSM)))
want_adv="0201061107$uuid_le"
want_rsp="1c21${uuid_le}01${psm_le}${tag}"
note "expected: UUID $UUID (LE $uuid_le), lock tag sha256('$LOCK_ID')[0..7] = $tag, PSM $PHONE_PSM = $psm_le"
scan() {  # scan FILE SECONDS: reports from the lock's address
  py "$1" scan --dev 1 --seconds "$2" --addr "$LOCK_ADDR"
}
t_c=$(now_ms)
scan "$t/scan1.out" 4
note "scan from hci1: $(since $t_c) ms"
sed 's/^/     /' "$t/scan1.out"
adv=$(awk -v a="$LOCK_ADDR" '$1 == "report" && $2 == a && $4 == "ADV_IND" { sub(/^data=/, "", $5); print $5; exit }' "$t/scan1.out")
rsp=$(awk -v a="$LOCK_ADDR" '$1 == "report" && $2 == a && $4 == "SCAN_RSP" { sub(/^data=/, "", $5); print $5; exit }' "$t/scan1.out")
why="no ADV_IND from $LOCK_ADDR in the scan: $(tr '\n' ' ' < "$t/scan1.out" | cut -c1-300)"
check "(c) hci1 sees connectable undirected advertising (ADV_IND) from the lock $LOCK_ADDR" [ -n "$adv" ]
why="advertising data '$adv', expected flags 0x06 + complete 128-bit UUID list '$want_adv'"
check "(c) advertising data: flags 0x06 and the complete list of 128-bit service UUIDs = $UUID" [ "$adv" = "$want_adv" ]
# the scan response's AD structures: find Service Data - 128-bit UUID (type 0x21)
sd="" s=$rsp
while [ ${#s} -ge 4 ]; do
  n=$((16#${s:0:2})); [ "$n" = 0 ] && break
  [ "${s:2:2}" = 21 ] && { sd=${s:4:$(( (n - 1) * 2 ))}; break; }
  s=${s:$(( 2 + n * 2 ))}
done
why="scan response '${rsp:-none}' has no Service Data - 128-bit UUID structure"
check "(c) scan response carries Service Data - 128-bit UUID (AD type 0x21)" [ -n "$sd" ]
why="service data UUID ${sd:0:32}, expected $uuid_le"
check "(c) service data UUID = $UUID" [ "${sd:0:32}" = "$uuid_le" ]
why="version byte ${sd:32:2}"
check "(c) service data version = 1" [ "${sd:32:2}" = 01 ]
why="PSM bytes '${sd:34:4}', expected '$psm_le' (PSM $PHONE_PSM, little-endian): the lock advertises PSM 0x${sd:36:2}${sd:34:2}"
check "(c) service data PSM = 81 00 (0x0081, little-endian)" [ "${sd:34:4}" = "$psm_le" ]
why="tag ${sd:38:16}, expected $tag"
check "(c) service data lock tag = first 8 bytes of SHA-256('$LOCK_ID') = $tag" [ "${sd:38:16}" = "$tag" ]
why="scan response '$rsp', expected '$want_rsp'"
check "(c) whole scan response = docs/protocol.md section 4 layout (29 bytes)" [ "$rsp" = "$want_rsp" ]

# ----- (d) wardenctl phone unlock --ble from hci1: granted, relay pulse --------------------------------------------
t_d=$(now_ms)
mark "wardenctl phone unlock --ble $LOCK_ADDR --psm $PHONE_PSM"
n0=$(unlock_count)
unlock_ble() {  # unlock_ble PSM_ARGUMENT
  "$ctl" phone unlock --ble "$LOCK_ADDR" --psm "$1" --lock $LOCK_ID --credential "$t/alice.jws" --key "$t/alice.pem" \
    --authority "hw-2026=$t/authority.pem.pub" > "$t/unlock.out" 2>&1
}
unlock_ble $PHONE_PSM; urc=$?
psm_arg=$PHONE_PSM
if grep -q "invalid for '--psm" "$t/unlock.out"; then
  fail "(d) wardenctl phone unlock takes --psm $PHONE_PSM as docs/hardware.md writes it: $(head -1 "$t/unlock.out") (retrying with --psm $((PHONE_PSM)))"
  psm_arg=$((PHONE_PSM)); t_d=$(now_ms)
  unlock_ble $psm_arg; urc=$?
fi
note "wardenctl phone unlock: exit $urc in $(since $t_d) ms (incl. process start): $(tr '\n' ' ' < "$t/unlock.out")"
why="exit $urc: $(tr '\n' ' ' < "$t/unlock.out")"
check "(d) wardenctl phone unlock --ble $LOCK_ADDR --psm $psm_arg from hci1: granted" grep -q '^granted' "$t/unlock.out"
if wait_val $RELAY $UNLOCKED 1500 || [ "$(unlock_count)" -gt "$n0" ]; then
  ok "(d) relay line $RELAY -> $UNLOCKED (unlocked) on the gpio-sim chip after the BLE grant (kernel trace: $(trace_lines | grep "set $UNLOCKED" | tail -1 | awk '{print $1, $(NF-2), $(NF-1), $NF}'))"
  if wait_val $RELAY $LOCKED $((PULSE_MS + 3000)); then
    held=$(trace_pulse_ms)
    why="the kernel trace shows the relay unlocked for ${held:-?} ms, expected pulse_ms $PULSE_MS (+0/+500)"
    check "(d) relay back to $LOCKED after the pulse (unlocked ${held:-?} ms by the kernel trace)" \
      [ "${held:-0}" -ge $((PULSE_MS - 20)) -a "${held:-0}" -le $((PULSE_MS + 500)) ]
  else fail "(d) relay line still $(val $RELAY) $((PULSE_MS + 3000)) ms after the grant: no relock"; fi
else fail "(d) relay line stayed $(val $RELAY) after the BLE presentation (expected $UNLOCKED)"; fi

# ----- (e) after the phone left, the lock must be connectable again: is it still advertising? -----------------------
# A controller stops legacy advertising when a connection is made from it (Core spec, LE Set Advertising Enable);
# a lock that never re-enables it is unreachable for every phone after the first one.
if wait_no_links hci1 10000; then note "LE link hci1 -> hci0 gone ${link_gone_ms} ms after the relock"
else note "LE link still up after 10 s: $(links hci1)"; fi
scan "$t/scan2.out" 3
why="no ADV_IND from $LOCK_ADDR once the first phone had disconnected: wardend's LEAdvertiser enables advertising once at start and never again; the controller stopped advertising when the phone connected"
check "(e) the lock advertises again after a phone disconnected" grep -qE "^report $LOCK_ADDR .* ADV_IND" "$t/scan2.out"
[ "$READVERTISE" = 1 ] && note "(the test re-enables advertising on hci0 before each further connection: HWTEST_BLE_READVERTISE=1)"

# ----- (f) a malformed frame over the real socket ----------------------------------------------------------------------
readvertise
mark "raw client: malformed frame 42 00 00"
n0=$(unlock_count); t_f=$(now_ms)
py "$t/malformed.out" malformed --to "$LOCK_ADDR" --to-type "$TO_TYPE" --psm $PHONE_PSM --frame 420000
note "$(cat "$t/malformed.out") [$(since $t_f) ms]"
why="$(tr '\n' ' ' < "$t/malformed.out")"
check "(f) malformed frame 42 00 00 over LE L2CAP -> ERROR bad_frame (7f 00 01 20), channel closed" \
  grep -q 'malformed: sent 420000 -> 7f000120 (ERROR bad_frame); lock closed the channel: yes' "$t/malformed.out"
why="relay line $(val $RELAY), unlock events in the kernel trace $n0 -> $(unlock_count)"
check "(f) the relay did not move for the malformed frame" [ "$(val $RELAY)" = $LOCKED -a "$(unlock_count)" = "$n0" ]

# ----- (g) a replayed session --------------------------------------------------------------------------------------
wait_no_links hci1 10000 >/dev/null; readvertise
mark "raw client: a granted session, recorded (HELLO + PRESENT)"
t_g=$(now_ms)
py "$t/record.out" record --to "$LOCK_ADDR" --to-type "$TO_TYPE" --psm $PHONE_PSM --lock $LOCK_ID --credential "$t/alice.jws" \
  --key "$t/alice.pem" --authority "hw-2026=$t/authority.pem.pub" --out "$t/session.rec"
note "$(cat "$t/record.out") [$(since $t_g) ms]"
why="$(tr '\n' ' ' < "$t/record.out")"
check "(g) raw L2CAP client (python phone) completes a granted session and records HELLO + PRESENT" grep -q '^record: granted' "$t/record.out"
wait_val $RELAY $UNLOCKED 1500 >/dev/null; wait_val $RELAY $LOCKED $((PULSE_MS + 3000)) >/dev/null
wait_no_links hci1 10000 >/dev/null; readvertise
mark "raw client: replay of the recorded HELLO + PRESENT on a new connection"
n0=$(unlock_count); t_r=$(now_ms)
py "$t/replay.out" replay --to "$LOCK_ADDR" --to-type "$TO_TYPE" --psm $PHONE_PSM --in "$t/session.rec"
note "$(tr '\n' ' ' < "$t/replay.out") [$(since $t_r) ms]"
why="$(tr '\n' ' ' < "$t/replay.out")"
check "(g) replayed HELLO + PRESENT on a new connection -> fresh LOCK_HELLO, then ERROR decrypt_failed (7f 00 01 22)" \
  grep -q 'recorded PRESENT -> 7f000122 (ERROR decrypt_failed); lock closed the channel: yes' "$t/replay.out"
nap 0.5
why="relay line $(val $RELAY), unlock events in the kernel trace $n0 -> $(unlock_count)"
check "(g) the relay did not move for the replay" [ "$(val $RELAY)" = $LOCKED -a "$(unlock_count)" = "$n0" ]

# ----- (h) the audit, read after wardend stopped -------------------------------------------------------------------
kill "$monitor_pid" 2>/dev/null; wait "$monitor_pid" 2>/dev/null; monitor_pid=""   # (the released line falls to its pull)
kill -TERM $wardend_pid; wait $wardend_pid; wrc=$?; wardend_pid=""
why="exit $wrc"
check "(h) wardend exits 0 on SIGTERM" [ $wrc = 0 ]
"$ctl" audit list --db "$t/state/warden.sqlite" > "$t/audit.txt" 2>&1
pa="peer=ble:$PHONE_ADDR"
why="access_granted records: $(grep access_granted "$t/audit.txt" | tr '\n' ' ')"
check "(h) audit: 2 grants, both from $pa (wardenctl's BDADDR_ANY connection was routed through hci1)" \
  [ "$(grep -c "access_granted.*$pa" "$t/audit.txt")" = 2 -a "$(grep -c access_granted "$t/audit.txt")" = 2 ]
why="$(grep -E 'relay grant' "$t/audit.txt" | tr '\n' ' ')"
check "(h) audit: exactly 2 'relay grant' records (no relay action for the malformed frame or the replay)" \
  [ "$(grep -c 'relay grant' "$t/audit.txt")" = 2 ]
why="$(grep malformed "$t/audit.txt" | tr '\n' ' ')"
check "(h) audit: malformed bad_frame [$pa ...]" grep -qE "malformed bad_frame \[$pa" "$t/audit.txt"
check "(h) audit: malformed decrypt_failed [$pa ...]" grep -qE "malformed decrypt_failed \[$pa" "$t/audit.txt"

# ----- (j) under bluetoothd: advertising through its D-Bus LEAdvertisingManager1 --------------------------------------
# Raspberry Pi OS runs bluetoothd; it owns the controller, so wardend must advertise through it. A system bus with
# Debian's default-deny policy plus BlueZ's own bluetooth.conf, the bluetoothd of the same bluez package (5.66),
# then the same wardend again: it must see org.bluez on the bus, register its LEAdvertisement1 object, be
# advertised by bluetoothd, take a phone, survive a bluetoothd restart, and vanish from the air when it stops.
bzusr=$(cd "$(dirname "$(command -v btvirt)")/.." && pwd)
BLUETOOTHD=$bzusr/libexec/bluetooth/bluetoothd
BZPOLICY=$bzusr/../etc/dbus-1/system.d/bluetooth.conf
dbus_pid="" bluetoothd_pid=""
stop_j() {
  [ -n "$wardend_pid" ] && kill -TERM "$wardend_pid" 2>/dev/null && wait "$wardend_pid" 2>/dev/null; wardend_pid=""
  [ -n "$bluetoothd_pid" ] && kill "$bluetoothd_pid" 2>/dev/null && wait "$bluetoothd_pid" 2>/dev/null; bluetoothd_pid=""
  [ -n "$dbus_pid" ] && kill "$dbus_pid" 2>/dev/null && wait "$dbus_pid" 2>/dev/null; dbus_pid=""
}
trap 'stop_j; cleanup' EXIT
ad_structs() {  # HEX -> one "TYPE:DATA" line per AD structure, sorted (bluetoothd orders them its own way)
  local s=$1 n
  while [ ${#s} -ge 4 ]; do
    n=$((16#${s:0:2})); [ "$n" = 0 ] && break
    echo "${s:2:2}:${s:4:$(( (n - 1) * 2 ))}"; s=${s:$(( 2 + n * 2 ))}
  done | sort
}
want_structs=$(printf '01:06\n07:%s\n' "$uuid_le" | sort)
adv_of() { awk -v a="$LOCK_ADDR" '$1 == "report" && $2 == a && $4 == "ADV_IND" { sub(/^data=/, "", $5); print $5; exit }' "$1"; }
rsp_of() { awk -v a="$LOCK_ADDR" '$1 == "report" && $2 == a && $4 == "SCAN_RSP" { sub(/^data=/, "", $5); print $5; exit }' "$1"; }
bus_has_bluez() { busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus NameHasOwner s org.bluez 2>/dev/null | contains true; }
active_instances() { busctl --system get-property org.bluez /org/bluez/hci0 org.bluez.LEAdvertisingManager1 ActiveInstances 2>/dev/null | awk '{ print $2 }'; }
start_bluetoothd() {  # LOGFILE: bluetoothd up with hci0's LE advertising manager on the bus
  printf '[Policy]\nAutoEnable=true\n' > "$t/main.conf"   # Raspberry Pi OS ships the same
  "$BLUETOOTHD" -n -d -f "$t/main.conf" > "$1" 2>&1 & bluetoothd_pid=$!
  local i; for i in $(seq 200); do
    busctl --system introspect org.bluez /org/bluez/hci0 org.bluez.LEAdvertisingManager1 >/dev/null 2>&1 && return 0
    kill -0 $bluetoothd_pid 2>/dev/null || return 1; nap 0.1
  done; return 1
}
wait_log() {  # PATTERN COUNT TIMEOUT_S: wardend's log has COUNT lines matching PATTERN
  local i; for i in $(seq $(( $3 * 10 ))); do
    [ "$(grep -cE "$1" "$t/wardend-j.log")" -ge "$2" ] && return 0
    kill -0 $wardend_pid 2>/dev/null || return 1; nap 0.1
  done; return 1
}
if [ ! -x "$BLUETOOTHD" ] || [ ! -f "$BZPOLICY" ]; then
  fail "(j) bluetoothd ($BLUETOOTHD) or its D-Bus policy ($BZPOLICY) missing from the unpacked bluez package"
elif ! command -v dbus-daemon >/dev/null || ! command -v busctl >/dev/null; then
  fail "(j) dbus-daemon and busctl are needed on the host (scripts/bootstrap installs dbus-daemon and systemd)"
else
  mkdir -p /run/dbus
  # bluetoothd keeps adapter settings in /var/lib/bluetooth; the guest's root is the host's, read-only
  [ -d /var/lib/bluetooth ] || { mount -t tmpfs -o mode=755 tmpfs /var/lib && mkdir -p /var/lib/bluetooth; }
  cat > "$t/system-bus.conf" <<XML
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <!-- Debian's system.conf: deny by default; bluez's bluetooth.conf punches its holes -->
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
  </policy>
  <include>$BZPOLICY</include>
</busconfig>
XML
  dbus-daemon --config-file="$t/system-bus.conf" --nofork --nopidfile > "$t/dbus.log" 2>&1 & dbus_pid=$!
  for i in $(seq 100); do [ -S /run/dbus/system_bus_socket ] && break; nap 0.1; done
  # wardend first, with the bus but no bluetoothd yet (bluetooth.service started late, or not at all): raw HCI.
  "$wardend" --config "$t/warden.yaml" 2> "$t/wardend-j.log" & wardend_pid=$!
  wait_log 'advertising the Warden service|BLE advertising failed' 1 40
  why="wardend: $(grep -E 'advertis' "$t/wardend-j.log" | tail -2 | tr '\n' ' ')"
  check "(j) wardend with a system bus but no bluetoothd: raw HCI ('advertising the Warden service ... via=hci')" \
    grep -qE 'advertising the Warden service.*via=hci' "$t/wardend-j.log"
  t_j=$(now_ms)
  start_bluetoothd "$t/bluetoothd.log"; brc=$?
  why="bluetoothd: $(grep -vE 'DEBUG|^$' "$t/bluetoothd.log" | tail -4 | tr '\n' ' ' | cut -c1-400); dbus: $(tr '\n' ' ' < "$t/dbus.log" | cut -c1-200)"
  check "(j) bluetoothd $("$BLUETOOTHD" -v 2>/dev/null) on the system bus, /org/bluez/hci0 has LEAdvertisingManager1" [ $brc = 0 ]
  note "bluetoothd up in $(since $t_j) ms"
  wait_log 'advertising the Warden service.*via=bluetoothd|BLE advertising through bluetoothd failed' 1 30
  note "wardend moved to bluetoothd $(since $t_j) ms after bluetoothd was started"
  grep -E 'BLE|advertis|bluetoothd|L2CAP' "$t/wardend-j.log" | sed 's/^/     wardend: /'
  check "(j) bluetoothd started after wardend: wardend moves from raw HCI to its D-Bus LEAdvertisingManager1" \
    grep -q 'bluetoothd appeared on the system bus: advertising through it instead of raw HCI' "$t/wardend-j.log"
  why="wardend: $(grep -E 'advertis' "$t/wardend-j.log" | tail -2 | tr '\n' ' ')"
  check "(j) bluetoothd accepted the advertisement: 'advertising the Warden service ... via=bluetoothd'" \
    grep -qE 'advertising the Warden service.*via=bluetoothd' "$t/wardend-j.log"
  why="bluetoothd log: $(grep -iE 'advertis' "$t/bluetoothd.log" | tail -3 | tr '\n' ' ' | cut -c1-300)"
  check "(j) bluetoothd: 'Registered advertisement at path /org/warden/advertisement/hci0'" \
    grep -q 'Registered advertisement at path /org/warden/advertisement/hci0' "$t/bluetoothd.log"
  ai=$(active_instances); why="ActiveInstances = '${ai:-?}'"
  check "(j) LEAdvertisingManager1.ActiveInstances on hci0 = 1" [ "$ai" = 1 ]

  scan "$t/scan-j1.out" 4
  sed 's/^/     /' "$t/scan-j1.out"
  adv=$(adv_of "$t/scan-j1.out"); rsp=$(rsp_of "$t/scan-j1.out")
  why="no ADV_IND from $LOCK_ADDR: $(tr '\n' ' ' < "$t/scan-j1.out" | cut -c1-300)"
  check "(j) hci1 sees the lock's connectable advertising (ADV_IND) from bluetoothd" [ -n "$adv" ]
  got=$(ad_structs "$adv" | tr '\n' ' '); why="AD structures '$got', expected '$(echo $want_structs)'"
  check "(j) advertising data = flags 0x06 + complete list of 128-bit service UUIDs $UUID (in bluetoothd's order)" \
    [ "$(ad_structs "$adv")" = "$want_structs" ]
  note "advertising data from bluetoothd: $adv (raw HCI path: $want_adv)"
  if [ "$rsp" = "$want_rsp" ]; then why2=" - the bytes raw HCI wrote in (c), still in the controller: 5.66 writes no scan response of its own"; else why2=""; fi
  note "scan response seen under bluetoothd 5.66: '${rsp:-none}'$why2 (bluetoothd puts Warden service data in the scan response from BlueZ 5.80 on, with -E; without it phones connect on the default PSM 0x0081)"

  mark "under bluetoothd: wardenctl phone unlock --ble $LOCK_ADDR (no --psm: the default 0x81)"
  n0=$(unlock_count); t_u=$(now_ms)
  "$ctl" phone unlock --ble "$LOCK_ADDR" --lock $LOCK_ID --credential "$t/alice.jws" --key "$t/alice.pem" \
    --authority "hw-2026=$t/authority.pem.pub" > "$t/unlock-j.out" 2>&1; urc=$?
  note "wardenctl phone unlock: exit $urc in $(since $t_u) ms: $(tr '\n' ' ' < "$t/unlock-j.out")"
  why="exit $urc: $(tr '\n' ' ' < "$t/unlock-j.out")"
  check "(j) wardenctl phone unlock --ble (default PSM) with bluetoothd running: granted" grep -q '^granted' "$t/unlock-j.out"
  if wait_val $RELAY $UNLOCKED 1500 || [ "$(unlock_count)" -gt "$n0" ]; then
    ok "(j) relay line $RELAY -> $UNLOCKED (unlocked) after the grant under bluetoothd"
    wait_val $RELAY $LOCKED $((PULSE_MS + 3000)) >/dev/null
  else fail "(j) relay line stayed $(val $RELAY) after the grant under bluetoothd"; fi
  wait_no_links hci1 10000 >/dev/null
  scan "$t/scan-j2.out" 3
  why="no ADV_IND from $LOCK_ADDR after the phone disconnected"
  check "(j) the lock advertises again after the phone left (the kernel re-enables bluetoothd's instance)" [ -n "$(adv_of "$t/scan-j2.out")" ]

  # bluetoothd restarts (an upgrade, a crash): wardend registers again by itself.
  kill "$bluetoothd_pid"; wait "$bluetoothd_pid" 2>/dev/null; bluetoothd_pid=""
  wait_log 'bluetoothd left the system bus' 1 10
  check "(j) wardend notices bluetoothd leaving the bus" grep -q 'bluetoothd left the system bus' "$t/wardend-j.log"
  start_bluetoothd "$t/bluetoothd-2.log"
  btmgmt --index 1 power on > /dev/null 2>&1   # the phone's controller, for the scan below (bluetoothd powered it off on exit)
  wait_log 'advertising the Warden service.*via=bluetoothd' 2 30
  why="wardend: $(grep -E 'advertis|bluetoothd' "$t/wardend-j.log" | tail -3 | tr '\n' ' ')"
  check "(j) after bluetoothd restarted, wardend registered its advertisement again" \
    [ "$(grep -cE 'advertising the Warden service.*via=bluetoothd' "$t/wardend-j.log")" -ge 2 ]
  scan "$t/scan-j3.out" 3
  why="no ADV_IND from $LOCK_ADDR after the bluetoothd restart: $(tr '\n' ' ' < "$t/scan-j3.out" | cut -c1-200)"
  check "(j) hci1 sees the lock advertising again after the bluetoothd restart" [ -n "$(adv_of "$t/scan-j3.out")" ]

  # bluetoothd stopped for good: after the grace period raw HCI takes over (wardend powers the controller on: bluetoothd
  # powered it off on exit), with the raw HCI bytes; then bluetoothd comes back and takes over again.
  kill "$bluetoothd_pid"; wait "$bluetoothd_pid" 2>/dev/null; bluetoothd_pid=""
  t_g=$(now_ms)
  wait_log 'advertising the Warden service.*via=hci' 2 40
  note "raw HCI took over $(since $t_g) ms after bluetoothd stopped"
  why="wardend: $(grep -E 'advertis|bluetoothd' "$t/wardend-j.log" | tail -3 | tr '\n' ' ')"
  check "(j) bluetoothd gone for good: raw HCI takes over ('gone for 10 s', 'advertising ... via=hci')" \
    eval "grep -q 'bluetoothd has been gone for 10 s: advertising over raw HCI' $t/wardend-j.log && [ \$(grep -cE 'advertising the Warden service.*via=hci' $t/wardend-j.log) -ge 2 ]"
  btmgmt --index 1 power on > /dev/null 2>&1
  scan "$t/scan-j5.out" 4
  adv=$(adv_of "$t/scan-j5.out"); rsp=$(rsp_of "$t/scan-j5.out")
  why="ADV_IND '${adv:-none}', SCAN_RSP '${rsp:-none}': $(tr '\n' ' ' < "$t/scan-j5.out" | cut -c1-200)"
  check "(j) hci1 sees the raw HCI advertisement again, byte for byte (ADV_IND and SCAN_RSP of section c)" \
    [ "$adv" = "$want_adv" -a "$rsp" = "$want_rsp" ]
  start_bluetoothd "$t/bluetoothd-3.log"
  wait_log 'advertising the Warden service.*via=bluetoothd' 3 40
  why="wardend: $(grep -E 'advertis|bluetoothd' "$t/wardend-j.log" | tail -3 | tr '\n' ' ')"
  check "(j) bluetoothd back: wardend advertises through it again" \
    [ "$(grep -cE 'advertising the Warden service.*via=bluetoothd' "$t/wardend-j.log")" -ge 3 ]

  # wardend stops: its bus connection closes and bluetoothd drops the advertisement.
  kill -TERM $wardend_pid; wait $wardend_pid; wrc=$?; wardend_pid=""
  why="exit $wrc"; check "(j) wardend exits 0 on SIGTERM under bluetoothd" [ $wrc = 0 ]
  for i in $(seq 30); do [ "$(active_instances)" = 0 ] && break; nap 0.1; done
  ai=$(active_instances); why="ActiveInstances = '${ai:-?}'"
  check "(j) with wardend stopped, bluetoothd dropped the advertisement (ActiveInstances = 0)" [ "$ai" = 0 ]
  scan "$t/scan-j4.out" 3
  why="$(grep "$LOCK_ADDR" "$t/scan-j4.out" | head -2 | tr '\n' ' ')"
  check "(j) hci1 no longer sees the lock advertising" [ -z "$(adv_of "$t/scan-j4.out")" ]
  stop_j
fi
py /dev/null quit; py_pid=""

# ----- console evidence ------------------------------------------------------------------------------------------------
kill "$btmon_pid" 2>/dev/null; wait "$btmon_pid" 2>/dev/null; btmon_pid=""
btmon -r "$t/btmon.snoop" > "$t/btmon.txt" 2>&1
art=""; [ -n "${KERNEL_VM_RUN:-}" ] && art=$KERNEL_VM_RUN/ble   # kept on the host: .cache/kernel-vm/runs/<id>/ble
# blocks (a header line and its indented lines) about LE connections and LE credit-based L2CAP channels
awk 'function flush() { if (b ~ /(\n +LE Connection Complete \(0x01\)|LE L2CAP: LE Connection (Request|Response)|HCI Event: Disconnect Complete)/) printf "%s", b; b = "" }
     /^[<>@=]/ { flush() } { b = b $0 "\n" } END { flush() }' "$t/btmon.txt" > "$t/btmon-conn.txt"
why="no 'LE Connection Request ... PSM: 129' / success response in the btmon capture"
check "(i) btmon: LE credit-based L2CAP connection to PSM 0x0081, accepted" \
  eval "grep -q 'PSM: 129 (0x0081)' $t/btmon-conn.txt && grep -q 'Result: Connection successful' $t/btmon-conn.txt"
echo
echo "== btmon (both controllers): the first LE connection, its L2CAP CoC and the disconnection (full decode: ${art:-$t}/btmon.txt)"
awk '/^[<>@=]/ { n++; p = (n <= 6) || (/Disconnect Complete/ && d++ < 2) } p' "$t/btmon-conn.txt" | grep -vE '^ +(Connection interval|Connection latency|Supervision timeout|Central clock)' | sed 's/^/  /'
echo "== btmon: the lock's advertising report as hci1 saw it (first ADV_IND and SCAN_RSP)"
awk 'function flush() { if (b ~ /LE Advertising Report/ && ((b ~ /ADV_IND/ && !a++) || (b ~ /SCAN_RSP/ && !s++))) printf "%s", b; b = "" }
     /^[<>@=]/ { flush() } { b = b $0 "\n" } END { flush() }' "$t/btmon.txt" | sed 's/^/  /' | head -40
echo "== relay line $RELAY as seen on the simulator side (polled every 10 ms):"
sed 's/^/  /' "$t/relay-monitor.log"
echo "== kernel trace of the relay line (gpio $RELAY_GPIO = warden-sim line $RELAY):"
trace_lines | sed 's/^/  /'
echo "== audit (wardenctl audit list after wardend stopped):"
grep -E 'access_granted|relay|malformed' "$t/audit.txt" | sed 's/^/  /'
echo "== kernel log (bluetooth):"
dmesg | grep -iE 'bluetooth|hci[01]|l2cap' | tail -12 | sed 's/^/  /'
if [ $failed -gt 0 ] || [ "${HWTEST_VERBOSE:-}" ]; then
  echo "== wardend log"; sed 's/^/  /' "$t/wardend.log" | tail -40
  [ -f "$t/wardend-j.log" ] && { echo "== wardend log under bluetoothd (j)"; sed 's/^/  /' "$t/wardend-j.log" | tail -40; }
  [ -f "$t/bluetoothd.log" ] && { echo "== bluetoothd log (j), advertising lines"; grep -iE 'advertis|error|fail' "$t/bluetoothd.log" | tail -30 | sed 's/^/  /'; }
fi
[ -n "$art" ] && mkdir -p "$art" && cp "$t"/*.txt "$t"/*.out "$t"/*.log "$t/btmon.snoop" "$t/warden.yaml" "$art"/ 2>/dev/null
vm_finish
