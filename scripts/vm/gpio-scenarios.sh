#!/usr/bin/env bash
# The door scenarios against the real libgpiod backend and a real GPIO character device: runs INSIDE the kernel-vm
# guest (scripts/hwtest gpio starts it there). It creates a gpio-sim chip through configfs, starts the debug-built
# wardend with boards/gpio-sim.yaml, presents a key over the development transport (wardenctl phone unlock --unix),
# drives the inputs through the simulator's pulls and reads the relay on the simulator side:
#   /sys/devices/platform/gpio-sim.N/gpiochipM/sim_gpioX/value   what an output drives (physical level)
#   /sys/devices/platform/gpio-sim.N/gpiochipM/sim_gpioX/pull    pull-up / pull-down: drives an input, makes edges
# The kernel's gpio_value trace events record every level the kernel drove on the relay line, with the process.
#
# Expectations are those of the gpio-sim wiring described in boards/gpio-sim.yaml (relay on line 6, energized LOW:
# locked = 1, unlocked = 0; door closed = 1; REX pressed = 0; tamper tripped = 1) and do NOT come from the profile
# under test, so a broken profile or backend shows up as a failed check. Environment:
#   HWTEST_BOARD      board profile to test (default boards/gpio-sim.yaml)
#   WARDEN_BIN        folder with wardend and wardenctl (default .build/debug)
#   HWTEST_ONLY       space-separated subset of: a b c d e t f k g (default all)
# Ends with exactly "hwtest gpio: N passed, M failed"; exit 1 if any failed.
set -uo pipefail
repo=${KERNEL_VM_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${WARDEN_BIN:-$repo/.build/debug}
wardend=${WARDEND:-$bin/wardend}       # e.g. the libgpiod v2 build
board=${HWTEST_BOARD:-$repo/boards/gpio-sim.yaml}
only=${HWTEST_ONLY:-a b c d e t f k g}
ctl=$bin/wardenctl

RELAY=6 DOOR=1 REX=2 TAMPER=3 LED=4
LOCKED=1 UNLOCKED=0
PULSE_MS=3000 HELD_OPEN_S=3         # boards/gpio-sim.yaml's times, for the timing windows

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"   # ok/fail/check/note, nap/now_ms, the gpio-sim chip, the trace, the monitor
want() { case " $only " in *" $1 "*) return 0;; esac; return 1; }

[ "${KERNEL_VM:-}" = 1 ] || { echo "run me in the VM: scripts/hwtest gpio"; exit 2; }
vm_init gpio
G=/sys/kernel/config/gpio-sim
[ -d $G ] || { fail "no $G: gpio-sim module not loaded or configfs not mounted"; vm_finish; }

# --- keys, credentials, config ---------------------------------------------------------------------------------------
write_config() {  # write_config FILE STATE_DIR
  cat > "$1" <<YAML
door: { id: hw-door, lock_id: lock-hwtest, groups: [hw] }
identity: { device_key: $t/device.pem, lock_certificate: $t/lock.cert }
presentation: { unix: $t/present.sock, ble: ${HWTEST_BLE:-false} }
board: $board
site: { time_zone: UTC }
authority_keys: { hw-2026: $t/authority.pem.pub }
state_dir: $2
control_socket: $t/control.sock
YAML
}
SOCK=(--socket "$t/control.sock")
wardend_pid=""
start_wardend() {
  rm -f "$t/control.sock" "$t/present.sock"
  "$wardend" --config "$t/warden.yaml" 2> "$t/wardend.log" &
  wardend_pid=$!
  local i; for i in $(seq 300); do
    [ -S "$t/control.sock" ] && [ -S "$t/present.sock" ] && break
    kill -0 $wardend_pid 2>/dev/null || break
    nap 0.1
  done
  [ -S "$t/control.sock" ]
}
watch_pid=""
start_watch() { "$ctl" watch "${SOCK[@]}" > "$t/watch.log" 2>&1 & watch_pid=$!; }
# wait_audit PATTERN TIMEOUT_MS: an audit record matching PATTERN (grep -E) arrives on `wardenctl watch`
wait_audit() {
  local start; start=$(now_ms)
  while :; do
    grep -qE "$1" "$t/watch.log" && return 0
    [ $(( $(now_ms) - start )) -ge "$2" ] && return 1
    nap 0.05
  done
}
count_audit() { grep -cE "$1" "$t/watch.log"; }
unlock() { "$ctl" phone unlock --unix "$t/present.sock" --lock lock-hwtest --authority "hw-2026=$t/authority.pem.pub" \
  --credential "$t/alice.jws" --key "$t/alice.pem" > "$t/unlock.out" 2>&1; }
