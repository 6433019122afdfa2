#!/usr/bin/env python3
"""Checks docs/protocol.md's Python phone (warden_phone.py) against the test vectors
Tests/ProtocolTests/Vectors/handshake-v1.json, with Python's `cryptography` package only, and checks that the vectors
written out in docs/protocol.md section 15 (and the advertising example of section 4) equal that file and that every
value the document derives from them is right, so the document and the file cannot drift apart.

    python3 scripts/python-phone/check_vectors.py [path/to/handshake-v1.json [path/to/protocol.md]]

Ends with `python-phone vectors: N passed, M failed`; exits non-zero on any failure.
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import re
import socket
import sys
import tempfile
import threading
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import warden_phone as wp  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEFAULT_VECTORS = os.path.join(ROOT, "Tests", "ProtocolTests", "Vectors", "handshake-v1.json")
DEFAULT_DOC = os.path.join(ROOT, "docs", "protocol.md")

passed, failed = 0, 0


def check(name: str):
    """Decorator: runs the check now, counting it."""
    def run(fn):
        global passed, failed
        try:
            fn()
            passed += 1
            print(f"  ok    {name}")
        except Exception as e:  # noqa: BLE001
            failed += 1
            print(f"  FAIL  {name}: {type(e).__name__}: {e}")
            if os.environ.get("VERBOSE"):
                traceback.print_exc()
        return fn
    return run


def eq(a, b, what: str):
    if a != b:
        ah = a.hex() if isinstance(a, bytes) else a
        bh = b.hex() if isinstance(b, bytes) else b
        if isinstance(ah, str) and isinstance(bh, str) and max(len(ah), len(bh)) > 80:
            i = next((j for j in range(min(len(ah), len(bh))) if ah[j] != bh[j]), min(len(ah), len(bh)))
            lo = max(0, i - 16)
            raise AssertionError(f"{what} differs at character {i} (lengths {len(ah)}, {len(bh)}):\n"
                                 f"      got      ...{ah[lo:i + 48]}...\n      expected ...{bh[lo:i + 48]}...")
        raise AssertionError(f"{what} differs:\n      got      {ah}\n      expected {bh}")


def raises(code: str, fn):
    try:
        fn()
    except wp.ProtocolError as e:
        eq(e.name, code, "result code")
        return e
    raise AssertionError(f"expected {code}, nothing raised")


def b64u(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class FixedSigner:
    """ECDSA is randomised: the vector fixes the signature together with the exact message it covers."""

    def __init__(self, message: bytes, signature: bytes):
        self.message, self.signature = message, signature

    def __call__(self, message: bytes) -> bytes:
        eq(message, self.message, "message the holder is asked to sign")
        return self.signature


# --- a minimal lock written from docs/protocol.md, for transport tests ---------------------------------------------

class MockLock:
    """Lock side of one session (doc sections 7-10), answering granted/5000 ms when the holder signature verifies
    with the credential's cnf.jwk, holder_proof_invalid otherwise."""

    def __init__(self, certificate: bytes, device: ec.EllipticCurvePrivateKey):
        self.certificate, self.device = certificate, device
        self.ephemeral = ec.generate_private_key(ec.SECP256R1())
        self.nonce = os.urandom(wp.LOCK_NONCE_BYTES)

    def on_hello(self, hello: bytes) -> bytes:
        t, p = wp.parse_frame(hello)
        if t != wp.HELLO:
            raise wp.ProtocolError("unexpected_message", "not HELLO")
        if not p:
            raise wp.ProtocolError("bad_frame", "empty HELLO")
        if p[0] != 1:
            raise wp.ProtocolError("unsupported_version", "version")
        if len(p) != 83:
            raise wp.ProtocolError("bad_frame", "HELLO length")
        eph = wp.public_point(self.ephemeral)
        self.hello = hello
        self.keys = wp.derive_keys(wp.ecdh_x(self.ephemeral, p[2:67]), hello, eph, self.nonce)
        sig = wp.sign_raw(self.device, wp.lock_signed_message(hello, eph, self.nonce, self.certificate))
        plain = wp.u16(len(self.certificate)) + self.certificate + sig
        length = 65 + 32 + len(plain) + 16
        aad = bytes([wp.LOCK_HELLO]) + wp.u16(length) + eph + self.nonce
        self.lock_hello = wp.frame(wp.LOCK_HELLO, eph + self.nonce + wp.seal(self.keys.lock_to_phone, 0, plain, aad))
        return self.lock_hello

    def on_present(self, present: bytes) -> bytes:
        t, p = wp.parse_frame(present)
        if t != wp.PRESENT:
            raise wp.ProtocolError("unexpected_message", "not PRESENT")
        plain = wp.open_sealed(self.keys.phone_to_lock, 0, p, present[:3])
        r = wp.Reader(plain)
        cred = r.take(r.u16("n"), "credential")
        sig = r.take(64, "holder signature")
        r.end("present")
        jwk = json.loads(b64u(cred.split(b".")[1].decode()))["cnf"]["jwk"]
        holder = wp.load_point(b"\x04" + b64u(jwk["x"]) + b64u(jwk["y"]))
        ok = wp.verify_raw(holder, sig, wp.holder_signed_message(self.hello, self.lock_hello, cred))
        code, ms = (0x00, 5000) if ok else (0x05, 0)
        plain = bytes([code]) + ms.to_bytes(4, "big")
        return wp.frame(wp.RESULT, wp.seal(self.keys.lock_to_phone, 1, plain, bytes([wp.RESULT]) + wp.u16(21)))


