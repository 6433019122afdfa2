#!/usr/bin/python3
"""Raw Bluetooth helpers for the BLE VM tests (scripts/vm/ble-scenarios.sh), run INSIDE the kernel-vm guest with
Debian's /usr/bin/python3 (it has socket.AF_BLUETOOTH; the pyenv build may not). Independent of the Swift code: the
protocol side comes from scripts/python-phone/warden_phone.py (written from docs/protocol.md), the Bluetooth side is
plain sockets.

  ble_client.py scan --dev 1 [--seconds 4] [--addr AA:..]       LE active scan on hciN through a raw HCI socket;
        prints one line per advertising report: "report ADDR ADDRTYPE EVTYPE data=HEX" (EVTYPE ADV_IND, SCAN_RSP, ..)
  ble_client.py adv-enable --dev 0                                LE Set Advertising Enable (1) on hciN; prints status
  ble_client.py record --to ADDR --psm P --lock ID --credential F --key PEM --authority KID=PUB --out FILE
        one granted session over an LE L2CAP CoC; saves the HELLO and PRESENT frames (hex) to FILE
  ble_client.py malformed --to ADDR --psm P --frame HEX           sends HEX as one SDU; prints what the lock answered
  ble_client.py replay --to ADDR --psm P --in FILE                 sends the recorded HELLO, then after the lock's
        fresh LOCK_HELLO the recorded PRESENT; prints what the lock answered
  ble_client.py serve     reads the commands above from stdin, one per line, answering each with "@@done RC"
Common L2CAP options: --from ADDR (local controller address to bind; default BDADDR_ANY, like wardenctl),
  --to-type public|random|bredr (the lock's address type, default public = BDADDR_LE_PUBLIC; bredr = type 0 on both
  ends, i.e. BDADDR_LE_PUBLIC forgotten), --timeout S.
Python's socket module cannot put an LE address type into sockaddr_l2 (3.11 parses (bdaddr, psm) only and leaves
l2_bdaddr_type = BDADDR_BREDR), so bind and connect go through libc with a hand-packed sockaddr_l2.
"""
from __future__ import annotations

import argparse
import ctypes
import errno
import os
import select
import socket
import struct
import sys
import time

AF_BLUETOOTH = socket.AF_BLUETOOTH
BTPROTO_L2CAP = 0
BTPROTO_HCI = 1
SOL_BLUETOOTH = 274
BT_RCVMTU = 13
SOL_HCI = 0
HCI_FILTER = 2
BDADDR_BREDR, BDADDR_LE_PUBLIC, BDADDR_LE_RANDOM = 0x00, 0x01, 0x02
TYPE_NAMES = {0: "BDADDR_BREDR", 1: "BDADDR_LE_PUBLIC", 2: "BDADDR_LE_RANDOM"}
# docs/protocol.md section 13, the codes a lock sends in ERROR
ERROR_NAMES = {0x01: "malformed_credential", 0x20: "bad_frame", 0x21: "unsupported_version", 0x22: "decrypt_failed",
               0x23: "unexpected_message", 0x24: "timeout", 0x25: "busy", 0x26: "rate_limited", 0x27: "bad_key",
               0x3F: "internal_error"}
EVTYPES = {0: "ADV_IND", 1: "ADV_DIRECT_IND", 2: "ADV_SCAN_IND", 3: "ADV_NONCONN_IND", 4: "SCAN_RSP"}

libc = ctypes.CDLL(None, use_errno=True)


def bdaddr(text: str) -> bytes:
    parts = text.split(":")
    if len(parts) != 6:
        raise ValueError(f"not a Bluetooth address: {text!r}")
    return bytes(int(p, 16) for p in reversed(parts))


def addr_text(raw: bytes) -> str:
    return ":".join(f"{b:02X}" for b in reversed(raw))


def sockaddr_l2(addr: bytes, psm: int, addr_type: int) -> bytes:
    # struct sockaddr_l2 { sa_family_t l2_family; u16 l2_psm (LE); bdaddr_t l2_bdaddr; u16 l2_cid; u8 l2_bdaddr_type; }
    return struct.pack("<HH6sHBx", AF_BLUETOOTH, psm, addr, 0, addr_type)


