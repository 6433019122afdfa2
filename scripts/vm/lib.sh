# Helpers shared by the hwtest suites that run INSIDE the kernel-vm guest (gpio-scenarios.sh, ble-scenarios.sh,
# gpio-v2.sh). Sourced, not run: `. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"`; then `vm_init NAME` once.
#   results   ok, fail, check (with $why), note, vm_finish ("hwtest NAME: N passed, M failed" and the exit code)
#   timing    nap (a sleep without a fork: each fork costs milliseconds under TCG), now_ms, since
#   gpio-sim  sim_up NAME (a chip labelled warden-sim with the wiring of boards/gpio-sim.yaml), sim_down, sim_base,
#             val, pull, getpull, wait_val, stays, monitor_start (logs the relay line's levels)
#   trace     trace_on (gpio_value/gpio_direction events of $RELAY_GPIO), trace_lines, trace_pulse_ms, last_driven
#   keys      setup_keys (from $HWTEST_KEYS, made on the host by scripts/hwtest, or with wardenctl dev)
# The caller sets RELAY, LOCKED, UNLOCKED (and RELAY_GPIO after sim_up) and ctl (wardenctl) where it uses them.

pass=0 failed=0 why=""
ok()   { pass=$((pass + 1)); echo "ok   - $*"; }
fail() { failed=$((failed + 1)); echo "FAIL - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what${why:+: $why}"; fi; why=""; }
note() { echo "     $*"; }
vm_finish() { echo "hwtest $vm_suite: $pass passed, $failed failed"; [ "$failed" = 0 ]; exit $?; }