def serve_one(listener: socket.socket, lock: MockLock, stream: bool, errors: list):
    try:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(5)
            t = wp.StreamTransport(conn) if stream else wp.SeqpacketTransport(conn)
            try:
                t.send(lock.on_hello(t.receive()))
                t.send(lock.on_present(t.receive()))
            except wp.ProtocolError as e:
                t.send(wp.frame(wp.ERROR, bytes([e.code])))
    except Exception as e:  # noqa: BLE001
        errors.append(e)


# --- the document's copy of the vectors (docs/protocol.md section 15) ----------------------------------------------

# Values derived from the label SHA-256(label) (a prefix for phone_nonce): the document names the label next to each.
LABELLED = ("authority_private", "device_private", "holder_private", "phone_ephemeral_private",
            "lock_ephemeral_private", "phone_nonce", "lock_nonce")
DECIMAL = ("now_unix", "unlock_ms")
LABEL_RE = re.compile(r'SHA-256\("([^"]+)"\)(?:\[0\.\.(\d+)\])?')


def is_text(name: str) -> bool:
    return name.endswith("_utf8") or name.endswith("_json") or name in DECIMAL


def section(doc: str, number: int) -> str:
    start = re.search(rf"^## {number}\. ", doc, re.M)
    if not start:
        raise AssertionError(f"docs/protocol.md has no section {number}")
    end = re.search(r"^## \d+\. ", doc[start.end():], re.M)
    return doc[start.start():start.end() + end.start()] if end else doc[start.start():]


def parse_doc_vectors(text: str) -> tuple[dict, dict]:
    """The `name: value` entries of the fenced blocks of section 15: ({name: value}, {name: first-line comment}).
    Hex values: spaces, line breaks and `#` comments are ignored. Text values (`_utf8`, `_json`, decimal): the
    indented lines join with nothing between them; no comments."""
    values: dict[str, str] = {}
    comments: dict[str, str] = {}
    fenced, name = False, None
    for raw in text.splitlines():
        if raw.startswith("```"):
            fenced, name = not fenced, None
            continue
        if not fenced:
            continue
        if not raw.strip():
            name = None
            continue
        m = re.match(r"^([a-z][a-z0-9_]*):(.*)$", raw)
        if m:
            name, rest = m.group(1), m.group(2)
            if name in values:
                raise AssertionError(f"{name} appears twice in section 15")
            comment = ""
            if not is_text(name) and "#" in rest:
                rest, comment = rest.split("#", 1)
            elif is_text(name) and re.search(r"\s{2,}#", rest):
                rest, comment = re.split(r"\s{2,}#", rest, maxsplit=1)
            values[name], comments[name] = rest.strip(), comment.strip()
            continue
        if name is None or not raw[:1].isspace():
            raise AssertionError(f"section 15: line outside an entry: {raw!r}")
        piece = raw.split("#", 1)[0] if not is_text(name) else raw
        values[name] += piece.strip()
    out = {}
    for n, val in values.items():
        if is_text(n):
            out[n] = val
        else:
            h = re.sub(r"[\s|]", "", val)
            if not re.fullmatch(r"(?:[0-9a-f]{2})*", h):
                raise AssertionError(f"section 15: {n} is not lowercase hex: {h[:40]}...")
            out[n] = h
    return out, comments