cleanup() {
  [ -n "$watch_pid" ] && kill "$watch_pid" 2>/dev/null
  [ -n "$wardend_pid" ] && kill -TERM "$wardend_pid" 2>/dev/null && wait "$wardend_pid" 2>/dev/null
  [ -n "$monitor_pid" ] && kill "$monitor_pid" 2>/dev/null
  sim_down
}
trap cleanup EXIT

echo "== hwtest gpio: $(uname -r), board $(basename "$board"), binaries $bin"
sim_up warden-hwtest || { fail "cannot create the gpio-sim chip through configfs"; vm_finish; }
RELAY_GPIO=$(( $(sim_base) + RELAY ))
echo "== gpio-sim chip $CHIPDEV label warden-sim, simulator side $S (relay = global gpio $RELAY_GPIO)"
setup_keys || { fail "key setup with wardenctl dev failed"; vm_finish; }
write_config "$t/warden.yaml" "$t/state"

# Inputs start at the level opposite to wardend's bias, so the checks below see whether the bias reached the kernel.
pull $DOOR down; pull $TAMPER up; pull $REX down
trace_on
monitor_start
nap 0.1

# ===== (a) start: the relay at its locked level, inputs idle through the bias =====================================
t_start=$(now_ms)
if ! start_wardend; then
  fail "wardend did not start on the gpio-sim chip: $(tail -3 "$t/wardend.log" | tr '\n' ' ')"; vm_finish
fi
note "wardend up in $(( $(now_ms) - t_start )) ms (pid $wardend_pid)"
start_watch
note "$(grep -E 'warden-sim|gpiochip|sim_gpio|^ gpio-' /sys/kernel/debug/gpio | sed -n '1,12p' | tr -s ' ' | paste -sd'|' | sed 's/|/\n     /g')"
if want a; then
  v=$(val $RELAY); why="relay line $RELAY is $v after start, expected $LOCKED (locked; strike de-energized, active-low)"
  check "(a) relay line at its locked level ($LOCKED) once wardend holds it" [ "$v" = "$LOCKED" ]
  dbg=$(grep -E "gpio-$RELAY_GPIO " /sys/kernel/debug/gpio | tr -s ' ')
  why="debugfs: '$dbg'"
  check "(a) relay line requested as an output by wardend (debugfs: ${dbg# })" eval 'echo "$dbg" | grep -q "out" && echo "$dbg" | grep -q "wardend-relay"'
  why="door pull $(getpull $DOOR), REX pull $(getpull $REX), tamper pull $(getpull $TAMPER)"
  check "(a) input bias reached the kernel (door, REX pull-up; tamper pull-down)" \
    [ "$(getpull $DOOR)" = pull-up -a "$(getpull $REX)" = pull-up -a "$(getpull $TAMPER)" = pull-down ]
  st=$("$ctl" status --json "${SOCK[@]}" 2>&1)
  sj() { echo "$st" | grep -E "\"$1\"" | tr -d ' ,' | cut -d: -f2; }
  why="status: relayUnlocked=$(sj relayUnlocked) doorClosed=$(sj doorClosed) rexActive=$(sj rexActive) tamperActive=$(sj tamperActive)"
  check "(a) wardend reads the idle inputs through the character device (door closed, REX idle, tamper ok)" \
    [ "$(sj relayUnlocked)" = false -a "$(sj doorClosed)" = true -a "$(sj rexActive)" = false -a "$(sj tamperActive)" = false ]
fi

# ===== (b) valid credential: relay pulse, then relock ============================================================
if want b; then
  t0=$(now_ms); unlock; urc=$?
  why="wardenctl phone unlock exited $urc: $(tr '\n' ' ' < "$t/unlock.out")"
  check "(b) key presented over the development transport is granted ($(head -1 "$t/unlock.out"))" [ $urc = 0 ]
  if wait_val $RELAY $UNLOCKED 1500 && trace_lines | contains "gpio_value: $RELAY_GPIO set $UNLOCKED"; then
    ok "(b) relay line -> $UNLOCKED (unlocked) on the simulator side, driven by wardend (kernel trace)"
    t_unl=$(now_ms)
    if wait_val $RELAY $LOCKED $((PULSE_MS + 3000)); then
      held=$(trace_pulse_ms)
      why="the kernel trace shows the relay unlocked for ${held:-?} ms, expected pulse_ms=$PULSE_MS (+0/+500)"
      check "(b) relay line back to $LOCKED after the pulse (unlocked ${held:-?} ms by the kernel trace, pulse_ms $PULSE_MS)" \
        [ "${held:-0}" -ge $((PULSE_MS - 20)) -a "${held:-0}" -le $((PULSE_MS + 500)) ]
    else fail "(b) relay line still $(val $RELAY) $((PULSE_MS + 3000)) ms after the unlock: no relock"; fi
  else fail "(b) relay line stayed $(val $RELAY) after a granted presentation (expected $UNLOCKED)"; fi
  why="watch: $(grep -E 'relay|access' "$t/watch.log" | tail -3 | tr '\n' ' ')"
  check "(b) audit: relay grant [unlocked] then relay pulse_ended [locked]" wait_audit 'relay pulse_ended \[locked\]' 1000
  nap 1.2
