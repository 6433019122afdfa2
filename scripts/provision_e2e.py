#!/usr/bin/env python3
"""Provisioning end to end (issue 14, docs/provisioning.md), on a real local stack: PostgreSQL, mosquitto configured
by provisioning/mosquitto/warden-broker-config (mutual TLS for boards, the device CA's revocation list, the ACL
patterns), warden-cloud with a device CA from `warden-cloud device-ca-init`, and boards provisioned into their own
folders by `wardenctl provision --root`.

Checks: a board provisioned with a manager's token runs wardend, connects with its certificate and opens its door
for an enrolled phone (the lock certificate the cloud issued); a second run changes nothing; a bad, reused or
expired token, an unknown profile and an unreachable cloud are refused with a clear message and change nothing on
disk; a second board's certificate can neither publish nor subscribe to the first board's topics at the real
broker; a deprovisioned board's certificate is refused by the broker after its revocation-list reload.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cloudstack import CloudStack, REPO  # noqa: E402

failures = []


def check(ok, what):
    print(("  ok   " if ok else "  FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)


def tree_hash(root):
    """Every path, mode and content under root (absent: a fixed value): equal hashes mean nothing changed."""
    h = hashlib.sha256()
    if not os.path.exists(root):
        return "absent"
    for dirpath, dirnames, filenames in sorted(os.walk(root)):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            h.update(f"{os.path.relpath(p, root)} {st.st_mode:o}\n".encode())
            if os.path.islink(p):
                h.update(os.readlink(p).encode())
            elif os.path.isfile(p):
                with open(p, "rb") as f:
                    h.update(f.read())
    return h.hexdigest()


def main():
    with CloudStack(board=False, tmp_prefix="warden-provision") as s:
        api = s.api

        issued = []  # every enrollment token, searched for in the logs at the end

        def token(door="front"):
            made = api("POST", "/v1/enrollment-tokens", {"site": "hq", "door": door, "valid_minutes": 30})
            issued.append(made["token"])
            return made

        def provision(root, tok, *extra, board="sim", cloud=None, installed=False):
            """`installed`: the root was made by provisioning/install-board, so provision finds the profiles and the
            unit there by itself."""
            dirs = [] if installed else ["--boards-dir", os.path.join(REPO, "boards"),
                                         "--units-dir", os.path.join(REPO, "provisioning/systemd")]
            argv = [os.path.join(s.bin, "wardenctl"), "provision", "--cloud", cloud or s.url, "--token", tok,
                    "--board", board, "--root", root, *dirs,
                    "--unix-socket", os.path.join(root, "present.sock"), *extra]
            p = subprocess.run(argv, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
            return p.returncode, (p.stdout + p.stderr).strip()

        def record(root):
            with open(os.path.join(root, "etc/warden/provisioned.json")) as f:
                return json.load(f)

        print("== provision a board with a manager's enrollment token")
        first = os.path.join(s.tmp, "board-1")
        t1 = token()
        rc, out = provision(first, t1["token"])
        check(rc == 0 and "provisioned lock-" in out, f"wardenctl provision succeeds ({out.splitlines()[0] if out else ''})")
        dev1 = record(first)["device"]
        keys = os.path.join(first, "etc/warden/keys")
        for k in ("lock.key", "broker.key"):
            mode = os.stat(os.path.join(keys, k)).st_mode & 0o777
            check(mode == 0o600, f"{k} is 0600 ({oct(mode)})")
        check(os.stat(keys).st_mode & 0o777 == 0o700, "the keys folder is 0700")
        wants = os.path.join(first, "etc/systemd/system/multi-user.target.wants/wardend.service")
        check(os.path.islink(wants), "wardend.service is installed and enabled (systemctl --root)")
        before = tree_hash(first)
        rc, out = provision(first, t1["token"])
        check(rc == 0 and "nothing changed" in out, f"a second run succeeds and says so ({out})")
        check(tree_hash(first) == before, "a second run changes nothing on disk")

        print("== refusals name what is wrong and change nothing")
        t_expired = token()
        s.sql(f"UPDATE enrollment_tokens SET expires_at = now() - interval '1 minute' WHERE id = '{t_expired['id']}'")
        fresh = os.path.join(s.tmp, "board-refused")
        for what, tok, extra, kw, says in [
            ("a bad token", "wen_" + "x" * 43, [], {}, "unknown"),
            ("a reused token", t1["token"], [], {}, "already used (by " + dev1),
            ("an expired token", t_expired["token"], [], {}, "expired"),
            # A token that reads like an option is still a token, not a usage error.
            ("a token starting with a dash", "-" + "x" * 42, [], {}, "unknown"),
            ("an unknown board profile", token()["token"], [], {"board": "no-such-board"}, "unknown board profile 'no-such-board': known are gpio-sim"),
            ("an unreachable cloud", token()["token"], [], {"cloud": "http://127.0.0.1:9"}, "cannot reach the cloud"),
            ("another door than the token's", token()["token"], ["--door", "g-door"], {}, "is for door 'front'"),
        ]:
            rc, out = provision(fresh, tok, *extra, **kw)
            check(rc != 0 and says in out, f"{what} is refused: {out.splitlines()[-1] if out else ''}")
            check(tree_hash(fresh) == "absent", f"... and nothing was written for {what}")

        print("== the provisioned board runs, connects with its certificate and opens for a phone")
        wardend = subprocess.Popen([os.path.join(s.bin, "wardend"), "--config", os.path.join(first, "etc/warden/warden.yaml")],
                                   stdout=open(os.path.join(s.tmp, "board-1.log"), "ab"), stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, cwd=first)
        try:
            deadline = time.monotonic() + 30
            device = {}
            while time.monotonic() < deadline:
                device = api("GET", f"/v1/devices/{dev1}")
                if device.get("online") and device.get("applied_version"):
                    break
                time.sleep(0.2)
            check(device.get("online") is True, f"the cloud sees {dev1} online over mutual TLS ({device})")
            mosq_log = open(s._path("mosquitto.log")).read()
            check(f"u'{dev1}'" in mosq_log, "the broker took the certificate's subject as the user name")

            user = api("POST", "/v1/users", {"name": "Ivy Installer", "email": "ivy@acme.example"})
            key = api("POST", "/v1/keys", {"user": user["id"], "doors": ["front"]})
            invitation = api("POST", f"/v1/users/{user['id']}/invitations", {"valid_hours": 1})
            holder, phone = os.path.join(s.tmp, "ivy.pem"), os.path.join(s.tmp, "ivy-phone")
            s.ctl("phone", "keygen", "--out", holder)
            s.ctl("phone", "enroll", "--cloud", s.url, "--invitation", invitation["token"], "--key", holder, "--out", phone)
            time.sleep(1.5)  # the board applies the access list that lists the new phone's credential
            authority = os.path.join(keys, f"authority-{s.authority_kid}.pem")
            unlock_argv = [os.path.join(s.bin, "wardenctl"), "phone", "unlock", "--unix", os.path.join(first, "present.sock"),
                           "--lock", dev1, "--authority", f"{s.authority_kid}={authority}",
                           "--credential", os.path.join(phone, key["id"] + ".jws"), "--key", holder]
            p = subprocess.run(unlock_argv, capture_output=True, text=True, timeout=30)
            out = (p.stdout + p.stderr).strip()
            check(p.returncode == 0 and "granted" in out.lower(), f"a phone opens the provisioned door ({out})")

            p = subprocess.run([os.path.join(s.bin, "wardenctl"), "doctor", "--config", os.path.join(first, "etc/warden/warden.yaml")],
                               capture_output=True, text=True, timeout=60)
            out = p.stdout + p.stderr
            broker_line = next((l for l in out.splitlines() if " broker " in l), "")
            check(p.returncode == 0 and broker_line.startswith("PASS"),
                  f"wardenctl doctor passes on the provisioned board, the broker with its certificate ({broker_line.strip()})")

            print("== a second board cannot reach the first board's topics")
            second = os.path.join(s.tmp, "board-2")
            # This token through the manager's CLI (wardenctl cloud enrollment-token), the others through the API.
            token_file = s._write("manager.token", s.token, 0o600)
            made = json.loads(s.ctl("cloud", "enrollment-token", "--url", s.url, "--token-file", token_file,
                                    "--site", "hq", "--door", "front", "--valid-minutes", "30", "--output", "json"))
            check(made.get("token", "").startswith("wen_") and len(made["token"]) == 47 and made.get("door") == "front",
                  "wardenctl cloud enrollment-token makes a token for the door")
            issued.append(made.get("token", ""))
            # Board 2's root is laid out by the documented install script first.
            subprocess.run([os.path.join(REPO, "provisioning/install-board"), "--bin", s.bin, "--root", second],
                           check=True, capture_output=True, timeout=60)
            rc, out = provision(second, made["token"], installed=True)
            check(rc == 0, f"a second board, installed by provisioning/install-board, is provisioned "
                           f"({out.splitlines()[0] if out else ''})")
            check(os.path.islink(os.path.join(second, "etc/systemd/system/multi-user.target.wants/wardend.service")),
                  "... with the installed wardend.service enabled")
            dev2 = record(second)["device"]
            k2 = os.path.join(second, "etc/warden/keys")
            tls2 = ["-h", "127.0.0.1", "-p", str(s.mqtt_tls_port), "--cafile", os.path.join(k2, "broker-ca.pem"),
                    "--cert", os.path.join(k2, "broker.pem"), "--key", os.path.join(k2, "broker.key"), "-i", dev2]
            cloud = ["-h", "127.0.0.1", "-p", str(s.mqtt_port), "-u", "cloud", "-P", s.cloud_mqtt_password]

            def received(sub_args, topic, pub_args, marker):
                # Publishes only once the broker has answered the subscription (-d prints its SUBACK), so a
                # refusal below is the ACL's and never a subscriber that was not listening yet.
                # stdbuf: mosquitto_sub's output to a pipe is block-buffered, and the SUBACK line must come at once.
                sub = subprocess.Popen(["stdbuf", "-oL", "mosquitto_sub", *sub_args, "-t", topic, "-W", "3", "-C", "1",
                                        "-v", "-d"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                seen = []
                for line in sub.stdout:
                    seen.append(line)
                    if "SUBACK" in line:
                        break
                check(any("SUBACK" in s for s in seen) and sub.poll() is None,
                      f"the subscriber to {topic} is subscribed and listening before the publish")
                subprocess.run(["mosquitto_pub", *pub_args, "-t", topic, "-m", marker, "-q", "1"],
                               capture_output=True, timeout=10)
                out, _ = sub.communicate(timeout=10)
                return marker in "".join(seen) + out

            own, other = f"warden/v1/acme/{dev2}", f"warden/v1/acme/{dev1}"
            check(received(cloud, f"{own}/state", tls2, "m-own-pub"), "board 2 publishes on its own state topic (control)")
            check(not received(cloud, f"{other}/state", tls2, "m-other-pub"), "board 2 cannot publish on board 1's state topic")
            check(received(tls2, f"{own}/cmd", cloud, "m-own-sub"), "board 2 reads its own command topic (control)")
            check(not received(tls2, f"{other}/cmd", cloud, "m-other-sub"), "board 2 cannot read board 1's command topic")
            check(not received(tls2, "warden/v1/#", cloud, "m-wildcard"), "board 2 cannot read every board's topics")
        finally:
            wardend.terminate()
            wardend.wait(timeout=15)

        print("== the broker certificate is renewed over MQTT while the door keeps deciding")
        config = os.path.join(first, "etc/warden/warden.yaml")
        with open(config) as f:
            text = f.read()
        # Renewal is due once a third of the certificate's life is left; renew_before_s makes it due at once.
        with open(config, "w") as f:
            f.write(text.replace("key: keys/broker.key }", "key: keys/broker.key, renew_before_s: 315360000 }"))
        old_identity = os.path.join(s.tmp, "board-1-old-identity")
        shutil.copytree(keys, old_identity)

        def serial(cert):
            return subprocess.run(["openssl", "x509", "-noout", "-serial", "-in", cert], capture_output=True,
                                  text=True).stdout.strip().split("=")[-1].lower()

        old_serial = serial(os.path.join(keys, "broker.pem"))
        wardend = subprocess.Popen([os.path.join(s.bin, "wardend"), "--config", config],
                                   stdout=open(os.path.join(s.tmp, "board-1.log"), "ab"), stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, cwd=first)
        try:
            answered, granted, outcomes = 0, 0, []
            deadline = time.monotonic() + 40
            rotated = False
            while time.monotonic() < deadline:
                if os.path.exists(os.path.join(first, "present.sock")):
                    p = subprocess.run(unlock_argv, capture_output=True, text=True, timeout=30)
                    out = (p.stdout + p.stderr).strip().lower()
                    outcomes.append(out)
                    if "granted" in out or "denied" in out or "refused" in out or "busy" in out:
                        answered += 1
                    granted += "granted" in out
                rows = s.sql(f"SELECT count(*) FILTER (WHERE revoked_at IS NULL), count(*) FROM device_certificates "
                             f"WHERE device_id = '{dev1}'")
                if rows == "1|2" and api("GET", f"/v1/devices/{dev1}").get("online") and granted >= 2:
                    rotated = True
                    break
                time.sleep(0.5)
            check(rotated, f"the cloud issued a new certificate and revoked the old one once the board used it "
                           f"(certificates active|all: {rows})")
            new_serial = serial(os.path.join(keys, "broker.pem"))
            check(new_serial != old_serial and s.sql(
                f"SELECT count(*) FROM device_certificates WHERE serial = '{new_serial}' AND revoked_at IS NULL") == "1",
                  f"the board runs on the new certificate ({old_serial[:8]}... -> {new_serial[:8]}...)")
            mode = os.stat(os.path.join(keys, "broker.key")).st_mode & 0o777
            check(mode == 0o600, f"the new broker key is 0600 ({oct(mode)})")
            check(answered == len(outcomes) and granted >= 2,
                  f"every presentation during the renewal was answered ({answered}/{len(outcomes)}, {granted} granted)")
            # The audit flows across the reconnect: the cloud ends up with every record of the board's journal.
            import sqlite3
            db = os.path.join(first, "var/lib/warden/warden.sqlite")
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                board_seq = sqlite3.connect(f"file:{db}?mode=ro", uri=True).execute("SELECT max(seq) FROM audit").fetchone()[0]
                cloud_seq = s.sql(f"SELECT coalesce(max(seq), 0) FROM audit_events WHERE device_id = '{dev1}'")
                if str(board_seq) == cloud_seq:
                    break
                time.sleep(0.3)
            check(str(board_seq) == cloud_seq, f"the cloud holds the board's whole journal after the renewal "
                                               f"(board seq {board_seq}, cloud {cloud_seq})")
            s.reload_broker()
            time.sleep(1)
            old_args = ["-h", "127.0.0.1", "-p", str(s.mqtt_tls_port), "--cafile", os.path.join(old_identity, "broker-ca.pem"),
                        "--cert", os.path.join(old_identity, "broker.pem"), "--key", os.path.join(old_identity, "broker.key"),
                        "-i", dev1 + "-old"]
            p = subprocess.run(["mosquitto_pub", *old_args, "-t", f"warden/v1/acme/{dev1}/state", "-m", "x", "-q", "1"],
                               capture_output=True, text=True, timeout=10)
            check(p.returncode != 0, "the old certificate is refused after the broker's reload")
        finally:
            wardend.terminate()
            wardend.wait(timeout=15)

        print("== a deprovisioned board can no longer connect")
        saved = os.path.join(s.tmp, "board-1-identity")
        shutil.rmtree(saved, ignore_errors=True)
        shutil.copytree(keys, saved)
        tls1 = ["-h", "127.0.0.1", "-p", str(s.mqtt_tls_port), "--cafile", os.path.join(saved, "broker-ca.pem"),
                "--cert", os.path.join(saved, "broker.pem"), "--key", os.path.join(saved, "broker.key"), "-i", dev1]

        def connects(args):
            p = subprocess.run(["mosquitto_pub", *args, "-t", f"warden/v1/acme/{args[-1]}/state", "-m", "x", "-q", "1"],
                               capture_output=True, text=True, timeout=10)
            return p.returncode == 0

        check(connects(tls1), "before: board 1's certificate connects (control)")
        p = subprocess.run([os.path.join(s.bin, "wardenctl"), "deprovision", "--root", first],
                           capture_output=True, text=True, timeout=60)
        out = (p.stdout + p.stderr).strip()
        check(p.returncode == 0 and "revoked 1 certificate" in out, f"wardenctl deprovision tells the cloud ({out.splitlines()[0] if out else ''})")
        check(not os.path.exists(os.path.join(keys, "broker.key")) and not os.path.exists(os.path.join(keys, "lock.key")),
              "its keys are wiped")
        check(not os.path.islink(wants), "wardend is disabled")
        p = subprocess.run([os.path.join(s.bin, "wardenctl"), "doctor", "--config", os.path.join(first, "etc/warden/warden.yaml")],
                           capture_output=True, text=True, timeout=60)
        check(p.returncode == 2 and "FAIL  config" in p.stdout, f"doctor on the wiped board: exit 2, config named ({p.stdout.strip()[:120]})")
        check(api("GET", f"/v1/devices/{dev1}").get("state") == "decommissioned", "the cloud shows it decommissioned")
        s.reload_broker()
        time.sleep(1)
        check(not connects(tls1), "after the broker's reload its certificate is refused")
        check(connects(tls2), "board 2 still connects (control)")

        # Enrollment tokens travel on wardenctl's command line and in the provisioning request: neither the
        # cloud's log, the boards' logs, the broker's nor PostgreSQL's may hold one.
        logs = s.logs()
        leaked = [f"token {i} in {name}" for i, t in enumerate(issued) for name, text in logs.items() if t in text]
        check(len(issued) >= 5 and "cloud.log" in logs and not leaked,
              f"no enrollment token ({len(issued)} issued) in any log ({sorted(logs)}; leaks: {leaked})")

        if failures:
            s.dump_logs(lines=60, file=sys.stdout)
            for name in ("board-1.log",):
                path = os.path.join(s.tmp, name)
                if os.path.exists(path):
                    print(f"--- {name} (all but decisions, last 60 lines)")
                    lines = [l for l in open(path, errors="replace").read().splitlines()
                             if "access granted" not in l and "presentation" not in l]
                    print("\n".join(lines[-60:]))

    if failures:
        print(f"provision e2e: {len(failures)} check(s) FAILED")
        for f in failures:
            print("  - " + f)
        sys.exit(1)
    print("provision e2e: passed")


if __name__ == "__main__":
    main()