def derived_values(v: dict) -> dict:
    """Everything section 15 shows beyond the file's own values, recomputed from the file."""
    H = lambda k: bytes.fromhex(v[k])  # noqa: E731
    hello, lock_hello, present, result = H("hello"), H("lock_hello"), H("present"), H("result")
    cert, cred = H("lock_certificate"), v["credential_utf8"]
    lock_eph, lock_nonce = lock_hello[3:68], lock_hello[68:100]
    lock_tr = hello + lock_eph + lock_nonce + cert
    holder_tr = hello + lock_hello + cred.encode()
    h, c, sig = cred.split(".")
    sha = lambda b: hashlib.sha256(b).digest()  # noqa: E731
    d = {
        "phone_ephemeral_public": wp.public_point(wp.private_from_scalar(v["phone_ephemeral_private"])),
        "lock_ephemeral_public": wp.public_point(wp.private_from_scalar(v["lock_ephemeral_private"])),
        "cert_signing_input": wp.CERT_LABEL + cert[:-64],
        "credential_signature": b64u(sig),
        "lock_transcript": lock_tr,
        "lock_transcript_sha256": sha(lock_tr),
        "lock_hello_plaintext": wp.u16(len(cert)) + cert + H("lock_signature"),
        "gcm_nonce_counter_0": wp.gcm_nonce(0),
        "lock_hello_aad": lock_hello[:100],
        "holder_transcript": holder_tr,
        "holder_transcript_sha256": sha(holder_tr),
        "present_plaintext": wp.u16(len(cred)) + cred.encode() + H("holder_signature"),
        "present_aad": present[:3],
        "result_plaintext": H("result_code") + int(v["unlock_ms"]).to_bytes(4, "big"),
        "gcm_nonce_counter_1": wp.gcm_nonce(1),
        "result_aad": result[:3],
    }
    out = {k: b.hex() for k, b in d.items()}
    out["credential_header_json"] = b64u(h).decode()
    out["credential_claims_json"] = b64u(c).decode()
    return out


def check_document(v: dict, doc_path: str) -> None:
    with open(doc_path, encoding="utf-8") as f:
        doc = f.read()
    rel = os.path.relpath(doc_path, ROOT)

    @check(f"{rel} section 15: every file value written out, equal to the file")
    def _():
        values, _ = parse_doc_vectors(section(doc, 15))
        missing = [k for k in v if k != "comment" and k not in values]
        if missing:
            raise AssertionError(f"not in the document: {', '.join(missing)}")
        for k in v:
            if k != "comment":
                eq(values[k], v[k], f"section 15 {k}")

    @check(f"{rel} section 15: every derived value (transcripts, plaintexts, AADs, nonces, JSON) recomputed")
    def _():
        values, _ = parse_doc_vectors(section(doc, 15))
        derived = derived_values(v)
        unknown = [k for k in values if k not in v and k not in derived]
        if unknown:
            raise AssertionError(f"the checker does not know (so does not check): {', '.join(unknown)}")
        missing = [k for k in derived if k not in values]
        if missing:
            raise AssertionError(f"derived values missing from the document: {', '.join(missing)}")
        for k, want in derived.items():
            eq(values[k], want, f"section 15 {k}")

    @check(f"{rel} section 15: each fixed scalar and nonce is SHA-256 of the label written next to it")
    def _():
        values, comments = parse_doc_vectors(section(doc, 15))
        for k in LABELLED:
            m = LABEL_RE.search(comments.get(k, ""))
            if not m:
                raise AssertionError(f"{k}: no SHA-256(\"label\") beside it")
            digest = hashlib.sha256(m.group(1).encode()).digest()
            want = digest[:int(m.group(2)) + 1] if m.group(2) else digest
            eq(values[k], want.hex(), f"{k} = SHA-256({m.group(1)!r})")
            eq(v[k], want.hex(), f"file {k} = SHA-256({m.group(1)!r})")
        text = section(doc, 15)
        for k in LABELLED:  # the prose lists every label too
            label = LABEL_RE.search(comments[k]).group(1)
            if f"`{label}`" not in text:
                raise AssertionError(f"label {label!r} not listed in the text of section 15")

    @check(f"{rel} section 4: advertising example (lock-7f3a91, PSM 0x0081) equals what the phone computes")
    def _():
        s4 = section(doc, 4)
        m = re.search(r"Example \(informative\) for lock id `([^`]+)`, PSM `0x([0-9a-f]{4})`: tag `([0-9a-f]+)`;\s*"
                      r"advertising data `([0-9a-f]+)`;\s*scan response `([0-9a-f]+)`", s4)
        if not m:
            raise AssertionError("section 4 example not found")
        lock, psm = m.group(1), int(m.group(2), 16)
        eq(m.group(3), wp.lock_tag(lock).hex(), "section 4 tag")
        eq(m.group(4), wp.advertising_data().hex(), "section 4 advertising data")
        eq(m.group(5), wp.scan_response(lock, psm).hex(), "section 4 scan response")
        eq(len(bytes.fromhex(m.group(5))), 29, "scan response length")