fi

# ===== (c) grant, door opens and closes: relock at once on close ================================================
if want c; then
  unlock; urc=$?
  if [ $urc = 0 ] && wait_val $RELAY $UNLOCKED 1500; then
    t_unl=$(now_ms)
    pull $DOOR down                                        # door opens
    why="no 'input door_contact [open]' record within 2 s"
    check "(c) door opened via the simulator pull: edge seen by wardend (input door_contact [open])" wait_audit 'input door_contact \[open\]' 2000
    nap 0.3
    v=$(val $RELAY); why="relay line $v while the door is open during the pulse"
    check "(c) relay stays unlocked while the door is open within the pulse" [ "$v" = $UNLOCKED ]
    pull $DOOR up                                          # door closes
    t_cl=$(now_ms)
    if wait_val $RELAY $LOCKED 1500; then
      why="relock ${waited_ms} ms after the close, $(( $(now_ms) - t_unl )) ms into a ${PULSE_MS} ms pulse"
      check "(c) relock as soon as the door closes (${waited_ms} ms after the close, before the pulse ends)" [ $(( $(now_ms) - t_unl )) -lt $PULSE_MS ]
    else fail "(c) relay line still $(val $RELAY) 1.5 s after the door closed (expected relock)"; fi
    why="no 'relay door_closed [locked]' record"
    check "(c) audit: relay door_closed [locked]" wait_audit 'relay door_closed \[locked\]' 1500
    why="a forced_open alarm was raised for a granted opening"
    check "(c) no forced_open alarm for a granted opening" [ "$(count_audit 'alarm forced_open')" = 0 ]
  else fail "(c) unlock for the door scenario failed (rc $urc, relay $(val $RELAY))"; fi
  nap 1.2
fi

# ===== (d) request-to-exit ========================================================================================
if want d; then
  # a glitch shorter than debounce_ms must not count
  pull $REX down; pull $REX up
  nap 0.4
  why="a REX glitch shorter than debounce_ms reached the door logic"
  check "(d) a REX glitch shorter than debounce_ms is filtered (no input rex record, relay stays locked)" \
    [ "$(count_audit 'input rex')" = 0 -a "$(val $RELAY)" = $LOCKED ]
  pull $REX down; t_p=$(now_ms)                            # pressed
  if wait_val $RELAY $UNLOCKED 1500; then
    ok "(d) REX pressed (pull-down on line $REX) -> relay line $UNLOCKED in ${waited_ms} ms"
  else fail "(d) REX pressed but relay line stayed $(val $RELAY)"; fi
  why="no 'input rex [pressed]' / 'relay rex [unlocked]' record"
  check "(d) audit: input rex [pressed], relay rex [unlocked]" eval "wait_audit 'input rex \[pressed\]' 1000 && wait_audit 'relay rex \[unlocked\]' 1000"
  nap 0.1; pull $REX up
  if wait_val $RELAY $LOCKED $((PULSE_MS + 3000)); then ok "(d) relay relocked after the REX pulse"; else fail "(d) relay still unlocked after the REX pulse"; fi
  nap 1.5   # past the 1 s grace after a relock
fi

