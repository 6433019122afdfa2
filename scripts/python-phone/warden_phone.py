#!/usr/bin/env python3
"""Warden key-presentation protocol v1, phone side, written from docs/protocol.md (not from the Swift sources).

Library: frames, key schedule, record protection, signatures, lock certificate, BLE advertising helpers and an
I/O-free PhoneSession. CLI:

    warden_phone.py unlock --tcp HOST:PORT --lock LOCK_ID --credential FILE --key HOLDER_PEM \
        --authority KID=PUBPEM [--authority ...] [--now UNIX] [--timeout 5]

prints the result code name (exit 0 when granted, 1 otherwise, 2 on usage errors).
Only dependency: the `cryptography` package.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import socket
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Callable, Optional

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# --- constants (doc sections 4, 6, 8, 10, 11) -------------------------------------------------------------------

VERSION = 1
SERVICE_UUID = uuid.UUID("3f1d0001-8a5c-4c44-9b7e-57415244454e")
MAX_PAYLOAD = 2048
HEADER = 3
PHONE_NONCE_BYTES = 16
LOCK_NONCE_BYTES = 32
POINT_BYTES = 65
SIG_BYTES = 64
TAG_BYTES = 16

HELLO, LOCK_HELLO, PRESENT, RESULT, ERROR = 0x01, 0x02, 0x03, 0x04, 0x7F
FRAME_TYPES = {HELLO: "HELLO", LOCK_HELLO: "LOCK_HELLO", PRESENT: "PRESENT", RESULT: "RESULT", ERROR: "ERROR"}

SALT_LABEL = b"warden-v1 handshake"
KEY_INFO = b"warden-v1 session keys"
LOCK_SIG_LABEL = b"warden-v1 lock signature"
HOLDER_SIG_LABEL = b"warden-v1 holder signature"
CERT_LABEL = b"warden-lock-cert-v1"

RESULT_NAMES = {
    0x00: "granted", 0x01: "malformed_credential", 0x02: "unsupported_algorithm", 0x03: "unknown_key_id",
    0x04: "bad_signature", 0x05: "holder_proof_invalid", 0x06: "not_yet_valid", 0x07: "expired", 0x08: "wrong_door",
    0x09: "outside_schedule", 0x0A: "holiday", 0x0B: "revoked", 0x0C: "not_listed", 0x0D: "lockdown",
    0x0E: "time_unknown", 0x20: "bad_frame", 0x21: "unsupported_version", 0x22: "decrypt_failed",
    0x23: "unexpected_message", 0x24: "timeout", 0x25: "busy", 0x26: "rate_limited", 0x27: "bad_key",
    0x30: "lock_certificate_invalid", 0x31: "lock_signature_invalid", 0x32: "wrong_lock", 0x3F: "internal_error",
}
CODES = {name: code for code, name in RESULT_NAMES.items()}


def result_name(code: int) -> str:
    return RESULT_NAMES.get(code, "unknown_0x%x" % code)


class ProtocolError(Exception):
    """A session failed; `code` is the result code (doc section 13). `authenticated` is False for ERROR frames."""

    def __init__(self, code: int | str, message: str, authenticated: bool = True):
        self.code = CODES[code] if isinstance(code, str) else code
        self.message = message
        self.authenticated = authenticated
        super().__init__(f"{result_name(self.code)}: {message}")

    @property
    def name(self) -> str:
        return result_name(self.code)


# --- encodings (section 1) --------------------------------------------------------------------------------------

def u16(v: int) -> bytes:
    return v.to_bytes(2, "big")


def public_point(key) -> bytes:
    """65-byte uncompressed SEC 1 encoding of a P-256 public key (or of a private key's public half)."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        key = key.public_key()
    return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def load_point(data: bytes, code: str = "bad_key") -> ec.EllipticCurvePublicKey:
    """Imports a 65-byte 0x04||X||Y point, rejecting anything else (compressed points included)."""
    if len(data) != POINT_BYTES or data[0] != 0x04:
        raise ProtocolError(code, "not a 65-byte uncompressed P-256 point")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), data)
    except ValueError:
        raise ProtocolError(code, "not a point on P-256") from None


def private_from_scalar(hex_or_bytes) -> ec.EllipticCurvePrivateKey:
    b = bytes.fromhex(hex_or_bytes) if isinstance(hex_or_bytes, str) else hex_or_bytes
    return ec.derive_private_key(int.from_bytes(b, "big"), ec.SECP256R1())