def libc_call(fn, fd: int, sa: bytes, what: str) -> int:
    buf = ctypes.create_string_buffer(sa, len(sa))
    rc = fn(fd, buf, len(sa))
    return 0 if rc == 0 else ctypes.get_errno()


# --- HCI ----------------------------------------------------------------------------------------------------------

def hci_open(dev: int) -> socket.socket:
    s = socket.socket(AF_BLUETOOTH, socket.SOCK_RAW, BTPROTO_HCI)
    s.bind((dev,))
    # hci_ufilter: type_mask (events only), event_mask (all), opcode (any)
    s.setsockopt(SOL_HCI, HCI_FILTER, struct.pack("<IIIH2x", 1 << 4, 0xFFFFFFFF, 0xFFFFFFFF, 0))
    return s


def hci_cmd(s: socket.socket, ogf: int, ocf: int, params: bytes, timeout: float = 3.0) -> int:
    """Sends one command, returns the status byte of its Command Complete (or Command Status)."""
    opcode = (ogf << 10) | ocf
    s.send(struct.pack("<BHB", 1, opcode, len(params)) + params)
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no completion for HCI command 0x{opcode:04x}")
        s.settimeout(left)
        pkt = s.recv(300)
        if len(pkt) >= 7 and pkt[0] == 4 and pkt[1] == 0x0E and struct.unpack_from("<H", pkt, 4)[0] == opcode:
            return pkt[6]
        if len(pkt) >= 7 and pkt[0] == 4 and pkt[1] == 0x0F and struct.unpack_from("<H", pkt, 5)[0] == opcode:
            return pkt[3]


def cmd_scan(a) -> int:
    s = hci_open(a.dev)
    want = a.addr.upper() if a.addr else None
    hci_cmd(s, 0x08, 0x000C, bytes([0, 0]))                   # scan off (ignore: may be off already)
    st = hci_cmd(s, 0x08, 0x000B, struct.pack("<BHHBB", 1, 0x0010, 0x0010, 0, 0))  # active, 10 ms / 10 ms
    if st:
        print(f"error LE Set Scan Parameters status 0x{st:02x}")
        return 1
    st = hci_cmd(s, 0x08, 0x000C, bytes([1, 0]))
    if st:
        print(f"error LE Set Scan Enable status 0x{st:02x}")
        return 1
    seen: set[str] = set()
    deadline = time.monotonic() + a.seconds
    try:
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                pkt = s.recv(300)
            except socket.timeout:
                break
            # LE Meta event, subevent 0x02 LE Advertising Report
            if len(pkt) < 5 or pkt[0] != 4 or pkt[1] != 0x3E or pkt[3] != 0x02:
                continue
            n, off = pkt[4], 5
            for _ in range(n):
                evtype, atype = pkt[off], pkt[off + 1]
                addr = addr_text(pkt[off + 2:off + 8])
                dlen = pkt[off + 8]
                data = pkt[off + 9:off + 9 + dlen]
                off += 9 + dlen + 1
                line = f"report {addr} {'public' if atype == 0 else 'random' if atype == 1 else atype} " \
                       f"{EVTYPES.get(evtype, hex(evtype))} data={data.hex()}"
                if line not in seen:
                    seen.add(line)
                    print(line, flush=True)
                if want and addr == want and {"ADV_IND", "SCAN_RSP"} <= {l.split()[3] for l in seen if l.split()[1] == want}:
                    deadline = 0
    finally:
        hci_cmd(s, 0x08, 0x000C, bytes([0, 0]))
    return 0


def cmd_adv_enable(a) -> int:
    s = hci_open(a.dev)
    st = hci_cmd(s, 0x08, 0x000A, bytes([1]))
    # 0x0c Command Disallowed: already advertising
    print(f"hci{a.dev} LE Set Advertising Enable: status 0x{st:02x}{' (already advertising)' if st == 0x0C else ''}")
    return 0 if st in (0, 0x0C) else 1


