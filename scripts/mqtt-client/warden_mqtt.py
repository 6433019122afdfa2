#!/usr/bin/env python3
"""An independent Warden MQTT client, written from docs/mqtt.md alone (paho-mqtt from PyPI, cryptography).

It reads a board's retained state, signs a command with the org authority key (ES256 compact JWS, docs/mqtt.md
sections 7 and 9), waits for the board's answer on cmd/result, and checks the hash chain of the audit records the
board uploads (section 6), including the record of the command it sent. It prints one JSON summary and exits 0 when
the command was executed and every audit record it saw verifies.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import struct
import sys
import threading
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_jws(payload: dict, key: ec.EllipticCurvePrivateKey, kid: str) -> str:
    """Compact JWS, ES256: raw r||s signature over 'header.payload' (section 7)."""
    header = b64url(json.dumps({"alg": "ES256", "kid": kid}, separators=(",", ":")).encode())
    body = b64url(json.dumps(payload, separators=(",", ":")).encode())
    signing_input = f"{header}.{body}".encode()
    r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    return f"{header}.{body}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def record_hash(r: dict) -> str:
    """SHA-256 over the record's canonical encoding (section 6)."""
    h = hashlib.sha256()
    h.update(b"warden-audit-v1")
    h.update(struct.pack(">q", r["seq"]))
    h.update(struct.pack(">q", r["at_ms"]))
    for field in ("kind", "door", "credential_id", "user_id", "reason", "detail"):
        value = r.get(field)
        if value is None:
            h.update(b"\xff")
        else:
            data = value.encode()
            h.update(b"\x00" + struct.pack(">I", len(data)) + data)
    h.update(bytes.fromhex(r["prev_hash"]))
    return h.hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=1883)
    ap.add_argument("--username")
    ap.add_argument("--password")
    ap.add_argument("--cafile", help="the broker's CA (TLS)")
    ap.add_argument("--org", required=True)
    ap.add_argument("--dev", required=True)
    ap.add_argument("--authority-key", required=True, help="the org authority's P-256 private key (PEM)")
    ap.add_argument("--kid", required=True)
    ap.add_argument("--command", choices=["unlock", "lockdown", "sync"], default="unlock")
    ap.add_argument("--ms", type=int, default=3000)
    ap.add_argument("--on", choices=["true", "false"], default="true")
    ap.add_argument("--timeout", type=float, default=20)
    args = ap.parse_args()

    with open(args.authority_key, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    base = f"warden/v1/{args.org}/{args.dev}"
    lock = threading.Condition()
    seen = {"state": None, "result": None, "records": {}}

    def on_connect(client, userdata, flags, reason_code, properties):
        for leaf in ("state", "audit", "cmd/result"):
            client.subscribe(f"{base}/{leaf}", qos=1)

    def on_message(client, userdata, msg):
        payload = json.loads(msg.payload)
        with lock:
            if msg.topic == f"{base}/state":
                seen["state"] = payload
            elif msg.topic == f"{base}/audit":
                for r in payload["records"]:
                    seen["records"][r["seq"]] = r
            elif msg.topic == f"{base}/cmd/result":
                seen["result"] = payload if payload.get("jti") == jti else seen["result"]
            lock.notify_all()

    jti = str(uuid.uuid4())
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"warden-py-{uuid.uuid4().hex[:8]}",
                         protocol=mqtt.MQTTv5)
    if args.username:
        client.username_pw_set(args.username, args.password)
    if args.cafile:
        client.tls_set(ca_certs=args.cafile)
    client.on_connect = on_connect
    client.on_message = on_message
    client.connect(args.host, args.port, keepalive=30)
    client.loop_start()
    deadline = time.time() + args.timeout

    def wait(cond) -> bool:
        with lock:
            while not cond():
                left = deadline - time.time()
                if left <= 0:
                    return False
                lock.wait(left)
            return True

    wait(lambda: seen["state"] is not None)  # retained: arrives right after SUBSCRIBE
    now = int(time.time())
    command = {"iss": "warden-py", "dev": args.dev, "cmd": args.command, "jti": jti, "iat": now, "exp": now + 60}
    if args.command == "unlock":
        command["ms"] = args.ms
    if args.command == "lockdown":
        command["on"] = args.on == "true"
    props = Properties(PacketTypes.PUBLISH)
    props.MessageExpiryInterval = 60
    client.publish(f"{base}/cmd", json.dumps({"jws": sign_jws(command, key, args.kid)}), qos=1, properties=props)
    wait(lambda: seen["result"] is not None)
    # The command is itself an audit record: wait until the board has uploaded it.
    wait(lambda: any(r["kind"] == "command" and jti in (r.get("detail") or "") for r in seen["records"].values()))
    client.loop_stop()
    client.disconnect()

    records = [seen["records"][s] for s in sorted(seen["records"])]
    chain_ok = all(record_hash(r) == r["hash"] for r in records) and all(
        b["prev_hash"] == a["hash"] for a, b in zip(records, records[1:]) if b["seq"] == a["seq"] + 1)
    command_audited = any(r["kind"] == "command" and jti in (r.get("detail") or "") for r in records)
    summary = {
        "state": seen["state"],
        "result": seen["result"],
        "audit_records": len(records),
        "chain_ok": chain_ok,
        "command_audited": command_audited,
    }
    print(json.dumps(summary, sort_keys=True))
    ok = seen["result"] is not None and seen["result"].get("ok") is True and chain_ok and command_audited
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
