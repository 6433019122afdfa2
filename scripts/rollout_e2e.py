#!/usr/bin/env python3
"""A software rollout from the cloud to a packaged board and a simulated fleet (docs/updates.md). scripts/package-test
runs it on its Debian root, after the package checks, as root (chroot).

The stack: PostgreSQL, mosquitto and warden-cloud (scripts/cloudstack.py). The boards:
  * lock-pkg: the debootstrap root's warden-board package, its wardend restarted onto the stack's broker, its
    warden-updater the package's own `wardenctl update run` started when an order appears (what warden-updater.path
    does under systemd; the root has no systemd);
  * sim-00000..sim-00003: `wardenctl fleet-sim --simulate-updates-from`, wardend's controller and sync code with a
    simulated install (no apt) for each order.

Checks: a rollout of the good version (waves 1, 50 %, the rest) orders each wave only once the one before runs the
version healthy, and ends with every board on it; a version whose wardend cannot start fails its health check on the
real board, is rolled back there by itself, and stops its rollout at the first wave with the reason, the fleet never
ordered. Throughout, a phone presents at the real board and is answered; afterwards every grant it saw is in the
journal, the relay is locked, the chain verifies and the cloud holds every journal record (counted).
Prints `ok   - ...` / `FAIL - ...` lines; exit 0 when all passed.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cloudstack import CloudStack, REPO, wait_for  # noqa: E402

failures = []
FLEET = [f"sim-{i:05d}" for i in range(4)]
REAL = "lock-pkg"


def check(ok, what):
    print(("ok   - " if ok else "FAIL - ") + what, flush=True)
    if not ok:
        failures.append(what)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--root", required=True, help="the board's Debian root")
    p.add_argument("--repo", required=True, help="the signed repository's folder (served to the root)")
    p.add_argument("--gnupg", required=True, help="GNUPGHOME holding the release key")
    p.add_argument("--good", required=True, help="the good version's .deb")
    p.add_argument("--bad", required=True, help="the .deb whose wardend cannot start")
    p.add_argument("--phone", required=True, help="folder with ada.jws, phone.pem and authority.pem.pub")
    a = p.parse_args()
    root = a.root
    good = subprocess.run(["dpkg-deb", "-f", a.good, "Version"], capture_output=True, text=True).stdout.strip()
    bad = subprocess.run(["dpkg-deb", "-f", a.bad, "Version"], capture_output=True, text=True).stdout.strip()

    def in_root(*argv, timeout=60):
        r = subprocess.run(["chroot", root, *argv], capture_output=True, text=True, timeout=timeout)
        return r.returncode, (r.stdout + r.stderr).strip()

    def installed():
        return in_root("dpkg-query", "-W", "-f", "${Version}", "warden-board")[1]

    running = installed()
    with CloudStack(board=False, tmp_prefix="warden-rollout") as s:
        ctl = os.path.join(s.bin, "wardenctl")
        sock = os.path.join(root, "run/warden/control.sock")

        api = s.api

        def status():
            r = subprocess.run([ctl, "status", "--json", "--socket", sock], capture_output=True, text=True, timeout=10)
            return json.loads(r.stdout) if r.returncode == 0 else {}

        def wait(what, cond, timeout, interval=0.3):
            if wait_for(cond, timeout, interval):
                return True
            print(f"   (waited {timeout} s for {what})", flush=True)
            return False

        print("== the stack, the packaged board on its broker, and a simulated fleet")
        s.cloud("door-add", "--org", "acme", "--site", "hq", "--id", "pkg-door", "--name", "Packaged board's door")
        s.cloud("device-add", "--org", "acme", "--door", "pkg-door", "--id", REAL)
        s.cloud("fleet-add", "--org", "acme", "--site", "hq", "--prefix", "sim", "--count", str(len(FLEET)))
        keys = os.path.join(root, "etc/warden/keys")
        board_pw = open(os.path.join(keys, "broker.password")).read().strip()
        fleet_pw = s._write("fleet.password", os.urandom(12).hex(), 0o600)
        passwd = s._path("mosquitto.passwd")
        subprocess.run(["mosquitto_passwd", "-b", passwd, REAL, board_pw], check=True)
        for dev in FLEET:
            subprocess.run(["mosquitto_passwd", "-b", passwd, dev, open(fleet_pw).read()], check=True)
        os.chmod(passwd, 0o644)
        s.reload_broker()  # mosquitto reads its password file again
        time.sleep(0.3)
        # The board trusts the cloud's authority besides its own (the phone's credential is org-1's), and syncs
        # with the stack's broker as lock-pkg.
        acme_pub = os.path.join(keys, "authority-acme.pem")
        with open(s.authority_pub) as src, open(acme_pub, "w") as dst:
            dst.write(src.read())
        in_root("chown", "warden:warden", "/etc/warden/keys/authority-acme.pem")
        conf_path = os.path.join(root, "etc/warden/warden.yaml")
        conf = []
        for line in open(conf_path).read().splitlines():
            if line.startswith("authority_keys:"):
                line = (f"authority_keys: {{ org-1: keys/authority-org-1.pem, "
                        f"{s.authority_kid}: keys/authority-acme.pem }}")
            elif line.startswith("sync:"):
                line = (f'sync: {{ org: acme, broker: "127.0.0.1:{s.mqtt_port}", username: {REAL}, '
                        "password_file: keys/broker.password, ack_timeout_ms: 3000 }")
            conf.append(line)
        with open(conf_path, "w") as f:
            f.write("\n".join(conf) + "\n")
        rc, out = in_root("/etc/warden/restart-hook")
        online = wait(f"{REAL} online", lambda: api("GET", f"/v1/devices/{REAL}").get("online"), 45)
        check(rc == 0 and online and status().get("version") == running,
              f"{REAL} ({running}, from its package) is online in the cloud over the stack's broker")

        fleet_log = open(s._path("fleet.log"), "w")
        fleet = subprocess.Popen(
            [ctl, "fleet-sim", "--org", "acme", "--broker", f"127.0.0.1:{s.mqtt_port}", "--count", str(len(FLEET)),
             "--prefix", "sim", "--dir", s._path("fleet"), "--authority-key", f"{s.authority_kid}={s.authority_pub}",
             "--password-file", fleet_pw, "--simulate-updates-from", running, "--failing-version", bad,
             "--install-seconds", "1", "--progress", "5", "--drain", "10"],
            stdout=fleet_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

        def all_online():
            devices = {d["id"]: d for d in api("GET", "/v1/devices")["items"]}
            return all(devices.get(d, {}).get("online") for d in FLEET)

        check(wait("the fleet online", all_online, 60), f"the {len(FLEET)} fleet boards are online")

        # warden-updater.path's stand-in: the package's own updater runs whenever wardend hands over an order.
        stop = threading.Event()
        updater_runs = []

        def updater():
            order = os.path.join(root, "run/warden/update-order.json")
            while not stop.is_set():
                if os.path.exists(order):
                    rc, out = in_root("wardenctl", "update", "run", "--health-timeout", "20", "--settle", "2",
                                      "--poll", "1", timeout=300)
                    updater_runs.append((rc, out))
                    print("\n".join("   | " + line for line in out.splitlines()), flush=True)
                stop.wait(0.3)

        phone_log = []

        def phone():
            ph = a.phone
            while not stop.is_set():
                r = subprocess.run(
                    [ctl, "phone", "unlock", "--unix", os.path.join(root, "run/warden/present.sock"), "--lock", REAL,
                     "--credential", os.path.join(ph, "ada.jws"), "--key", os.path.join(ph, "phone.pem"),
                     "--authority", f"org-1={os.path.join(ph, 'authority.pem.pub')}"],
                    capture_output=True, text=True, timeout=30)
                phone_log.append(((r.stdout + r.stderr).strip().splitlines() or ["no answer"])[0])
                stop.wait(1.5)

        def journal_grants():
            r = subprocess.run([ctl, "audit", "list", "--db", os.path.join(root, "var/lib/warden/warden.sqlite")],
                               capture_output=True, text=True)
            lines = r.stdout.splitlines()
            return len(lines), sum(1 for line in lines if " access_granted " in line)

        _, grants_before = journal_grants()
        threads = [threading.Thread(target=updater, daemon=True), threading.Thread(target=phone, daemon=True)]
        for t in threads:
            t.start()

        def follow(rollout_id, timeout):
            """Polls the rollout until it leaves `running`; returns the last view and every view seen."""
            views, deadline = [], time.monotonic() + timeout
            while time.monotonic() < deadline:
                v = api("GET", f"/v1/rollouts/{rollout_id}")
                views.append(v)
                if v["state"] != "running":
                    break
                time.sleep(0.3)
            return views[-1], views

        def publish(deb):
            r = subprocess.run(["provisioning/release/warden-release", "publish", "--repo", a.repo, "--channel",
                                "stable", deb], cwd=REPO, env={**os.environ, "GNUPGHOME": a.gnupg},
                               capture_output=True, text=True)
            return r.returncode == 0

        def gated(views):
            """No board of a wave is ordered before every board of the waves before it runs the version healthy."""
            for v in views:
                by_wave = {}
                for d in v["devices"]:
                    by_wave.setdefault(d["wave"], []).append(d["state"])
                for w, states in by_wave.items():
                    if any(st != "pending" for st in states):
                        earlier = [st for ww, sts in by_wave.items() if ww < w for st in sts]
                        if any(st != "healthy" for st in earlier):
                            return False, v
            return True, None

        try:
            print(f"== rollout of {good}: waves 1, 50 %, the rest")
            check(publish(a.good), f"warden-release published {good} to stable")
            started = api("POST", "/v1/rollouts", {"version": good, "waves": ["1", "50%", "100%"],
                                                   "devices": [REAL] + FLEET})
            waves = {}
            for d in started["devices"]:
                waves.setdefault(d["wave"], []).append(d["device"])
            check(waves.get(1) == [REAL] and len(waves) == 3,
                  f"the rollout plans three waves, the packaged board alone in the first ({waves})")
            t0 = time.monotonic()
            last, views = follow(started["id"], 240)
            took = time.monotonic() - t0
            ok, bad_view = gated(views)
            check(ok, f"each wave was ordered only after the one before ran {good} healthy ({len(views)} views)"
                  + ("" if ok else f"; broken by {bad_view}"))
            check(any(all(d["state"] == "pending" for d in v["devices"] if d["wave"] > 1)
                      and any(d["state"] == "ordered" for d in v["devices"] if d["wave"] == 1) for v in views),
                  "the fleet waited while the packaged board installed (seen: wave 1 ordered, the rest pending)")
            states = {d["device"]: (d["state"], d.get("version")) for d in last["devices"]}
            check(last["state"] == "completed" and all(st == ("healthy", good) for st in states.values()),
                  f"the rollout completed in {took:.0f} s: every board healthy on {good} ({last['state']}: {states})")
            check(installed() == good and status().get("version") == good,
                  f"{REAL}: dpkg and wardend say {good}; the report: {status().get('update', {}).get('status')}")
            fleet_versions = {d: open(s._path("fleet", d, "version")).read().strip() for d in FLEET}
            check(set(fleet_versions.values()) == {good}, f"the fleet boards run {good} ({fleet_versions})")

            print(f"== rollout of {bad}, whose wardend cannot start: it rolls back and the rollout stops at wave 1")
            check(publish(a.bad), f"warden-release published {bad} to stable")
            started = api("POST", "/v1/rollouts", {"version": bad, "waves": ["1", "50%", "100%"],
                                                   "devices": [REAL] + FLEET})
            t0 = time.monotonic()
            last, views = follow(started["id"], 240)
            took = time.monotonic() - t0
            states = {d["device"]: d["state"] for d in last["devices"]}
            check(last["state"] == "stopped" and f"{bad} is not healthy" in (last.get("reason") or ""),
                  f"the rollout stopped by itself in {took:.0f} s, saying why ({last['state']}: {last.get('reason')})")
            check(last.get("wave") == 1 and states.get(REAL) == "failed"
                  and all(states.get(d) == "pending" for d in FLEET),
                  f"it stopped at the first wave: {REAL} failed, the fleet never ordered ({states})")
            check(installed() == good and wait("wardend back", lambda: status().get("version") == good, 30),
                  f"{REAL} rolled back to {good} by itself (dpkg {installed()}, wardend {status().get('version')})")
            st = status()
            check((st.get("update") or {}).get("status") == "rolled_back",
                  f"its report says rolled_back: {(st.get('update') or {}).get('detail')}")
            fleet_versions = {d: open(s._path("fleet", d, "version")).read().strip() for d in FLEET}
            orders = [d for d in FLEET if os.path.exists(s._path("fleet", d, "update-order.json"))]
            check(set(fleet_versions.values()) == {good} and not orders,
                  f"the fleet stays on {good} with no order ({fleet_versions})")
            cloud = {d["id"]: d.get("software_version") for d in api("GET", "/v1/devices")["items"]}
            check(all(cloud.get(d) == good for d in [REAL] + FLEET),
                  f"GET /v1/devices shows every board's software_version as {good} ({cloud})")
        finally:
            time.sleep(2)  # a last presentation after the restart
            stop.set()
            for t in threads:
                t.join(timeout=60)

        print("== the door decided throughout, and nothing was lost")
        total = len(phone_log)
        granted = sum(1 for r in phone_log if r.startswith("granted"))
        restarting = sum(1 for r in phone_log if "cannot reach" in r or "closed the connection" in r)
        refused = total - granted - restarting
        check(refused == 0 and granted > 0 and phone_log and phone_log[-1].startswith("granted"),
              f"all {total} presentations during both rollouts answered ({granted} granted, {restarting} while "
              f"wardend restarted, {refused} refused: {[r for r in phone_log if not r.startswith('granted')][:3]})")
        _, grants_after = journal_grants()
        check(grants_before + granted == grants_after,
              f"every grant the phone saw is in the journal ({grants_before} + {granted} = {grants_after})")
        st = status()
        check(st.get("relayUnlocked") is False or wait("the relay locked",
                                                          lambda: status().get("relayUnlocked") is False, 10),
              "the relay is locked at the end")
        r = subprocess.run([ctl, "audit", "verify", "--db", os.path.join(root, "var/lib/warden/warden.sqlite")],
                           capture_output=True, text=True)
        check(r.returncode == 0, f"the journal's chain verifies ({r.stdout.strip().splitlines()[-1:]})")
        in_cloud = lambda: int(s.sql(f"SELECT count(*) FROM audit_events WHERE device_id = '{REAL}'"))  # noqa: E731
        # Counted once the door is quiet (the relock after the last grant is a record too).
        wait("the cloud to hold the journal", lambda: in_cloud() == journal_grants()[0], 30)
        records, held = journal_grants()[0], in_cloud()
        check(held == records, f"the cloud holds all {records} of {REAL}'s journal records ({held})")
        reports = s.sql(f"SELECT string_agg(reason, ' ' ORDER BY seq) FROM audit_events WHERE device_id = '{REAL}' "
                        "AND reason LIKE 'update_%'")
        check("update_installed" in reports and "update_rolled_back" in reports,
              f"the audit trail records the install and the rollback ({reports})")

        fleet.send_signal(signal.SIGTERM)
        try:
            fleet.wait(timeout=60)
        except subprocess.TimeoutExpired:
            fleet.kill()
        fleet_log.close()
        if failures:
            print("--- fleet.log (last 20 lines)")
            print("\n".join(open(s._path("fleet.log")).read().splitlines()[-20:]))
            print("--- wardend.log (last 30 lines)")
            print("\n".join(open(os.path.join(root, "var/log/wardend.log")).read().splitlines()[-30:]))

    print(f"rollout e2e: {'passed' if not failures else str(len(failures)) + ' check(s) FAILED'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