# --- LE L2CAP CoC ---------------------------------------------------------------------------------------------------

def l2cap_connect(a) -> socket.socket:
    s = socket.socket(AF_BLUETOOTH, socket.SOCK_SEQPACKET, BTPROTO_L2CAP)
    local = bdaddr(a.from_addr) if a.from_addr else bytes(6)
    # --to-type bredr leaves l2_bdaddr_type at 0 (BDADDR_BREDR) on both ends, as Python's own sockaddr parsing
    # would: the "forgot BDADDR_LE_PUBLIC" breakage
    ltype = BDADDR_BREDR if a.to_type == "bredr" else BDADDR_LE_PUBLIC
    e = libc_call(libc.bind, s.fileno(), sockaddr_l2(local, 0, ltype), "bind")
    if e:
        raise OSError(e, f"bind to {a.from_addr or 'BDADDR_ANY'} ({TYPE_NAMES[ltype]}): {os.strerror(e)}")
    try:
        s.setsockopt(SOL_BLUETOOTH, BT_RCVMTU, struct.pack("<H", 2051))
    except OSError:
        pass
    s.setblocking(False)
    dtype = {"random": BDADDR_LE_RANDOM, "bredr": BDADDR_BREDR}.get(a.to_type, BDADDR_LE_PUBLIC)
    e = libc_call(libc.connect, s.fileno(), sockaddr_l2(bdaddr(a.to), a.psm, dtype), "connect")
    what = f"connect to {a.to} ({TYPE_NAMES[dtype]}) PSM 0x{a.psm:04x}"
    if e and e != errno.EINPROGRESS:
        raise OSError(e, f"{what}: {os.strerror(e)}")
    if e == errno.EINPROGRESS:
        _, w, _ = select.select([], [s], [], a.timeout)
        if not w:
            raise OSError(errno.ETIMEDOUT, f"{what}: no connection within {a.timeout} s")
        e = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if e:
            raise OSError(e, f"{what}: {os.strerror(e)}")
    s.setblocking(True)
    s.settimeout(a.timeout)
    return s


def receive(s: socket.socket) -> bytes | None:
    """One SDU, b'' when the lock closed the channel, None when nothing came within the timeout."""
    try:
        return s.recv(4096)
    except ConnectionResetError:
        return b""
    except socket.timeout:
        return None


def describe(data: bytes | None) -> str:
    if data is None:
        return "(no answer within the timeout)"
    if not data:
        return "(channel closed, no answer)"
    if len(data) == 4 and data[:3] == b"\x7f\x00\x01":
        return f"{data.hex()} (ERROR {ERROR_NAMES.get(data[3], f'0x{data[3]:02x}')})"
    return f"{data.hex()[:40]}{'...' if len(data) > 20 else ''} ({len(data)} bytes, type 0x{data[0]:02x})"


def cmd_malformed(a) -> int:
    frame = bytes.fromhex(a.frame)
    s = l2cap_connect(a)
    t0 = time.monotonic()
    s.send(frame)
    answer = receive(s)
    closed = receive(s) == b""
    s.close()
    print(f"malformed: sent {frame.hex()} -> {describe(answer)}; lock closed the channel: {'yes' if closed else 'no'} "
          f"({(time.monotonic() - t0) * 1000:.0f} ms)")
    return 0