# ===== (e) forced open, held open =================================================================================
if want e; then
  pull $DOOR down                                          # opened with no grant, no REX
  why="no 'alarm forced_open' within 2 s; watch tail: $(tail -2 "$t/watch.log" | tr '\n' ' ')"
  check "(e) door opened while locked -> alarm forced_open" wait_audit 'alarm forced_open' 2000
  why="relay line moved on an alarm"
  check "(e) the relay does not move on an alarm" stays $RELAY $LOCKED 300
  pull $DOOR up
  why="no 'alarm_cleared forced_open'"
  check "(e) door closed -> alarm_cleared forced_open" wait_audit 'alarm_cleared forced_open' 2000
  nap 0.5
  unlock; urc=$?
  if [ $urc = 0 ] && wait_val $RELAY $UNLOCKED 1500; then
    pull $DOOR down; t_o=$(now_ms)                         # legitimate opening, then left open
    if wait_audit 'alarm held_open' $(( HELD_OPEN_S * 1000 + 4000 )); then
      el=$(( $(now_ms) - t_o ))
      why="held_open after ${el} ms, held_open_s=$HELD_OPEN_S"
      check "(e) door held open past held_open_s -> alarm held_open (after ${el} ms, held_open_s ${HELD_OPEN_S})" [ $el -ge $(( HELD_OPEN_S * 1000 - 500 )) ]
    else fail "(e) no 'alarm held_open' within $(( HELD_OPEN_S + 4 )) s of the door opening"; fi
    v=$(val $RELAY); why="relay line $v with the door held open after the pulse"
    check "(e) relay relocked at the end of the pulse while the door is held open" [ "$v" = $LOCKED ]
    pull $DOOR up
    why="no 'alarm_cleared held_open'"
    check "(e) door closed -> alarm_cleared held_open" wait_audit 'alarm_cleared held_open' 2000
  else fail "(e) unlock for the held-open scenario failed (rc $urc)"; fi
fi

# ===== (t) tamper ==================================================================================================
if want t; then
  pull $TAMPER up
  why="no 'alarm tamper'"
  check "(t) tamper tripped (pull-up on line $TAMPER) -> alarm tamper" wait_audit 'alarm tamper' 2000
  pull $TAMPER down
  why="no 'alarm_cleared tamper'"
  check "(t) tamper back to normal -> alarm_cleared tamper" wait_audit 'alarm_cleared tamper' 2000
fi

# ===== (f) SIGTERM while unlocked ================================================================================
if want f; then
  "$ctl" pulse --seconds 30 "${SOCK[@]}" > /dev/null 2>&1
  if wait_val $RELAY $UNLOCKED 2000; then
    # the recommended hardware pull to the relay's off level (docs/hardware.md, safe state 3): for this active-low
    # relay input a pull-up; gpio-sim returns a released line to its pull
    pull $RELAY up
    echo "  -- (f) relay pull set to pull-up (the recommended resistor to the off level); SIGTERM while unlocked" >> "$t/relay-monitor.log"
    kill -TERM $wardend_pid; wait $wardend_pid; wrc=$?; wardend_pid=""
    why="wardend exited $wrc on SIGTERM"
    check "(f) wardend exits 0 on SIGTERM" [ $wrc = 0 ]
    ld=$(last_driven)
    why="last level the kernel drove on the relay line before release: '${ld:-none}' (trace: $(trace_lines | tail -2 | tr '\n' ' '))"
    check "(f) SIGTERM while unlocked: wardend drove the relay line to $LOCKED (locked) before releasing it (kernel trace)" [ "$ld" = $LOCKED ]
    v=$(val $RELAY); why="relay line $v after exit"
    check "(f) relay line at its locked level after exit" [ "$v" = $LOCKED ]
    why="no 'relay shutdown [locked]' record in the audit"
    check "(f) audit: relay shutdown [locked]" eval "$ctl audit list --db $t/state/warden.sqlite | contains 'relay shutdown [locked]'"
  else fail "(f) wardenctl pulse did not unlock the relay (line $(val $RELAY))"; fi
  [ -n "$wardend_pid" ] && { kill -TERM $wardend_pid; wait $wardend_pid; wardend_pid=""; }
fi
[ -n "$watch_pid" ] && { kill $watch_pid 2>/dev/null; wait $watch_pid 2>/dev/null; watch_pid=""; }