def main() -> int:
    path = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_VECTORS
    doc_path = sys.argv[2] if len(sys.argv) > 2 else DEFAULT_DOC
    with open(path) as f:
        v = json.load(f)
    H = lambda k: bytes.fromhex(v[k])  # noqa: E731
    now = int(v["now_unix"])  # decimal
    unlock_ms = int(v["unlock_ms"])  # decimal
    lock_id, kid = v["lock_id_utf8"], v["authority_kid_utf8"]
    credential = v["credential_utf8"].encode()
    authority_priv = wp.private_from_scalar(v["authority_private"])
    device_priv = wp.private_from_scalar(v["device_private"])
    holder_priv = wp.private_from_scalar(v["holder_private"])
    phone_eph = wp.private_from_scalar(v["phone_ephemeral_private"])
    lock_eph = wp.private_from_scalar(v["lock_ephemeral_private"])
    authority = {kid: wp.load_point(H("authority_public"))}
    hello, lock_hello, present, result = H("hello"), H("lock_hello"), H("present"), H("result")
    lock_eph_pub, lock_nonce = lock_hello[3:68], lock_hello[68:100]
    print(f"vectors: {os.path.relpath(path, ROOT)}")
    check_document(v, doc_path)

    @check("public keys are the public halves of the private scalars")
    def _():
        eq(wp.public_point(authority_priv), H("authority_public"), "authority_public")
        eq(wp.public_point(device_priv), H("device_public"), "device_public")
        eq(wp.public_point(holder_priv), H("holder_public"), "holder_public")
        eq(wp.public_point(lock_eph), lock_eph_pub, "lock ephemeral in LOCK_HELLO")
        eq(lock_nonce, H("lock_nonce"), "lock nonce in LOCK_HELLO")

    @check("HELLO rebuilt from phone ephemeral + nonce equals the vector (86 bytes)")
    def _():
        s = wp.PhoneSession(lock_id, credential, holder_priv, authority, now, phone_eph, H("phone_nonce"))
        eq(s.hello(), hello, "HELLO")
        eq(len(hello), 86, "HELLO size")

    @check("ECDH x-coordinate, both directions")
    def _():
        eq(wp.ecdh_x(phone_eph, lock_eph_pub), H("ecdh_shared_x"), "phone-side ECDH")
        eq(wp.ecdh_x(lock_eph, hello[5:70]), H("ecdh_shared_x"), "lock-side ECDH")

    keys = wp.derive_keys(H("ecdh_shared_x"), hello, lock_eph_pub, lock_nonce)

    @check("HKDF salt and the two session keys")
    def _():
        eq(keys.salt, H("hkdf_salt"), "hkdf_salt")
        eq(keys.lock_to_phone, H("key_lock_to_phone"), "key_lock_to_phone")
        eq(keys.phone_to_lock, H("key_phone_to_lock"), "key_phone_to_lock")

    @check("LOCK_HELLO opens to certificate length || certificate || lock signature")
    def _():
        plain = wp.open_sealed(keys.lock_to_phone, 0, lock_hello[100:], lock_hello[:100])
        cert = H("lock_certificate")
        eq(plain, wp.u16(len(cert)) + cert + H("lock_signature"), "LOCK_HELLO plaintext")

    @check("lock certificate: fields, authority signature, checks at now_unix")
    def _():
        c = wp.LockCertificate.parse(H("lock_certificate"))
        eq((c.kid, c.lock_id), (kid, lock_id), "kid, lock id")
        eq(wp.public_point(c.device_key), H("device_public"), "device key")
        if not wp.verify_raw(authority[kid], c.signature, wp.CERT_LABEL + c.body):
            raise AssertionError("authority signature does not verify")
        c.verify(authority, lock_id, now)
        raises("wrong_lock", lambda: c.verify(authority, "lock-other", now))
        raises("lock_certificate_invalid", lambda: c.verify(authority, lock_id, c.not_after))
        raises("lock_certificate_invalid", lambda: c.verify(authority, lock_id, c.not_before - 1))
        raises("lock_certificate_invalid", lambda: c.verify({"other": authority[kid]}, lock_id, now))
        reissued = wp.LockCertificate.issue(kid, lock_id, H("device_public"), c.not_before, c.not_after, authority_priv)
        eq(reissued[:-64], H("lock_certificate")[:-64], "certificate body rebuilt")

    @check("lock signed message rebuilt; lock signature verifies with the certificate's device key")
    def _():
        msg = wp.lock_signed_message(hello, lock_eph_pub, lock_nonce, H("lock_certificate"))
        eq(msg, H("lock_signed_message"), "lock_signed_message")
        dev = wp.LockCertificate.parse(H("lock_certificate")).device_key
        if not wp.verify_raw(dev, H("lock_signature"), msg):
            raise AssertionError("lock signature does not verify")
        if wp.verify_raw(dev, H("lock_signature"), msg[:-1] + bytes([msg[-1] ^ 1])):
            raise AssertionError("lock signature verifies over a different message")

    @check("LOCK_HELLO rebuilt on the lock side equals the vector (349 bytes)")
    def _():
        cert = H("lock_certificate")
        plain = wp.u16(len(cert)) + cert + H("lock_signature")
        aad = bytes([wp.LOCK_HELLO]) + wp.u16(65 + 32 + len(plain) + 16) + lock_eph_pub + lock_nonce
        eq(wp.frame(wp.LOCK_HELLO, lock_eph_pub + lock_nonce + wp.seal(keys.lock_to_phone, 0, plain, aad)),
           lock_hello, "LOCK_HELLO")

    @check("credential: ES256 JWS with kid verifies with the authority key; cnf.jwk is the holder key")
    def _():
        h, c, s = v["credential_utf8"].split(".")
        header, claims = json.loads(b64u(h)), json.loads(b64u(c))
        eq((header["alg"], header["kid"]), ("ES256", kid), "JWS header")
        if not wp.verify_raw(authority[kid], b64u(s), f"{h}.{c}".encode()):
            raise AssertionError("credential signature does not verify")
        jwk = claims["cnf"]["jwk"]
        eq(b"\x04" + b64u(jwk["x"]) + b64u(jwk["y"]), H("holder_public"), "cnf.jwk")
        for claim in ("iss", "sub", "jti", "iat", "nbf", "exp"):
            if claim not in claims:
                raise AssertionError(f"claim {claim} missing")

    @check("holder signed message rebuilt; holder signature verifies with holder_public")
    def _():
        msg = wp.holder_signed_message(hello, lock_hello, credential)
        eq(msg, H("holder_signed_message"), "holder_signed_message")
        if not wp.verify_raw(wp.load_point(H("holder_public")), H("holder_signature"), msg):
            raise AssertionError("holder signature does not verify")

    @check("PRESENT rebuilt from credential + holder signature equals the vector byte for byte (586 bytes)")
    def _():
        plain = wp.u16(len(credential)) + credential + H("holder_signature")
        length = len(plain) + 16
        built = wp.frame(wp.PRESENT, wp.seal(keys.phone_to_lock, 0, plain, bytes([wp.PRESENT]) + wp.u16(length)))
        eq(built, present, "PRESENT")
        eq(wp.open_sealed(keys.phone_to_lock, 0, present[3:], present[:3]), plain, "PRESENT plaintext")

    @check("RESULT opens to granted + unlock_ms; rebuilt it equals the vector (24 bytes)")
    def _():
        plain = wp.open_sealed(keys.lock_to_phone, 1, result[3:], result[:3])
        eq(plain, H("result_code") + unlock_ms.to_bytes(4, "big"), "RESULT plaintext")
        eq((plain[0], unlock_ms), (0x00, 5000), "granted, 5000 ms")
        eq(wp.frame(wp.RESULT, wp.seal(keys.lock_to_phone, 1, plain, result[:3])), result, "RESULT")

    @check("PhoneSession end to end on the vectors: HELLO, PRESENT, Outcome(granted, 5000)")
    def _():
        s = wp.PhoneSession(lock_id, credential, FixedSigner(H("holder_signed_message"), H("holder_signature")),
                            authority, now, phone_eph, H("phone_nonce"))
        eq(s.hello(), hello, "HELLO")
        eq(s.receive(lock_hello), present, "PRESENT")
        out = s.receive(result)
        eq((out.name, out.unlock_ms), ("granted", 5000), "outcome")

    def fresh(**kw):
        s = wp.PhoneSession(kw.get("lock", lock_id), credential, holder_priv, kw.get("authority", authority), now,
                            phone_eph, H("phone_nonce"))
        s.hello()
        return s

    @check("phone refuses: tampered LOCK_HELLO, replayed LOCK_HELLO, wrong lock, untrusted authority")
    def _():
        for i in (3, 70, 100, 200, len(lock_hello) - 1):
            t = bytearray(lock_hello)
            t[i] ^= 1
            raises("bad_key" if i < 68 else "decrypt_failed", lambda: fresh().receive(bytes(t)))
        s = wp.PhoneSession(lock_id, credential, holder_priv, authority, now)  # fresh ephemeral: a replay
        s.hello()
        raises("decrypt_failed", lambda: s.receive(lock_hello))
        raises("wrong_lock", lambda: fresh(lock="lock-other").receive(lock_hello))
        rogue = {kid: ec.generate_private_key(ec.SECP256R1()).public_key()}
        raises("lock_certificate_invalid", lambda: fresh(authority=rogue).receive(lock_hello))

    @check("phone: RESULT before LOCK_HELLO, reflected HELLO, ERROR frames, bad framing")
    def _():
        raises("unexpected_message", lambda: fresh().receive(result))
        raises("unexpected_message", lambda: fresh().receive(hello))
        e = raises("busy", lambda: fresh().receive(bytes([0x7F, 0, 1, 0x25])))
        if e.authenticated:
            raise AssertionError("ERROR must be reported as unauthenticated")
        raises("bad_frame", lambda: fresh().receive(bytes([0x7F, 0, 0])))
        raises("bad_frame", lambda: fresh().receive(lock_hello + b"\x00"))
        raises("bad_frame", lambda: fresh().receive(bytes([0x09, 0, 0])))
        raises("bad_frame", lambda: fresh().receive(bytes([0x02, 0x08, 0x01]) + bytes(2049)))
        s = fresh()
        s.receive(lock_hello)
        t = bytearray(result)
        t[5] ^= 1
        raises("decrypt_failed", lambda: s.receive(bytes(t)))

    @check("section 11.2 step 1: version byte before layout; then layout (bad_frame); then key and UTF-8")
    def _():
        cert = H("lock_certificate")
        raises("bad_frame", lambda: wp.LockCertificate.parse(b""))
        raises("lock_certificate_invalid", lambda: wp.LockCertificate.parse(b"\x02"))  # any layout, even none
        raises("lock_certificate_invalid", lambda: wp.LockCertificate.parse(b"\x02" + cert[1:] + b"junk"))
        raises("bad_frame", lambda: wp.LockCertificate.parse(cert[:-1]))
        raises("bad_frame", lambda: wp.LockCertificate.parse(cert + b"\x00"))
        k = 3 + len(kid) + len(lock_id)
        raises("lock_certificate_invalid", lambda: wp.LockCertificate.parse(cert[:k] + b"\x02" + cert[k + 1:]))
        bad_utf8 = cert[:2] + b"\xff" + cert[3:]
        raises("lock_certificate_invalid", lambda: wp.LockCertificate.parse(bad_utf8))

    @check("section 7.2 order: bad_key (check 5) before a short sealed part (check 6), bad_frame before both")
    def _():
        raises("bad_frame", lambda: fresh().receive(wp.frame(wp.LOCK_HELLO, lock_eph_pub + lock_nonce[:31])))
        bad_point = b"\x04" + bytes(64)
        raises("bad_key", lambda: fresh().receive(wp.frame(wp.LOCK_HELLO, bad_point + lock_nonce + bytes(10))))
        raises("bad_frame", lambda: fresh().receive(wp.frame(wp.LOCK_HELLO, lock_eph_pub + lock_nonce + bytes(10))))
        raises("decrypt_failed", lambda: fresh().receive(wp.frame(wp.LOCK_HELLO, lock_eph_pub + lock_nonce + bytes(16))))
        e = raises("rate_limited", lambda: fresh().receive(bytes([0x7F, 0, 2, 0x26, 0x99])))  # byte 0 only
        if e.authenticated:
            raise AssertionError("ERROR must be reported as unauthenticated")

    @check("byte budget: 86 + 349 + 586 + 24 = 1045 bytes")
    def _():
        sizes = [len(hello), len(lock_hello), len(present), len(result)]
        eq(sizes, [86, 349, 586, 24], "frame sizes")
        eq(sum(sizes), 1045, "total")
        eq(len(H("lock_certificate")), 148 + len(kid) + len(lock_id), "certificate size formula")
        eq(len(lock_hello), 330 + len(kid) + len(lock_id), "LOCK_HELLO size formula")
        eq(len(present), 85 + len(credential), "PRESENT size formula")

    @check("BLE advertising example of the document (lock-7f3a91, PSM 0x0081)")
    def _():
        eq(wp.lock_tag("lock-7f3a91").hex(), "1a2eb4295ee16179", "lock tag")
        eq(wp.advertising_data().hex(), "02010611074e45445241577e9b444c5c8a01001d3f", "advertising data")
        sr = wp.scan_response("lock-7f3a91", 0x0081)
        eq(sr.hex(), "1c214e45445241577e9b444c5c8a01001d3f0181001a2eb4295ee16179", "scan response")
        eq(wp.parse_service_data(sr[2:]), (1, 0x0081, wp.lock_tag("lock-7f3a91")), "parsed service data")

    with tempfile.TemporaryDirectory() as tmp:
        files = {
            "cred": ("credential.jws", credential),
            "key": ("holder.pem", holder_priv.private_bytes(serialization.Encoding.PEM,
                                                             serialization.PrivateFormat.PKCS8,
                                                             serialization.NoEncryption())),
            "auth": ("authority.pem", authority[kid].public_bytes(serialization.Encoding.PEM,
                                                                   serialization.PublicFormat.SubjectPublicKeyInfo)),
        }
        for name, data in files.values():
            with open(os.path.join(tmp, name), "wb") as f:
                f.write(data)
        P = lambda k: os.path.join(tmp, files[k][0])  # noqa: E731

        def cli(transport_args, stream, listener):
            errors = []
            th = threading.Thread(target=serve_one,
                                  args=(listener, MockLock(H("lock_certificate"), device_priv), stream, errors))
            th.start()
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                rc = wp.main(["unlock", *transport_args, "--lock", lock_id, "--credential", P("cred"),
                              "--key", P("key"), "--authority", f"{kid}={P('auth')}", "--now", str(now)])
            th.join(10)
            listener.close()
            if errors:
                raise errors[0]
            return rc, out.getvalue().strip()

        @check("CLI unlock over TCP (frames back to back) against a mock lock written from the doc")
        def _():
            ls = socket.create_server(("127.0.0.1", 0))
            rc, out = cli(["--tcp", f"127.0.0.1:{ls.getsockname()[1]}"], True, ls)
            eq((rc, out), (0, "granted"), "exit code and output")

        @check("CLI unlock over Unix SOCK_SEQPACKET against the mock lock")
        def _():
            sp = os.path.join(tmp, "lock.sock")
            ls = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            ls.bind(sp)
            ls.listen(1)
            rc, out = cli(["--unix", sp], False, ls)
            eq((rc, out), (0, "granted"), "exit code and output")

        @check("CLI prints the lock's ERROR code name (unsupported_version from a version-2 lock)")
        def _():
            ls = socket.create_server(("127.0.0.1", 0))

            def lock():
                conn, _ = ls.accept()
                with conn:
                    t = wp.StreamTransport(conn)
                    t.receive()
                    t.send(wp.frame(wp.ERROR, bytes([0x21])))
            th = threading.Thread(target=lock)
            th.start()
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                rc = wp.main(["unlock", "--tcp", f"127.0.0.1:{ls.getsockname()[1]}", "--lock", lock_id,
                              "--credential", P("cred"), "--key", P("key"), "--authority", f"{kid}={P('auth')}"])
            th.join(10)
            ls.close()
            eq((rc, out.getvalue().strip()), (1, "unsupported_version"), "exit code and output")

    print(f"python-phone vectors: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
