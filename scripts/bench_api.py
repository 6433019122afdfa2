#!/usr/bin/env python3
"""API latency benchmark (issue 13; not in CI): p50/p99 of 'grant a key' and of audit queries over 1,000,000 stored
events, at a steady open-loop rate, beside GET /healthz (a trivial Hummingbird handler through the same middleware)
measured in the same run as the floor. Whole local stack from scripts/cloudstack.py with the release binaries.

Open loop: each worker sends on a fixed schedule and a request's latency counts from the moment it was due, so a
stall shows in the percentiles instead of slowing the load down (no coordinated omission)."""
import http.client
import json
import os
import platform
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cloudstack import CloudStack  # noqa: E402

EVENTS = int(os.environ.get("BENCH_EVENTS", "1000000"))
RATE = float(os.environ.get("BENCH_RATE", "200"))  # requests per second, all workers together
SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
WORKERS = int(os.environ.get("BENCH_CONNECTIONS", "4"))
# Comma-separated words; a scenario runs when its name contains one of them (the floor always runs).
ONLY = [w for w in os.environ.get("BENCH_ONLY", "").split(",") if w]
DOORS = 100


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100 * (len(values) - 1)))))
    return values[k]


def run(stack, name, make_request, rate=RATE, seconds=SECONDS):
    host, port = stack.url.split("//")[1].split(":")
    latencies, errors = [], []
    lock = threading.Lock()
    start = time.monotonic() + 0.5
    per_worker = rate / WORKERS

    def worker(w):
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        i = 0
        mine = []
        while True:
            due = start + (i + w / WORKERS) / per_worker
            if due - start > seconds:
                break
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            method, path, body = make_request(w, i)
            headers = {"Authorization": "Bearer " + stack.token}
            if body is not None:
                headers["Content-Type"] = "application/json"
            try:
                conn.request(method, path, body=body, headers=headers)
                r = conn.getresponse()
                r.read()
                done = time.monotonic()
                if r.status >= 300:
                    with lock:
                        errors.append(r.status)
                else:
                    mine.append((done - due) * 1000)
            except Exception as e:  # noqa: BLE001 - a benchmark reports, it does not stop
                with lock:
                    errors.append(str(e))
                conn = http.client.HTTPConnection(host, int(port), timeout=10)
            i += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    achieved = len(latencies) / seconds
    row = {
        "name": name, "n": len(latencies), "rate": achieved, "errors": len(errors),
        "p50": percentile(latencies, 50), "p90": percentile(latencies, 90), "p99": percentile(latencies, 99),
        "max": max(latencies) if latencies else float("nan"),
        "mean": statistics.fmean(latencies) if latencies else float("nan"),
    }
    print(f"  {name:38} {row['n']:6} req  {achieved:6.0f}/s  p50 {row['p50']:6.2f} ms  p90 {row['p90']:6.2f} ms  "
          f"p99 {row['p99']:6.2f} ms  max {row['max']:7.2f} ms  errors {len(errors)}"
          + (f" (first: {errors[0]})" if errors else ""), flush=True)
    return row


def seed(stack):
    t0 = time.monotonic()
    stack.sql(f"""
        INSERT INTO doors(org_id, id, site_id, name)
        SELECT 'acme', 'door-' || i, 'hq', 'Door ' || i FROM generate_series(1, {DOORS}) AS i;
        INSERT INTO devices(org_id, id, door_id) SELECT 'acme', 'board-' || i, 'door-' || i FROM generate_series(1, {DOORS}) AS i;
        INSERT INTO users(org_id, id, email, name, role)
        SELECT 'acme', 'u-' || i, 'u' || i || '@acme.example', 'User ' || i, 'holder' FROM generate_series(1, 1000) AS i;
        INSERT INTO phones(org_id, id, user_id, public_key, token_hash)
        SELECT 'acme', 'p-' || i, 'u-' || i, decode(repeat('ab', 64), 'hex'), sha256(('phone' || i)::bytea)
        FROM generate_series(1, 1000) AS i;
    """)
    # A year of events from 100 boards: 1,000,000 rows through the month partitions the cloud keeps.
    stack.sql("SET TIME ZONE 'UTC'")
    stack.sql(f"""
        INSERT INTO audit_events (org_id, device_id, seq, at, at_ms, kind, door_id, credential_id, user_id, reason,
            prev_hash, hash)
        SELECT 'acme', 'board-' || (1 + i % {DOORS}), i / {DOORS} + 1,
            now() - (i * interval '30 second'), (extract(epoch FROM now() - (i * interval '30 second')) * 1000)::bigint,
            CASE WHEN i % 7 = 0 THEN 'access_denied' ELSE 'access_granted' END, 'door-' || (1 + i % {DOORS}),
            'c-' || (i % 1000), 'u-' || (1 + i % 1000), CASE WHEN i % 7 = 0 THEN 'revoked' END,
            decode(md5(i::text), 'hex'), decode(md5((i + 1)::text), 'hex')
        FROM generate_series(0, {EVENTS - 1}) AS i;
    """)
    stack.sql("VACUUM ANALYZE")
    n = stack.sql("SELECT count(*) FROM audit_events").strip()
    print(f"  seeded {DOORS} doors and boards, 1000 holders with a phone each, {n} audit events "
          f"in {time.monotonic() - t0:.0f} s", flush=True)


def main():
    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, {platform.release()}; "
          f"rate {RATE:.0f}/s over {WORKERS} connections for {SECONDS:.0f} s per scenario")
    with CloudStack(tmp_prefix="warden-bench-api") as s:
        seed(s)
        rows = []
        # Warm the server and the database's caches on each path before measuring it.
        scenarios = [
            ("GET /healthz (floor)", lambda w, i: ("GET", "/healthz", None)),
            ("POST /v1/keys (grant, signed, sent)", lambda w, i: (
                "POST", "/v1/keys",
                json.dumps({"user": f"u-{1 + (w * 7919 + i) % 1000}", "doors": [f"door-{1 + (w * 31 + i) % DOORS}"]}))),
            ("GET /v1/audit?door= (50 newest)", lambda w, i: ("GET", f"/v1/audit?door=door-{1 + (w + i) % DOORS}&limit=50", None)),
            ("GET /v1/audit?user=&result=denied", lambda w, i: (
                "GET", f"/v1/audit?user=u-{1 + (w * 13 + i) % 1000}&result=denied&limit=50", None)),
            ("GET /v1/audit (org, 100 newest)", lambda w, i: ("GET", "/v1/audit?limit=100", None)),
            ("GET /v1/doors (100 doors, live state)", lambda w, i: ("GET", "/v1/doors", None)),
        ]
        for name, make in scenarios:
            if ONLY and "floor" not in name and not any(w in name for w in ONLY):
                continue
            run(s, name + " warm-up", make, rate=RATE, seconds=3)
            rows.append(run(s, name, make))
        print("\n| request | rate (req/s) | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) | errors |")
        print("|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['name']} | {r['rate']:.0f} | {r['p50']:.2f} | {r['p90']:.2f} | {r['p99']:.2f} | "
                  f"{r['max']:.1f} | {r['errors']} |")


if __name__ == "__main__":
    main()