# ===== (k) SIGKILL mid-pulse and in passage mode, then the unit's ExecStopPost with a broken config ==============
if want k; then
  # relay-safe must work from the board profile alone: this config names a device key and certificate that do not
  # exist (wardend itself would refuse to start with it)
  write_config "$t/broken-keys.yaml" "$t/state"
  sed -i "s#$t/device.pem#$t/missing-device.pem#; s#$t/lock.cert#$t/garbage.cert#" "$t/broken-keys.yaml"
  echo garbage > "$t/garbage.cert"
  for mode in pulse passage; do
    [ -n "$wardend_pid" ] || start_wardend || { fail "(k) wardend did not start"; break; }
    if [ $mode = pulse ]; then "$ctl" pulse --seconds 60 "${SOCK[@]}" > /dev/null 2>&1
    else "$ctl" passage on "${SOCK[@]}" > /dev/null 2>&1; fi
    if wait_val $RELAY $UNLOCKED 2000; then
      : > $TR/trace
      kill -KILL $wardend_pid; wait $wardend_pid 2>/dev/null; wardend_pid=""
      "$ctl" relay-safe --config "$t/broken-keys.yaml" > "$t/relay-safe.log" 2>&1; rrc=$?
      why="relay-safe exited $rrc: $(tr '\n' ' ' < "$t/relay-safe.log")"
      check "(k) SIGKILL in $mode: wardenctl relay-safe with a broken config exits 0" [ $rrc = 0 ]
      ld=$(last_driven)
      why="last level driven after the kill: '${ld:-none}' (trace: $(trace_lines | tail -2 | tr '\n' ' '))"
      check "(k) SIGKILL in $mode: relay-safe drove the relay line to its locked level ($LOCKED) (kernel trace)" [ "$ld" = $LOCKED ]
      [ $mode = passage ] && "$ctl" passage auto "${SOCK[@]}" > /dev/null 2>&1
    else fail "(k) $mode did not unlock the relay (line $(val $RELAY))"; fi
  done
  if start_wardend; then
    "$ctl" passage auto "${SOCK[@]}" > /dev/null 2>&1
    why="no 'daemon unclean_stop' after the kill: $("$ctl" audit list --db $t/state/warden.sqlite 2>&1 | tail -3 | tr '\n' ' ')"
    check "(k) the next start records the unclean stop" eval "$ctl audit list --db $t/state/warden.sqlite | contains 'daemon unclean_stop'"
    v=$(val $RELAY); why="relay line $v"
    check "(k) relay locked after the restart" [ "$v" = $LOCKED ]
    kill -TERM $wardend_pid; wait $wardend_pid; wardend_pid=""
  else fail "(k) wardend did not restart"; fi
fi

# ===== (g) start-up failure after the lines were taken ============================================================
if want g; then
  echo "  -- (g) relay pull set to pull-down (no pull resistor): the released line falls to 0 after the failed start" >> "$t/relay-monitor.log"
  [ -n "$wardend_pid" ] && { kill -TERM $wardend_pid; wait $wardend_pid; wardend_pid=""; }
  pull $RELAY down                                         # no pull resistor: a released line would read 0 = unlocked
  trace_lines > "$t/trace-run.log"; : > $TR/trace
  # the host's / is mounted read-only in the guest: even root cannot create the state folder there
  write_config "$t/broken.yaml" /usr/lib/warden-hwtest-readonly/state
  "$wardend" --config "$t/broken.yaml" 2> "$t/wardend-broken.log"; brc=$?
  why="wardend exited $brc; log: $(tail -2 "$t/wardend-broken.log" | tr '\n' ' ')"
  check "(g) unwritable state_dir: wardend exits 1" [ $brc = 1 ]
  why="log: $(grep -iE 'state|relay' "$t/wardend-broken.log" | tail -2 | tr '\n' ' ')"
  check "(g) the failure came after the relay line was taken and says so ('relay driven to locked')" grep -q 'relay driven to locked' "$t/wardend-broken.log"
  ld=$(last_driven)
  why="last level the kernel drove on the relay line: '${ld:-none}' (trace: $(trace_lines | tail -3 | tr '\n' ' '))"
  check "(g) relay line driven only to its locked level ($LOCKED) by the failed start (kernel trace)" [ "$ld" = $LOCKED -a "$(trace_lines | grep -c "set $UNLOCKED")" = 0 ]
fi

kill "$monitor_pid" 2>/dev/null; wait "$monitor_pid" 2>/dev/null; monitor_pid=""
echo
echo "== relay line $RELAY as seen on the simulator side (polled every 10 ms):"
sed 's/^/  /' "$t/relay-monitor.log"
echo "== kernel trace of the relay line (gpio $RELAY_GPIO = warden-sim line $RELAY; value = physical level):"
[ -s "$t/trace-run.log" ] && { echo "  -- wardend run (a-f)"; sed 's/^/  /' "$t/trace-run.log" | tail -40; echo "  -- failed start (g)"; }
trace_lines | sed 's/^/  /' | tail -20
if [ $failed -gt 0 ] || [ "${HWTEST_VERBOSE:-}" ]; then
  echo "== wardend log"; sed 's/^/  /' "$t/wardend.log"
  echo "== audit records seen by wardenctl watch"; sed 's/^/  /' "$t/watch.log"
fi
vm_finish
