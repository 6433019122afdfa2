#!/usr/bin/env python3
"""End to end through the managers' API, as the issue's acceptance reads: a manager invites a user, the phone
(`wardenctl phone enroll`) enrolls its holder key, the credential it receives opens a simulated board's door over
the key-presentation protocol, and a revoke through the API makes that door refuse it within a second.
Whole local stack (scripts/cloudstack.py); exit status 0 only when every check held."""
import base64
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cloudstack import CloudStack, wait_for  # noqa: E402

failures = []


def check(ok, what):
    print(("  ok   " if ok else "  FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)


def main():
    with CloudStack(board=True) as s:
        api = s.api

        def board_status():
            return json.loads(s.ctl("status", "--socket", s.control_socket, "--json"))

        def relocked():
            return wait_for(lambda: board_status().get("relayUnlocked") is False, 15, interval=0.1)

        user = api("POST", "/v1/users", {"name": "Paula Phone", "email": "paula@acme.example"})
        key = api("POST", "/v1/keys", {"user": user["id"], "doors": ["front"]})
        invitation = api("POST", f"/v1/users/{user['id']}/invitations", {"valid_hours": 1})
        print(f"  manager: user {user['id']}, key {key['id']} on front, invitation made")
        holder = os.path.join(s.tmp, "paula.pem")
        phone = os.path.join(s.tmp, "paula-phone")
        s.ctl("phone", "keygen", "--out", holder)
        print("  " + s.ctl("phone", "enroll", "--cloud", s.url, "--invitation", invitation["token"],
                           "--key", holder, "--out", phone).strip())
        credential = os.path.join(phone, key["id"] + ".jws")
        check(os.path.exists(credential), "the phone holds the key's credential")
        token_mode = os.stat(os.path.join(phone, "phone.token")).st_mode & 0o777
        check(token_mode == 0o600, f"the phone token is 0600 ({oct(token_mode)})")

        rc, out = s.phone_unlock(credential, holder)
        check(rc == 0 and "granted" in out.lower(), f"the enrolled phone opens the door ({out.strip()})")

        # Wait for the relay to relock, so the refusal below is the door's decision and not a busy relay.
        check(relocked(), "the relay relocked after the pulse")
        api("POST", f"/v1/keys/{key['id']}/revoke")
        revoked_at = time.monotonic()
        refused_after = None
        while time.monotonic() - revoked_at < 5:
            rc, out = s.phone_unlock(credential, holder)
            if rc != 0 and "revoked" in out.lower():
                refused_after = time.monotonic() - revoked_at
                break
        check(refused_after is not None and refused_after <= 1.0,
              f"after the revoke the door refuses the credential within a second "
              f"({'%.0f ms' % (refused_after * 1000) if refused_after is not None else 'never'}; last answer: {out.strip()})")
        print("  " + s.ctl("phone", "fetch", "--dir", phone).strip())
        check(not os.path.exists(credential), "the phone's next fetch drops the revoked credential")

        print("== a one-time key opens the door once")
        listed = board_status().get("accessListVersion", 0)
        once = api("POST", "/v1/keys", {"user": user["id"], "doors": ["front"], "one_time": True})
        print("  " + s.ctl("phone", "fetch", "--dir", phone).strip())
        once_credential = os.path.join(phone, once["id"] + ".jws")
        check(os.path.exists(once_credential), "the phone holds the one-time key's credential")
        check(wait_for(lambda: board_status().get("accessListVersion", 0) > listed, 10),
              "the board applied the grant's access list")
        rc, out = s.phone_unlock(once_credential, holder)
        used_at = time.monotonic()
        check(rc == 0 and "granted" in out.lower(), f"the one-time key opens the door ({out.strip()})")
        check(relocked(), "the relay relocked after the one-time use")
        rc, out = s.phone_unlock(once_credential, holder)
        check(rc != 0 and "revoked" in out.lower(),
              f"its second use is refused as revoked ({out.strip()}; {time.monotonic() - used_at:.1f} s after the first)")
        check(api("GET", f"/v1/keys/{once['id']}")["status"] == "revoked", "the API shows the key revoked")

        print("== wardenctl cloud: the same through the manager's command line")
        token_file = os.path.join(s.tmp, "api.token")
        with open(token_file, "w") as f:
            f.write(s.token)
        os.chmod(token_file, 0o600)
        M = ["--url", s.url, "--token-file", token_file]
        doors = json.loads(s.ctl("cloud", "doors", "list", *M, "--output", "json"))
        check([d["id"] for d in doors["items"]] == ["front"], "cloud doors list --output json: the org's doors")
        table = s.ctl("cloud", "doors", "list", *M)
        check(table.splitlines()[0].split()[:4] == ["ID", "NAME", "SITE", "STATE"] and "front" in table,
              "cloud doors list: a table for people")
        granted = json.loads(s.ctl("cloud", "keys", "grant", *M, "--user", user["id"], "--door", "front",
                                   "--output", "json"))
        check(granted["status"] == "active" and granted["doors"] == ["front"], "cloud keys grant")
        listed = json.loads(s.ctl("cloud", "keys", "list", *M, "--user", user["id"], "--status", "active",
                                  "--output", "json"))
        check([k["id"] for k in listed["items"]] == [granted["id"]], "cloud keys list --status active")
        revoked = json.loads(s.ctl("cloud", "keys", "revoke", *M, granted["id"], "--output", "json"))
        check(revoked["status"] == "revoked", "cloud keys revoke")
        tail = [json.loads(line) for line in s.ctl("cloud", "audit", "tail", *M, "--door", "front", "--limit", "50",
                                                   "--output", "json").splitlines() if line.strip()]
        check(any(e.get("result") == "granted" for e in tail) and any(e.get("reason") == "revoked" for e in tail),
              f"cloud audit tail: the grant and the refusal ({len(tail)} events)")
        out_csv = os.path.join(s.tmp, "audit.csv")
        print("  " + s.ctl("cloud", "audit", "export", *M, "--result", "denied", "--out", out_csv).strip())
        with open(out_csv) as f:
            rows = f.read().splitlines()
        check(rows[0].startswith("time,device,seq,kind,result") and len(rows) >= 2
              and all(",denied," in r for r in rows[1:]), "cloud audit export --result denied")
        sent = json.loads(s.ctl("cloud", "unlock", *M, "front", "--seconds", "2", "--output", "json"))
        check([c["device"] for c in sent["commands"]] == ["lock-front"], "cloud unlock: a signed command to the board")
        def board(field, want):
            return wait_for(lambda: board_status().get(field) is want, 5, interval=0.1)
        check(board("relayUnlocked", True), "the board unlocked on the remote command")
        check(relocked(), "the relay relocked after the remote unlock's 2 s")
        s.ctl("cloud", "lockdown", *M, "--site", "hq")
        check(board("lockdown", True), "cloud lockdown --site: the site's board is in lockdown")
        s.ctl("cloud", "lockdown", *M, "--site", "hq", "--off")

        def board_lockdown(want):
            return board("lockdown", want)
        check(board_lockdown(False), "cloud lockdown --off: the board left lockdown")
        api("PUT", "/v1/sites/hq/lockdown-plans/entrance", {"name": "Entrance", "doors": ["front"]})
        s.ctl("cloud", "lockdown", *M, "--site", "hq", "--plan", "entrance")
        check(board_lockdown(True), "cloud lockdown --plan: the plan's board is in lockdown (one call)")
        s.ctl("cloud", "lockdown", *M, "--site", "hq", "--plan", "entrance", "--off")
        check(board_lockdown(False), "cloud lockdown --plan --off: lifted")

        print("== a software rollout: the signed order reaches the board, its failure stops the rollout")
        started = json.loads(s.ctl("cloud", "rollout", "start", *M, "9.9.9", "--waves", "1", "--output", "json"))
        check(started["state"] == "running" and [d["device"] for d in started["devices"]] == ["lock-front"],
              "cloud rollout start: one wave, the board pending")
        order_file = s._path("update-order.json")
        wait_for(lambda: os.path.exists(order_file), 15)
        check(os.path.exists(order_file) and oct(os.stat(order_file).st_mode & 0o777) == "0o600",
              "warden-cloud's RolloutService signed an update order; wardend verified it and handed it over (0600)")
        order = json.load(open(order_file)) if os.path.exists(order_file) else {"token": "."}
        claims = json.loads(base64.urlsafe_b64decode(order["token"].split(".")[1] + "==")) if "." in order["token"] else {}
        check(claims.get("cmd") == "update" and claims.get("ver") == "9.9.9" and claims.get("dev") == "lock-front",
              f"the order is an update to 9.9.9 for lock-front ({claims.get('cmd')}, {claims.get('ver')})")
        # The test plays warden-updater: 9.9.9 failed its health check and 1.0.0 was put back.
        with open(s._path("update.json"), "w") as f:
            json.dump({"target": "9.9.9", "status": "rolled_back", "version": "1.0.0", "previous": "1.0.0",
                       "detail": "9.9.9 is not healthy: wardend does not answer", "jti": claims.get("jti", ""),
                       "at": int(time.time())}, f)
        # As warden-updater does after each report: wardend reads it, audits it and publishes its state at once.
        s.ctl("update", "reported", "--socket", s.control_socket)
        def rollout_status():
            return json.loads(s.ctl("cloud", "rollout", "status", *M, "--output", "json"))
        wait_for(lambda: rollout_status().get("state") != "running", 20, interval=0.5)
        status = rollout_status()
        check(status.get("state") == "stopped" and "9.9.9 is not healthy" in (status.get("reason") or ""),
              f"the board's report stopped the rollout at its first wave ({status.get('state')}: {status.get('reason')})")
        table = s.ctl("cloud", "rollout", "status", *M, status.get("id", ""))
        check(table.startswith(f"rollout {status.get('id')} of 9.9.9") and "lock-front" in table,
              "cloud rollout status: a summary line and the boards for people")
        again = json.loads(s.ctl("cloud", "rollout", "start", *M, "9.9.10", "--output", "json"))
        aborted = json.loads(s.ctl("cloud", "rollout", "abort", *M, again["id"], "--output", "json"))
        check(aborted["state"] == "aborted", "cloud rollout abort")

        print("== a support bundle asked for through the cloud: the board uploads it, with nothing secret in it")
        asked = json.loads(s.ctl("cloud", "support-bundle", "request", *M, "lock-front", "--output", "json"))
        check(asked.get("state") == "requested", f"cloud support-bundle request ({asked.get('id')})")
        order_file = s._path("support-order.json")
        wait_for(lambda: os.path.exists(order_file), 15)
        check(os.path.exists(order_file) and oct(os.stat(order_file).st_mode & 0o777) == "0o600",
              "wardend verified the signed support_bundle command and handed it over (0600)")
        with open(order_file) as f:
            handed = json.load(f)["token"]
        upload_token = json.loads(base64.urlsafe_b64decode(handed.split(".")[1] + "==")).get("tok", "")
        # warden-support.path's stand-in: what warden-support.service runs.
        argv = [os.path.join(s.bin, "wardenctl"), "support-bundle", "--order", order_file,
                "--config", s._path("warden.yaml"), "--log-file", s._path("wardend.log")]
        answered = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        check(answered.returncode == 0 and "uploaded" in answered.stdout and not os.path.exists(order_file),
              f"wardenctl support-bundle --order collected and uploaded it: {answered.stdout.strip().splitlines()[-1:]}"
              f"{answered.stderr.strip()[-300:]}")
        again = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        check(again.returncode != 0 and "no support-bundle request" in again.stderr,
              "the request is answered once (the order file is consumed)")
        bundle_file = s._path("bundle.tar.gz")
        got = s.ctl("cloud", "support-bundle", "download", *M, asked["id"], "--out", bundle_file)
        check(os.path.exists(bundle_file) and oct(os.stat(bundle_file).st_mode & 0o777) == "0o600",
              f"cloud support-bundle download: {got.strip()}")
        listed = s.ctl("cloud", "support-bundle", "list", *M, "lock-front")
        check(asked["id"] in listed and "uploaded" in listed, "cloud support-bundle list shows it uploaded")
        unpacked = s._path("bundle")
        os.makedirs(unpacked, exist_ok=True)
        subprocess.run(["tar", "-xzf", bundle_file, "-C", unpacked], check=True)
        texts = {}
        for dirpath, _, files in os.walk(unpacked):
            for name in files:
                with open(os.path.join(dirpath, name), "rb") as f:
                    texts[os.path.relpath(os.path.join(dirpath, name), unpacked)] = f.read().decode("utf-8", "replace")
        parts = {os.path.basename(p) for p in texts}
        check({"MANIFEST.txt", "versions.txt", "warden.yaml", "status.json", "journal.txt", "logs.txt"} <= parts,
              f"the bundle has its parts ({sorted(parts)})")
        with open(s._path("device.pem")) as f:
            key_lines = [line for line in f.read().splitlines() if line and not line.startswith("-----")]
        with open(s._path("board.password")) as f:
            secrets_ = {"PRIVATE KEY": "PRIVATE KEY", "the broker password": f.read().strip(),
                        "the manager's API token": s.token, "the upload token": "wsb_"}
        secrets_.update({f"device key line {i}": line for i, line in enumerate(key_lines)})
        leaks = [what for what, secret in secrets_.items() if any(secret in t for t in texts.values())]
        check(not leaks, f"no private key, password or token in the uploaded bundle (leaks: {leaks})")

        print("== no secret in any log of the run (warden-cloud, wardend, mosquitto, PostgreSQL)")
        with open(os.path.join(phone, "phone.token")) as f:
            phone_token = f.read().strip()
        with open(s.authority_key) as f:
            authority_lines = [line for line in f.read().splitlines() if line and not line.startswith("-----")]
        logged = {
            "the admin API token": s.token, "globex's API token": s.other_token,
            "the admin password": s.admin_password, "globex's admin password": s.other_password,
            "the cloud's broker password": s.cloud_mqtt_password, "the board's broker password": s.board_mqtt_password,
            "the invitation token": invitation["token"], "the phone token": phone_token,
            "the support upload token": upload_token,
        }
        logged.update({f"device key line {i}": line for i, line in enumerate(key_lines)})
        logged.update({f"authority key line {i}": line for i, line in enumerate(authority_lines)})
        logs = s.logs()
        check({"cloud.log", "wardend.log", "mosquitto.log"} <= set(logs) and "pg/log" in logs and all(len(v) > 1000 for k, v in logs.items()
              if k in ("cloud.log", "wardend.log")), f"the run's logs are there to search ({sorted(logs)})")
        empty = [what for what, secret in logged.items() if len(secret or "") < 16]
        check(not empty, f"every secret searched for is a real one ({empty})")
        found = [f"{what} in {name}" for what, secret in logged.items() for name, text in logs.items()
                 if secret and secret in text]
        check(not found, f"no token, password or private key line in any log ({found})")
        try:
            s.ctl("cloud", "doors", "list", "--url", s.url, "--token-file", os.path.join(s.tmp, "missing"))
            check(False, "a missing token file is refused")
        except Exception as e:  # noqa: BLE001
            check("cannot read" in str(e), "a missing token file is refused with a clear message")
    if failures:
        print(f"api end-to-end: {len(failures)} check(s) FAILED")
        sys.exit(1)
    print("api end-to-end: passed")


if __name__ == "__main__":
    main()