def cmd_record(a) -> int:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python-phone"))
    import warden_phone as wp
    from cryptography.hazmat.primitives import serialization
    with open(a.credential, "rb") as f:
        credential = f.read().strip()
    with open(a.key, "rb") as f:
        holder = serialization.load_pem_private_key(f.read(), password=None)
    authority = dict(wp.load_authority(x) for x in a.authority)
    session = wp.PhoneSession(a.lock, credential, holder, authority)
    s = l2cap_connect(a)
    t0 = time.monotonic()
    hello = session.hello()
    s.send(hello)
    lock_hello = receive(s)
    if not lock_hello:
        print(f"record: no LOCK_HELLO: {describe(lock_hello)}")
        return 1
    try:
        present = session.receive(lock_hello)
        s.send(present)
        answer = receive(s)
        if not answer:
            print(f"record: no RESULT: {describe(answer)}")
            return 1
        outcome = session.receive(answer)
    except wp.ProtocolError as e:
        print(f"record: session failed: {e.name} ({e.message})")
        return 1
    s.close()
    with open(a.out, "w") as f:
        f.write(f"hello {hello.hex()}\npresent {present.hex()}\n")
    print(f"record: {outcome.name} in {(time.monotonic() - t0) * 1000:.0f} ms, unlocked for {outcome.unlock_ms} ms; "
          f"recorded HELLO ({len(hello)} bytes) and PRESENT ({len(present)} bytes)")
    return 0 if outcome.name == "granted" else 1


def cmd_replay(a) -> int:
    frames = dict(line.split() for line in open(a.inp))
    hello, present = bytes.fromhex(frames["hello"]), bytes.fromhex(frames["present"])
    s = l2cap_connect(a)
    s.send(hello)
    lock_hello = receive(s)
    print(f"replay: sent the recorded HELLO -> {describe(lock_hello)}")
    if not lock_hello or lock_hello[0] != 0x02:
        return 1
    s.send(present)
    answer = receive(s)
    closed = receive(s) == b""
    s.close()
    print(f"replay: sent the recorded PRESENT -> {describe(answer)}; lock closed the channel: {'yes' if closed else 'no'}")
    return 0


COMMANDS = {}


def cmd_serve(a) -> int:
    """Reads one command line at a time (the other subcommands, shell-quoted) and answers each with its output and
    a line "@@done RC": one Python start (slow under TCG over 9p) for the whole suite."""
    import shlex
    import warden_phone  # noqa: F401  (pay the cryptography import once, up front)
    print("@@ready", flush=True)
    for line in sys.stdin:
        argv = shlex.split(line)
        if not argv:
            continue
        if argv[0] == "quit":
            break
        try:
            rc = run(a.parser.parse_args(argv))
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else 2
        print(f"@@done {rc}", flush=True)
    return 0


def run(a) -> int:
    try:
        return COMMANDS[a.cmd](a)
    except (OSError, TimeoutError) as e:
        print(f"{a.cmd}: error: {e}")
        return 2


def main() -> int:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python-phone"))
    sys.stdout.reconfigure(line_buffering=True)
    p = argparse.ArgumentParser(prog="ble_client.py")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("serve")
    sc = sub.add_parser("scan")
    sc.add_argument("--dev", type=int, required=True)
    sc.add_argument("--seconds", type=float, default=4.0)
    sc.add_argument("--addr")
    ae = sub.add_parser("adv-enable")
    ae.add_argument("--dev", type=int, required=True)
    for name in ("record", "malformed", "replay"):
        c = sub.add_parser(name)
        c.add_argument("--to", required=True)
        c.add_argument("--to-type", choices=["public", "random", "bredr"], default="public")
        c.add_argument("--from", dest="from_addr")
        c.add_argument("--psm", type=lambda x: int(x, 0), required=True)
        c.add_argument("--timeout", type=float, default=10.0)
        if name == "record":
            c.add_argument("--lock", required=True)
            c.add_argument("--credential", required=True)
            c.add_argument("--key", required=True)
            c.add_argument("--authority", action="append", required=True)
            c.add_argument("--out", required=True)
        elif name == "malformed":
            c.add_argument("--frame", required=True)
        else:
            c.add_argument("--in", dest="inp", required=True)
    COMMANDS.update({"scan": cmd_scan, "adv-enable": cmd_adv_enable, "record": cmd_record, "malformed": cmd_malformed,
                     "replay": cmd_replay, "serve": cmd_serve})
    a = p.parse_args()
    a.parser = p
    return run(a)


if __name__ == "__main__":
    sys.exit(main())