# vm_init NAME: the suite's name for vm_finish, a temp folder $t, the fifo behind nap
vm_init() {
  vm_suite=$1
  t=$(mktemp -d "/tmp/hwtest-$1.XXXXXX")
  mkfifo "$t/.sleep"; exec 9<>"$t/.sleep"
}
nap() { read -r -t "$1" -u 9 _ || true; }
now_ms() { local up; read -r up _ < /proc/uptime; up=${up/./}; echo $((10#$up * 10)); }
since() { echo $(( $(now_ms) - $1 )); }

# --- gpio-sim ---------------------------------------------------------------------------------------------------------
# sim_up NAME: creates the chip through configfs (8 lines named as in boards/gpio-sim.yaml); sets C (its configfs
# folder), S (its simulator side in sysfs) and CHIPDEV (/dev/gpiochipN)
sim_up() {
  C=/sys/kernel/config/gpio-sim/$1
  mkdir "$C" "$C/bank0" || return 1
  echo 8 > "$C/bank0/num_lines"
  echo warden-sim > "$C/bank0/label"
  local i names=(spare0 door rex tamper led spare5 relay spare7)
  for i in 0 1 2 3 4 5 6 7; do mkdir "$C/bank0/line$i"; echo "${names[$i]}" > "$C/bank0/line$i/name"; done
  echo 1 > "$C/live" || return 1
  S=/sys/devices/platform/$(cat "$C/dev_name")/$(cat "$C/bank0/chip_name")
  CHIPDEV=/dev/$(cat "$C/bank0/chip_name")
}
sim_down() {
  [ -n "${C:-}" ] && [ -d "$C" ] || return 0
  echo 0 > "$C/live" 2>/dev/null
  local i; for i in 0 1 2 3 4 5 6 7; do rmdir "$C/bank0/line$i" 2>/dev/null; done
  rmdir "$C/bank0" "$C" 2>/dev/null
}
sim_base() {  # the chip's first global GPIO number (for the kernel's trace events), from debugfs
  awk -v dev="$(cat "$C/dev_name")" '/^gpiochip[0-9]+: GPIOs/ && index($0, dev) { split($3, r, "-"); print r[1] + 0; exit }' \
    /sys/kernel/debug/gpio 2>/dev/null
}
val() { local v; read -r v < "$S/sim_gpio$1/value"; echo "$v"; }
pull() { echo "pull-$2" > "$S/sim_gpio$1/pull"; }
getpull() { local v; read -r v < "$S/sim_gpio$1/pull"; echo "$v"; }
# wait_val LINE VALUE TIMEOUT_MS: 0 when the line shows VALUE in time; sets waited_ms
wait_val() {
  local start; start=$(now_ms)
  while :; do
    [ "$(val "$1")" = "$2" ] && { waited_ms=$(since "$start"); return 0; }
    [ "$(since "$start")" -ge "$3" ] && { waited_ms=$(since "$start"); return 1; }
    nap 0.01
  done
}
# stays LINE VALUE MS: the line keeps VALUE for MS
stays() { local start; start=$(now_ms); while [ "$(since "$start")" -lt "$3" ]; do [ "$(val "$1")" = "$2" ] || return 1; nap 0.02; done; }

# relay monitor: every level change seen on the simulator side, into $t/relay-monitor.log (polled every 10 ms)
monitor_pid=""
monitor_start() {
  ( last=$(val "$RELAY"); read -r up _ < /proc/uptime; echo "[gpio-sim] t=${up}s relay line $RELAY (sim_gpio$RELAY) = $last"
    while :; do
      read -r v < "$S/sim_gpio$RELAY/value"
      if [ "$v" != "$last" ]; then
        read -r up _ < /proc/uptime
        case $v in "$LOCKED") s=locked;; *) s=unlocked;; esac
        echo "[gpio-sim] t=${up}s relay line $RELAY (sim_gpio$RELAY) $last -> $v ($s)"; last=$v
      fi
      read -r -t 0.01 -u 9 _
    done ) >> "$t/relay-monitor.log" 2>&1 &
  monitor_pid=$!
}
mark() { local up; read -r up _ < /proc/uptime; echo "  -- t=${up}s $*" >> "$t/relay-monitor.log"; }

# --- the kernel's trace of the levels driven on the relay line -------------------------------------------------------
TR=/sys/kernel/tracing
[ -d $TR/events ] || mount -t tracefs nodev $TR 2>/dev/null
trace_on() {
  [ -d $TR/events/gpio ] || { note "(no gpio trace events in this kernel)"; return 0; }
  echo 0 > $TR/tracing_on; : > $TR/trace
  echo "gpio == $RELAY_GPIO" > $TR/events/gpio/gpio_value/filter 2>/dev/null
  echo "gpio == $RELAY_GPIO" > $TR/events/gpio/gpio_direction/filter 2>/dev/null
  echo 1 > $TR/events/gpio/gpio_value/enable; echo 1 > $TR/events/gpio/gpio_direction/enable
  echo 1 > $TR/tracing_on
}
# contains TEXT: stdin holds TEXT (a fixed string). Reads all of stdin, unlike `grep -q`, whose early exit can kill
# the writer with SIGPIPE and fail the pipeline under pipefail (the CI run of e98a51a lost a check that way).
contains() { local s; s=$(cat); [[ $s == *"$1"* ]]; }
trace_lines() { grep -E 'gpio_(value|direction):' $TR/trace 2>/dev/null | sed 's/^ *//'; }
# trace_pulse_ms: ms between the last "set UNLOCKED" and the "set LOCKED" after it
trace_pulse_ms() { trace_lines | awk -v u="set $UNLOCKED" -v l="set $LOCKED" '
  { ts = $0; sub(/: gpio_(value|direction).*/, "", ts); n = split(ts, f, " "); ts = f[n] + 0 }
  /gpio_value:/ && index($0, u) { t0 = ts; t1 = "" } /gpio_value:/ && index($0, l) && t0 != "" && t1 == "" { t1 = ts }
  END { if (t0 != "" && t1 != "") printf "%d\n", (t1 - t0) * 1000 }'; }
last_driven() { trace_lines | grep -E "gpio_value: $RELAY_GPIO set " | tail -1 | awk '{print $NF}'; }

# --- keys and a credential ---------------------------------------------------------------------------------------------
# setup_keys: into $t. HWTEST_KEYS is a folder where scripts/hwtest made them on the host (saves ~20 s of TCG);
# otherwise wardenctl makes them here (lock id lock-hwtest, door hw-door, kid hw-2026, user alice).
setup_keys() {
  if [ -n "${HWTEST_KEYS:-}" ] && [ -f "$HWTEST_KEYS/alice.jws" ]; then cp -p "$HWTEST_KEYS"/* "$t"/; return; fi
  "$ctl" dev authority-keygen --out "$t/authority.pem" >/dev/null &&
  "$ctl" dev device-keygen --out "$t/device.pem" >/dev/null &&
  "$ctl" dev lock-cert --authority "$t/authority.pem" --kid hw-2026 --lock-id lock-hwtest --device-key "$t/device.pem.pub" --out "$t/lock.cert" >/dev/null &&
  "$ctl" phone keygen --out "$t/alice.pem" >/dev/null &&
  "$ctl" dev issue --authority "$t/authority.pem" --kid hw-2026 --holder "$t/alice.pem.pub" --user alice --id cred-alice --door hw-door --out "$t/alice.jws" >/dev/null
}