def sign_raw(private_key: ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
    """ECDSA-P256-SHA256 over `message`, as 64-byte r||s."""
    r, s = decode_dss_signature(private_key.sign(message, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def verify_raw(public_key: ec.EllipticCurvePublicKey, signature: bytes, message: bytes) -> bool:
    if len(signature) != SIG_BYTES:
        return False
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    try:
        public_key.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
        return True
    except (InvalidSignature, ValueError):
        return False


# --- framing (section 6) ----------------------------------------------------------------------------------------

def frame(ftype: int, payload: bytes) -> bytes:
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError("bad_frame", f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    return bytes([ftype]) + u16(len(payload)) + payload


def parse_frame(data: bytes) -> tuple[int, bytes]:
    """Exactly one frame occupying all of `data`."""
    if len(data) < HEADER:
        raise ProtocolError("bad_frame", "shorter than the 3-byte header")
    if data[0] not in FRAME_TYPES:
        raise ProtocolError("bad_frame", "unknown frame type 0x%02x" % data[0])
    length = int.from_bytes(data[1:3], "big")
    if length > MAX_PAYLOAD:
        raise ProtocolError("bad_frame", f"payload length {length} exceeds {MAX_PAYLOAD}")
    if len(data) != HEADER + length:
        raise ProtocolError("bad_frame", f"header says {length} payload bytes, frame carries {len(data) - HEADER}")
    return data[0], data[HEADER:]


class Reader:
    """Bounds-checked reads; every shortfall or leftover is bad_frame."""

    def __init__(self, data: bytes):
        self.data, self.off = data, 0

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or len(self.data) - self.off < n:
            raise ProtocolError("bad_frame", f"truncated {what}")
        out = self.data[self.off:self.off + n]
        self.off += n
        return out

    def u8(self, what: str) -> int:
        return self.take(1, what)[0]

    def u16(self, what: str) -> int:
        return int.from_bytes(self.take(2, what), "big")

    def u64(self, what: str) -> int:
        return int.from_bytes(self.take(8, what), "big")

    def rest(self) -> bytes:
        return self.take(len(self.data) - self.off, "rest")

    def end(self, what: str) -> None:
        if self.off != len(self.data):
            raise ProtocolError("bad_frame", f"{len(self.data) - self.off} trailing bytes in {what}")


# --- key schedule and record protection (sections 8, 9) ---------------------------------------------------------

@dataclass
class SessionKeys:
    salt: bytes
    lock_to_phone: bytes
    phone_to_lock: bytes


def ecdh_x(private_key: ec.EllipticCurvePrivateKey, peer_point: bytes) -> bytes:
    return private_key.exchange(ec.ECDH(), load_point(peer_point, "bad_key"))


def derive_keys(shared_x: bytes, hello: bytes, lock_ephemeral: bytes, lock_nonce: bytes) -> SessionKeys:
    salt = hashlib.sha256(SALT_LABEL + hello + lock_ephemeral + lock_nonce).digest()
    okm = HKDF(algorithm=hashes.SHA256(), length=64, salt=salt, info=KEY_INFO).derive(shared_x)
    return SessionKeys(salt, okm[:32], okm[32:])


def gcm_nonce(counter: int) -> bytes:
    return b"\x00" * 4 + counter.to_bytes(8, "big")


def seal(key: bytes, counter: int, plaintext: bytes, aad: bytes) -> bytes:
    return AESGCM(key).encrypt(gcm_nonce(counter), plaintext, aad)


def open_sealed(key: bytes, counter: int, sealed: bytes, aad: bytes) -> bytes:
    if len(sealed) < TAG_BYTES:
        raise ProtocolError("bad_frame", "ciphertext shorter than its tag")
    try:
        return AESGCM(key).decrypt(gcm_nonce(counter), sealed, aad)
    except InvalidTag:
        raise ProtocolError("decrypt_failed", "message does not authenticate") from None


# --- signatures (section 10) ------------------------------------------------------------------------------------

def lock_signed_message(hello: bytes, lock_ephemeral: bytes, lock_nonce: bytes, certificate: bytes) -> bytes:
    return LOCK_SIG_LABEL + hashlib.sha256(hello + lock_ephemeral + lock_nonce + certificate).digest()


def holder_signed_message(hello: bytes, lock_hello: bytes, credential: bytes) -> bytes:
    return HOLDER_SIG_LABEL + hashlib.sha256(hello + lock_hello + credential).digest()


# --- lock certificate (section 11) ------------------------------------------------------------------------------

@dataclass
class LockCertificate:
    kid: str
    lock_id: str
    device_key: ec.EllipticCurvePublicKey
    not_before: int
    not_after: int
    body: bytes
    signature: bytes

    @staticmethod
    def build_body(kid: str, lock_id: str, device_point: bytes, not_before: int, not_after: int) -> bytes:
        k, l = kid.encode(), lock_id.encode()
        return (bytes([1, len(k)]) + k + bytes([len(l)]) + l + device_point
                + not_before.to_bytes(8, "big") + not_after.to_bytes(8, "big"))

    @classmethod
    def issue(cls, kid: str, lock_id: str, device_point: bytes, not_before: int, not_after: int,
              authority: ec.EllipticCurvePrivateKey) -> bytes:
        body = cls.build_body(kid, lock_id, device_point, not_before, not_after)
        return body + sign_raw(authority, CERT_LABEL + body)

    @classmethod
    def parse(cls, data: bytes) -> "LockCertificate":
        r = Reader(data)
        # Section 11.2 step 1: the version byte first (another version may have another layout), then the layout.
        if r.u8("certificate version") != 1:
            raise ProtocolError("lock_certificate_invalid", "unknown certificate version")
        kid = r.take(r.u8("kid length"), "kid")
        lock = r.take(r.u8("lock id length"), "lock id")
        point = r.take(POINT_BYTES, "device key")
        nb, na = r.u64("not before"), r.u64("not after")
        body_len = r.off
        sig = r.take(SIG_BYTES, "certificate signature")
        r.end("lock certificate")
        key = load_point(point, "lock_certificate_invalid")
        try:
            kid_s, lock_s = kid.decode("utf-8"), lock.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("lock_certificate_invalid", "kid or lock id is not UTF-8") from None
        return cls(kid_s, lock_s, key, nb, na, data[:body_len], sig)

    def verify(self, authority: dict[str, ec.EllipticCurvePublicKey], expected_lock_id: str, now: int) -> None:
        key = authority.get(self.kid)
        if key is None:
            raise ProtocolError("lock_certificate_invalid", f"signed by untrusted authority key {self.kid!r}")
        if not verify_raw(key, self.signature, CERT_LABEL + self.body):
            raise ProtocolError("lock_certificate_invalid", "certificate signature does not verify")
        if self.lock_id != expected_lock_id:
            raise ProtocolError("wrong_lock", f"this is lock {self.lock_id!r}, not {expected_lock_id!r}")
        if not (self.not_before <= now < self.not_after):
            raise ProtocolError("lock_certificate_invalid", "certificate not valid now")


# --- BLE advertising (section 4) --------------------------------------------------------------------------------

def lock_tag(lock_id: str) -> bytes:
    return hashlib.sha256(lock_id.encode()).digest()[:8]


def advertising_data() -> bytes:
    return bytes([0x02, 0x01, 0x06, 0x11, 0x07]) + SERVICE_UUID.bytes[::-1]


def scan_response(lock_id: str, psm: int, version: int = VERSION) -> bytes:
    data = SERVICE_UUID.bytes[::-1] + bytes([version]) + psm.to_bytes(2, "little") + lock_tag(lock_id)
    return bytes([len(data) + 1, 0x21]) + data


def parse_service_data(data: bytes) -> Optional[tuple[int, int, bytes]]:
    """Service Data - 128-bit UUID payload (after the AD length/type): (version, psm, tag), or None if not Warden."""
    if len(data) < 27 or data[:16] != SERVICE_UUID.bytes[::-1]:
        return None
    return data[16], int.from_bytes(data[17:19], "little"), data[19:27]


# --- phone session (sections 7, 19) -----------------------------------------------------------------------------

Signer = Callable[[bytes], bytes]  # message -> 64-byte r||s


@dataclass
class Outcome:
    code: int
    unlock_ms: int

    @property
    def name(self) -> str:
        return result_name(self.code)


class PhoneSession:
    """I/O-free: send hello(), feed every received frame to receive(); it returns bytes to send or an Outcome.
    Failures raise ProtocolError (authenticated=False when the code came from an ERROR frame)."""

    def __init__(self, lock_id: str, credential: bytes, holder: Signer | ec.EllipticCurvePrivateKey,
                 authority: dict[str, ec.EllipticCurvePublicKey], now: Optional[int] = None,
                 ephemeral: Optional[ec.EllipticCurvePrivateKey] = None, nonce: Optional[bytes] = None):
        self.lock_id = lock_id
        self.credential = credential
        self.sign = (lambda m: sign_raw(holder, m)) if isinstance(holder, ec.EllipticCurvePrivateKey) else holder
        self.authority = authority
        self.now = int(time.time()) if now is None else now
        self.ephemeral = ephemeral or ec.generate_private_key(ec.SECP256R1())
        self.nonce = os.urandom(PHONE_NONCE_BYTES) if nonce is None else nonce
        assert len(self.nonce) == PHONE_NONCE_BYTES
        self.state = "start"
        self.hello_frame = b""
        self.keys: Optional[SessionKeys] = None
        self.certificate: Optional[LockCertificate] = None

    def hello(self) -> bytes:
        assert self.state == "start"
        self.state = "await_lock_hello"
        self.hello_frame = frame(HELLO, bytes([VERSION, 0]) + public_point(self.ephemeral) + self.nonce)
        return self.hello_frame

    def receive(self, data: bytes) -> bytes | Outcome:
        state, self.state = self.state, "done"  # any failure ends the session
        ftype, payload = parse_frame(data)
        if ftype == ERROR:
            if not payload:
                raise ProtocolError("bad_frame", "empty ERROR")
            raise ProtocolError(payload[0], "lock sent ERROR (unauthenticated)", authenticated=False)
        if state == "await_lock_hello" and ftype == LOCK_HELLO:
            out = self._lock_hello(data, payload)
            self.state = "await_result"
            return out
        if state == "await_result" and ftype == RESULT:
            return self._result(data, payload)
        raise ProtocolError("unexpected_message", f"{FRAME_TYPES[ftype]} not expected now")

    def _lock_hello(self, raw: bytes, payload: bytes) -> bytes:
        r = Reader(payload)
        lock_eph = r.take(POINT_BYTES, "lock ephemeral key")
        lock_nonce = r.take(LOCK_NONCE_BYTES, "lock nonce")
        sealed = r.rest()
        keys = derive_keys(ecdh_x(self.ephemeral, lock_eph), self.hello_frame, lock_eph, lock_nonce)
        body = Reader(open_sealed(keys.lock_to_phone, 0, sealed, raw[:HEADER + POINT_BYTES + LOCK_NONCE_BYTES]))
        cert_bytes = body.take(body.u16("certificate length"), "certificate")
        lock_sig = body.take(SIG_BYTES, "lock signature")
        body.end("lock identity")
        cert = LockCertificate.parse(cert_bytes)
        cert.verify(self.authority, self.lock_id, self.now)
        if not verify_raw(cert.device_key, lock_sig, lock_signed_message(self.hello_frame, lock_eph, lock_nonce, cert_bytes)):
            raise ProtocolError("lock_signature_invalid", "lock handshake signature does not verify")
        self.certificate, self.keys = cert, keys
        try:
            holder_sig = self.sign(holder_signed_message(self.hello_frame, raw, self.credential))
        except Exception as e:  # a hardware key refusing to sign
            raise ProtocolError("internal_error", f"holder key could not sign: {e}") from None
        if len(holder_sig) != SIG_BYTES:
            raise ProtocolError("internal_error", "holder signature must be 64 bytes r||s")
        plain = u16(len(self.credential)) + self.credential + holder_sig
        length = len(plain) + TAG_BYTES
        if length > MAX_PAYLOAD:
            raise ProtocolError("bad_frame", "credential too large for one PRESENT")
        return frame(PRESENT, seal(keys.phone_to_lock, 0, plain, bytes([PRESENT]) + u16(length)))

    def _result(self, raw: bytes, payload: bytes) -> Outcome:
        assert self.keys is not None
        r = Reader(open_sealed(self.keys.lock_to_phone, 1, payload, raw[:HEADER]))
        code = r.u8("result code")
        ms = int.from_bytes(r.take(4, "unlock time"), "big")
        r.end("result")
        return Outcome(code, ms)


# --- transports (section 5) -------------------------------------------------------------------------------------

class StreamTransport:
    """TCP development transport: frames back to back, delimited by the 3-byte header."""

    def __init__(self, sock: socket.socket):
        self.sock = sock

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _exactly(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("the lock closed the connection")
            buf += chunk
        return buf

    def receive(self) -> bytes:
        header = self._exactly(HEADER)
        length = int.from_bytes(header[1:3], "big")
        if length > MAX_PAYLOAD:
            raise ProtocolError("bad_frame", f"payload length {length} exceeds {MAX_PAYLOAD}")
        return header + self._exactly(length)

    def close(self) -> None:
        self.sock.close()


class SeqpacketTransport(StreamTransport):
    """Unix SOCK_SEQPACKET development transport: one frame per datagram."""

    def send(self, data: bytes) -> None:
        self.sock.send(data)

    def receive(self) -> bytes:
        data = self.sock.recv(HEADER + MAX_PAYLOAD + 1)
        if not data:
            raise ConnectionError("the lock closed the connection")
        return data


def run_session(session: PhoneSession, transport, timeout: float = 5.0) -> Outcome:
    """Runs one presentation; returns the authenticated Outcome or raises ProtocolError."""
    deadline = time.monotonic() + timeout
    try:
        transport.send(session.hello())
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ProtocolError("timeout", "no answer within the session time")
            transport.sock.settimeout(left)
            try:
                data = transport.receive()
            except socket.timeout:
                raise ProtocolError("timeout", "no answer within the session time") from None
            except ConnectionError as e:
                raise ProtocolError("timeout", str(e)) from None  # closed channel: the lock gave up
            step = session.receive(data)
            if isinstance(step, Outcome):
                return step
            transport.send(step)
    finally:
        transport.close()


# --- CLI ---------------------------------------------------------------------------------------------------------

def load_authority(spec: str) -> tuple[str, ec.EllipticCurvePublicKey]:
    kid, sep, path = spec.partition("=")
    if not sep or not kid:
        raise ValueError(f"--authority wants KID=PUBPEM, not {spec!r}")
    with open(path, "rb") as f:
        data = f.read()
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        key = load_point(bytes.fromhex(data.decode().strip()))  # also accept a 65-byte hex point
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError(f"{path}: not a P-256 public key")
    return kid, key


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="warden_phone.py", description="Warden key-presentation protocol v1, phone side")
    sub = p.add_subparsers(dest="command", required=True)
    u = sub.add_parser("unlock", help="present a credential to a lock over a development transport")
    where = u.add_mutually_exclusive_group(required=True)
    where.add_argument("--tcp", metavar="HOST:PORT", help="TCP development transport (frames back to back)")
    where.add_argument("--unix", metavar="PATH", help="Unix SOCK_SEQPACKET development transport")
    u.add_argument("--lock", required=True, metavar="LOCK_ID", help="the lock id this credential is for")
    u.add_argument("--credential", required=True, metavar="FILE", help="compact JWS credential as issued")
    u.add_argument("--key", required=True, metavar="HOLDER_PEM", help="holder private key (PEM, P-256)")
    u.add_argument("--authority", required=True, action="append", metavar="KID=PUBPEM",
                   help="trusted authority public key for lock certificates (repeatable)")
    u.add_argument("--now", type=int, help="unix time for the certificate check (default: this machine's clock)")
    u.add_argument("--timeout", type=float, default=5.0, help="seconds after HELLO before giving up (default 5)")
    u.add_argument("-v", "--verbose", action="store_true", help="explain failures on stderr")
    a = p.parse_args(argv)

    try:
        with open(a.credential, "rb") as f:
            credential = f.read().strip()
        with open(a.key, "rb") as f:
            holder = serialization.load_pem_private_key(f.read(), password=None)
        if not isinstance(holder, ec.EllipticCurvePrivateKey) or not isinstance(holder.curve, ec.SECP256R1):
            raise ValueError(f"{a.key}: not a P-256 private key")
        authority = dict(load_authority(s) for s in a.authority)
    except (OSError, ValueError, ProtocolError) as e:
        print(f"warden_phone: {e}", file=sys.stderr)
        return 2

    session = PhoneSession(a.lock, credential, holder, authority, now=a.now)
    try:
        if a.tcp:
            host, _, port = a.tcp.rpartition(":")
            sock = socket.create_connection((host.strip("[]"), int(port)), timeout=a.timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            transport = StreamTransport(sock)
        else:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            sock.settimeout(a.timeout)
            sock.connect(a.unix)
            transport = SeqpacketTransport(sock)
    except (OSError, ValueError) as e:
        print(f"warden_phone: cannot connect: {e}", file=sys.stderr)
        return 2

    try:
        outcome = run_session(session, transport, a.timeout)
    except ProtocolError as e:
        print(e.name)
        if a.verbose:
            print(f"warden_phone: {e.message}", file=sys.stderr)
        return 1
    except OSError as e:
        print("timeout")
        if a.verbose:
            print(f"warden_phone: {e}", file=sys.stderr)
        return 1
    print(outcome.name)
    if a.verbose:
        print(f"warden_phone: unlock time {outcome.unlock_ms} ms", file=sys.stderr)
    return 0 if outcome.code == CODES["granted"] else 1


if __name__ == "__main__":
    sys.exit(main())
