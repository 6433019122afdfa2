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
import urllib.request

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
        def api(method, path, body=None):
            req = urllib.request.Request(
                s.url + path, method=method, data=None if body is None else json.dumps(body).encode(),
                headers={"Authorization": "Bearer " + s.token, "Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=10) as r:
                return json.load(r)

        def token(door="front"):
            return api("POST", "/v1/enrollment-tokens", {"site": "hq", "door": door, "valid_minutes": 30})

        def provision(root, tok, *extra, board="sim", cloud=None):
            argv = [os.path.join(s.bin, "wardenctl"), "provision", "--cloud", cloud or s.url, "--token", tok,
                    "--board", board, "--root", root, "--boards-dir", os.path.join(REPO, "boards"),
                    "--units-dir", os.path.join(REPO, "provisioning/systemd"),
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
            ("a bad token", "x" * 43, [], {}, "unknown"),
            ("a reused token", t1["token"], [], {}, "already used (by " + dev1),
            ("an expired token", t_expired["token"], [], {}, "expired"),
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
            p = subprocess.run([os.path.join(s.bin, "wardenctl"), "phone", "unlock", "--unix", os.path.join(first, "present.sock"),
                                "--lock", dev1, "--authority", f"{s.authority_kid}={authority}",
                                "--credential", os.path.join(phone, key["id"] + ".jws"), "--key", holder],
                               capture_output=True, text=True, timeout=30)
            out = (p.stdout + p.stderr).strip()
            check(p.returncode == 0 and "granted" in out.lower(), f"a phone opens the provisioned door ({out})")

            print("== a second board cannot reach the first board's topics")
            second = os.path.join(s.tmp, "board-2")
            rc, out = provision(second, token()["token"])
            check(rc == 0, f"a second board is provisioned ({out.splitlines()[0] if out else ''})")
            dev2 = record(second)["device"]
            k2 = os.path.join(second, "etc/warden/keys")
            tls2 = ["-h", "127.0.0.1", "-p", str(s.mqtt_tls_port), "--cafile", os.path.join(k2, "broker-ca.pem"),
                    "--cert", os.path.join(k2, "broker.pem"), "--key", os.path.join(k2, "broker.key"), "-i", dev2]
            cloud = ["-h", "127.0.0.1", "-p", str(s.mqtt_port), "-u", "cloud", "-P", s.cloud_mqtt_password]

            def received(sub_args, topic, pub_args, marker):
                sub = subprocess.Popen(["mosquitto_sub", *sub_args, "-t", topic, "-W", "3", "-v"],
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                time.sleep(0.7)
                subprocess.run(["mosquitto_pub", *pub_args, "-t", topic, "-m", marker, "-q", "1"],
                               capture_output=True, timeout=10)
                out, _ = sub.communicate(timeout=10)
                return marker in out

            own, other = f"warden/v1/acme/{dev2}", f"warden/v1/acme/{dev1}"
            check(received(cloud, f"{own}/state", tls2, "m-own-pub"), "board 2 publishes on its own state topic (control)")
            check(not received(cloud, f"{other}/state", tls2, "m-other-pub"), "board 2 cannot publish on board 1's state topic")
            check(received(tls2, f"{own}/cmd", cloud, "m-own-sub"), "board 2 reads its own command topic (control)")
            check(not received(tls2, f"{other}/cmd", cloud, "m-other-sub"), "board 2 cannot read board 1's command topic")
            check(not received(tls2, "warden/v1/#", cloud, "m-wildcard"), "board 2 cannot read every board's topics")
        finally:
            wardend.terminate()
            wardend.wait(timeout=15)

        print("== a deprovisioned board can no longer connect")
        saved = os.path.join(s.tmp, "board-1-identity")
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
        check(api("GET", f"/v1/devices/{dev1}").get("state") == "decommissioned", "the cloud shows it decommissioned")
        s.reload_broker()
        time.sleep(1)
        check(not connects(tls1), "after the broker's reload its certificate is refused")
        check(connects(tls2), "board 2 still connects (control)")

    if failures:
        print(f"provision e2e: {len(failures)} check(s) FAILED")
        for f in failures:
            print("  - " + f)
        sys.exit(1)
    print("provision e2e: passed")


if __name__ == "__main__":
    main()
