#!/usr/bin/env python3
"""Fuzzes warden-cloud's REST API against docs/openapi.yaml with schemathesis, on a throwaway CloudStack.

Called by scripts/api-schemathesis (`make api-fuzz`), which builds and installs schemathesis first. Two passes:
  1. GET /v1/phone/credentials with a real phone token (it refuses API tokens): the driver creates a holder, a key
     to the front door and an invitation, and enrolls a phone through the API first. It runs first because pass 2
     may revoke that key, and an empty credential list checks less of the answer's schema.
  2. every operation with acme's admin write token (GET /v1/phone/credentials sees only its 401 there).
POST /v1/phone/enroll is fuzzed in pass 2, where only its refusals (401 unknown invitation, 422) can be reached:
every enrollment needs a fresh one-time invitation, which generated requests cannot carry. Pass 1's setup enrolls
once. scripts/api_schemathesis_hooks.py steers some generated requests (it says why).

One operation is excluded from schemathesis: GET /v1/events, a server-sent event stream that stays open for ten
minutes, so every generated request would hang until its timeout. The driver checks it itself instead (status,
content type, the stream's first events against the spec's Door schema, and the 401 without a token).

Exit status: 0 when both passes found nothing, 1 when schemathesis reported a failure, 2 when the driver itself
could not run. The full output and reports go to .build/schemathesis/ (phone/ and main/), with the server's log.

Environment: API_FUZZ_EXAMPLES (examples per operation, default 75), API_FUZZ_SEED (default 20260312),
API_FUZZ_PHASES (default examples,coverage,fuzzing,stateful), API_FUZZ_SPEC (default docs/openapi.yaml),
API_FUZZ_WORKERS (default 1: with 2, Python 3.11's ast.parse, which hypothesis calls from both worker threads, now
and then fails with "AST constructor recursion depth mismatch", CPython gh-106905: an error of the tool, not of the
API). Extra arguments go to pass 2's schemathesis (e.g. --include-path-regex '^/v1/keys'); pass 1 keeps its own
filter (schemathesis ORs --include options, so they would widen it).

The stack is gone when the run ends, so the curl lines schemathesis prints point nowhere: `python3
scripts/cloudstack.py` starts the same stack and prints its URL and token to put in them.
"""

import base64
import collections
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cloudstack import REPO, CloudStack, StackError  # noqa: E402

SPEC = os.path.abspath(os.environ.get("API_FUZZ_SPEC", os.path.join(REPO, "docs/openapi.yaml")))
HOOKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "api_schemathesis_hooks.py")
OUT = os.path.join(REPO, ".build/schemathesis")
CHECKS = [
    "not_a_server_error",
    "response_schema_conformance",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
]
# Operations whose success cannot be reached with a fixed bearer token; they are still run (their refusals are
# checked), and this is printed so nobody reads the run as covering them.
NOT_FULLY_COVERED = {
    "POST /v1/phone/enroll": "needs a fresh one-time invitation per request: only its refusals are fuzzed "
    "(pass 1's setup enrolls one phone)",
    "GET /v1/phone/credentials": "refuses API tokens: fuzzed with a phone token in pass 1, sees only 401 in pass 2",
    "DELETE /v1/api-tokens/{id}": "never revokes the run's own token (swapped for a decoy's id, or the run would "
    "lock itself out)",
    "POST /v1/board/provision": "needs a fresh one-time enrollment token and a CSR: only its refusals are fuzzed "
    "(scripts/provision_e2e.py covers its success)",
    "POST /v1/board/deprovision": "needs a request signed by a provisioned board's key: only its refusals are fuzzed "
    "(scripts/provision_e2e.py covers its success)",
    "POST /v1/board/support-bundle": "needs the one-time upload token of a signed support_bundle command: only its "
    "refusals are fuzzed (SupportBundleTests and api_e2e cover its success)",
    "GET /v1/support-bundles/{id}": "answers 200 only once a board uploaded the bundle, which no fuzzed request does "
    "(SupportBundleTests and api_e2e cover the download)",
}
# Excluded from schemathesis (operationId: why); each is checked by the driver itself.
EXCLUDED = {
    "streamEvents": "GET /v1/events is a server-sent event stream open for ten minutes: generated requests would "
    "hang until their timeout; checked by the driver instead",
}


def log(msg):
    print(f"api-fuzz: {msg}", flush=True)


def api(stack, method, path, body=None, token=None):
    """One JSON request; (status, parsed body)."""
    headers = {"Content-Type": "application/json"}
    if token is not False:
        headers["Authorization"] = f"Bearer {token or stack.token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(stack.url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def jwk_from_pem(path):
    """The P-256 public key of a SubjectPublicKeyInfo PEM as a JWK: its DER ends with the point 04||x||y."""
    with open(path) as f:
        der = base64.b64decode("".join(l for l in f if not l.startswith("-----")))
    x, y = der[-64:-32], der[-32:]
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()  # noqa: E731
    return {"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y)}


def setup(stack, method, path, body):
    status, answer = api(stack, method, path, body)
    if status != 201:
        raise StackError(f"setup: {method} {path} answered {status}: {answer}")
    return answer


def prepare(stack):
    """Seeds what the hooks point requests at (scripts/api_schemathesis_hooks.py): their environment."""
    setup(stack, "POST", "/v1/users", {"id": "hal", "email": "hal@acme.example", "name": "Hal Holder"})
    decoy = setup(stack, "POST", "/v1/api-tokens", {"name": "decoy", "scope": "read"})["id"]
    status, answer = api(stack, "PUT", "/v1/sites/hq/lockdown-plans/drill", {"name": "Drill", "doors": ["front"]})
    if status not in (200, 201):
        raise StackError(f"setup: PUT /v1/sites/hq/lockdown-plans/drill answered {status}: {answer}")
    own = stack.token.split("_")[1]  # wdn_<id>_<secret>
    return {
        "SCHEMATHESIS_HOOKS": HOOKS,
        "API_FUZZ_PROTECTED_TOKENS": own,
        "API_FUZZ_DECOY_TOKEN": decoy,
        "API_FUZZ_SITE": "hq",
        "API_FUZZ_DOOR": "front",
        "API_FUZZ_HOLDER": "hal",
        "API_FUZZ_PLAN": "drill",
    }


def enroll_phone(stack):
    """A holder with a key to the front door and an enrolled phone; the phone token."""
    setup(stack, "POST", "/v1/users", {"id": "phil", "email": "phil@acme.example", "name": "Phil Phone"})
    setup(stack, "POST", "/v1/keys", {"user": "phil", "doors": ["front"]})
    invitation = setup(stack, "POST", "/v1/users/phil/invitations", {})["token"]
    key = os.path.join(stack.tmp, "phil.pem")
    stack.ctl("phone", "keygen", "--out", key)
    status, answer = api(stack, "POST", "/v1/phone/enroll",
                         {"invitation": invitation, "public_key": jwk_from_pem(key + ".pub")}, token=False)
    if status != 201 or not isinstance(answer, dict) or "phone_token" not in answer:
        raise StackError(f"setup: POST /v1/phone/enroll answered {status}: {answer}")
    return answer["phone_token"]


def schemathesis(stack, token, out_dir, extra, hook_env):
    """Runs schemathesis once, its output both on the terminal and in out_dir/output.txt; its exit status."""
    os.makedirs(out_dir, exist_ok=True)
    argv = [
        sys.executable, "-m", "schemathesis.cli", "run", SPEC,
        "--url", stack.url,
        "--header", f"Authorization: Bearer {token}",
        "--checks", ",".join(CHECKS),
        "--phases", os.environ.get("API_FUZZ_PHASES", "examples,coverage,fuzzing,stateful"),
        "--max-examples", os.environ.get("API_FUZZ_EXAMPLES", "75"),
        "--seed", os.environ.get("API_FUZZ_SEED", "20260312"),
        "--workers", os.environ.get("API_FUZZ_WORKERS", "1"),
        # No example database: a run is reproduced by its seed alone, not by what an earlier run stored.
        "--generation-database", "none",
        "--request-timeout", "20",
        "--no-color",
        "--report", "junit,ndjson,har",
        "--report-dir", out_dir,
        *[a for op in EXCLUDED for a in ("--exclude-operation-id", op)],
        *extra,
    ]
    env = dict(os.environ, COLUMNS=os.environ.get("COLUMNS", "120"), **hook_env)
    with open(os.path.join(out_dir, "output.txt"), "w") as transcript:
        # In out_dir: schemathesis keeps its cache (what `st replay ID` reads) in ./.schemathesis.
        p = subprocess.Popen(argv, cwd=out_dir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                             stdin=subprocess.DEVNULL)
        try:
            for line in p.stdout:
                # The token is a live credential only for this throwaway stack; keep it out of saved files anyway.
                line = line.replace(token, "wdn_…")
                sys.stdout.write(line)
                transcript.write(line)
            return p.wait()
        finally:
            if p.poll() is None:  # interrupted: do not leave it running against a stack that is going away
                p.terminate()
                p.wait()


def read_events(response, seconds):
    """Server-sent events read from an open response for up to `seconds`: [(event, data)]."""
    events, name, data = [], None, []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            line = response.readline()
        except (TimeoutError, OSError):
            break
        if not line:
            break
        line = line.decode("utf-8", "replace").rstrip("\r\n")
        if line == "":
            if name is not None or data:
                events.append((name or "message", "\n".join(data)))
            name, data = None, []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
        elif line.startswith("retry:"):
            events.append(("retry", line[6:].strip()))
    return events


def check_events(stack):
    """GET /v1/events by hand (it is excluded from schemathesis): the problems found, each a sentence."""
    import jsonschema  # schemathesis' own dependencies
    import yaml

    with open(SPEC) as f:
        spec = yaml.safe_load(f)
    if "get" not in spec["paths"].get("/v1/events", {}):
        return ["the spec has no GET /v1/events any more: drop it from EXCLUDED in scripts/api_schemathesis.py"]
    door = jsonschema.Draft4Validator({"$ref": "#/components/schemas/Door", "components": spec["components"]})
    problems = []
    curl = f"curl -sS -N -H 'Authorization: Bearer $TOKEN' {stack.url}/v1/events"
    try:
        urllib.request.urlopen(stack.url + "/v1/events", timeout=5).close()
        problems.append(f"without a token it answered 2xx, not 401 (curl -sS -i {stack.url}/v1/events)")
    except urllib.error.HTTPError as e:
        if e.code != 401:
            problems.append(f"without a token it answered {e.code}, not 401 (curl -sS -i {stack.url}/v1/events)")
        elif not e.headers.get("Content-Type", "").startswith("application/problem+json"):
            problems.append(f"its 401 has Content-Type {e.headers.get('Content-Type')!r}, not application/problem+json")
        elif "WWW-Authenticate" not in e.headers:
            problems.append("its 401 has no WWW-Authenticate header, which the spec's Unauthorized response declares")
    request = urllib.request.Request(stack.url + "/v1/events", headers={"Authorization": f"Bearer {stack.token}"})
    try:
        response = urllib.request.urlopen(request, timeout=2)
    except urllib.error.HTTPError as e:
        return problems + [f"with the admin token it answered {e.code}: {e.read()[:300]!r} ({curl})"]
    with response:
        content_type = response.headers.get("Content-Type", "")
        if response.status != 200 or not content_type.startswith("text/event-stream"):
            problems.append(f"answered {response.status} {content_type!r}, not 200 text/event-stream ({curl})")
            return problems
        events = read_events(response, 3)
    if ("retry", "2000") not in events:
        problems.append(f"the stream does not start with 'retry: 2000' ({curl})")
    doors = [data for name, data in events if name == "door"]
    if not doors:
        problems.append(f"no 'door' event within 3 s, though every door is sent once at the start ({curl})")
    for data in doors:
        try:
            value = json.loads(data)
        except ValueError:
            problems.append(f"a door event's data is not JSON: {data[:200]!r}")
            continue
        for error in door.iter_errors(value):
            problems.append(f"a door event does not match the Door schema: {error.message} in {data[:300]}")
    if not problems:
        log(f"GET /v1/events: ok (401 without a token; 200 text/event-stream; {len(doors)} door events match Door)")
    return problems


def counts(out_dir):
    """schemathesis' own counts from its summary: '39 operations, 2413 generated, 2413 passed'."""
    try:
        with open(os.path.join(out_dir, "output.txt")) as f:
            text = f.read()
    except OSError:
        return "no output"
    tested = re.search(r"^\s*Tested: (\d+)", text, re.M)
    cases = re.search(r"^\s*(\d+ generated, .*)$", text, re.M)
    return f"{tested.group(1) if tested else '?'} operations, {cases.group(1).strip() if cases else 'no test cases'}"


def answers_by_operation(out_dir):
    """{operation: Counter(status)} from schemathesis' NDJSON report: what the server actually answered."""
    seen = collections.defaultdict(collections.Counter)
    for path in glob.glob(os.path.join(out_dir, "ndjson-*.ndjson")):
        with open(path) as f:
            for line in f:
                event = json.loads(line).get("ScenarioFinished")
                if not event:
                    continue
                recorder = event.get("recorder") or {}
                label = recorder.get("label", "?")
                for interaction in (recorder.get("interactions") or {}).values():
                    response = interaction.get("response") or {}
                    # Leave out the probes with other methods (they answer 404, and are not this operation's).
                    method = (interaction.get("request") or {}).get("method", "")
                    if "status_code" in response and label.startswith(method + " "):
                        seen[label][response["status_code"]] += 1
    return seen


def report_answers(out_dir):
    """Prints each operation's answers; names those whose success answer (so its schema) was never seen, and
    returns them."""
    seen = answers_by_operation(out_dir)
    if not seen:
        return []
    log("answers per operation (status: count):")
    width = max(len(op) for op in seen)
    for op in sorted(seen, key=lambda o: (o.split(" ", 1)[1], o)):
        answered = "  ".join(f"{code}: {n}" for code, n in sorted(seen[op].items()))
        print(f"  {op:<{width}}  {answered}")
    unreached = sorted(op for op, c in seen.items() if not any(200 <= code < 300 for code in c))
    if unreached:
        log("no success answer (so no check of its 2xx schema) for: " + ", ".join(unreached))
    return unreached


def main(extra):
    if not os.path.isfile(SPEC):
        log(f"{SPEC} does not exist")
        return 2
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    for op, why in NOT_FULLY_COVERED.items():
        log(f"note: {op} {why}")
    for op, why in EXCLUDED.items():
        log(f"excluded: {op}: {why}")
    started = time.monotonic()
    rcs = {}
    with CloudStack(tmp_prefix="warden-api-fuzz") as stack:
        log(f"cloud up at {stack.url} in {time.monotonic() - started:.1f} s (folder {stack.tmp})")
        try:
            hook_env = prepare(stack)
            phone_token = enroll_phone(stack)
            passes = [
                ("phone", "GET /v1/phone/credentials with an enrolled phone's token", phone_token,
                 ["--include-operation-id", "getPhoneCredentials"]),
                ("main", "every operation, as acme's admin (write token)", stack.token, extra),
            ]
            for n, (name, what, token, args) in enumerate(passes, 1):
                log(f"== pass {n} of {len(passes)}: {what}")
                t = time.monotonic()
                out_dir = os.path.join(OUT, name)
                rcs[name] = schemathesis(stack, token, out_dir, args, hook_env)
                log(f"pass {n} ({name}) took {time.monotonic() - t:.0f} s, exit {rcs[name]}: {counts(out_dir)}")
                unreached = report_answers(out_dir)
                # An operation whose 2xx answer was never seen had its success schema checked by nobody: a failure,
                # unless it is one of the few listed (with the reason and what covers it instead).
                if name == "main":
                    unexplained = [op for op in unreached if op not in NOT_FULLY_COVERED]
                    for op in unexplained:
                        log(f"FAILURE: {op} never answered 2xx, so its success schema went unchecked; make the hooks "
                            "reach it (scripts/api_schemathesis_hooks.py) or list it in NOT_FULLY_COVERED with why")
                    rcs["coverage"] = 1 if unexplained else 0
            log("== GET /v1/events, by hand (excluded from schemathesis)")
            problems = check_events(stack)
            for problem in problems:
                log(f"FAILURE: GET /v1/events: {problem}")
            rcs["events"] = 1 if problems else 0
            # A run that revoked or disabled its own credential would pass on 401s alone: make sure it did not.
            status, answer = api(stack, "GET", "/v1/org")
            if status != 200:
                log(f"error: after the run the admin token gets {status} on GET /v1/org: the run locked itself out")
                rcs["self-check"] = 2
        finally:
            # The server's side of any 500, kept after the stack's folder is gone.
            shutil.copyfile(stack.cloud_log, os.path.join(OUT, "warden-cloud.log"))
    if any(rc not in (0, 1) for rc in rcs.values()):
        rc = 2  # schemathesis itself failed (bad flags, unreadable spec) or the run locked itself out
    else:
        rc = max(rcs.values(), default=2)
    verdict = {
        0: "no failures",
        1: "FAILURES (see above; to reproduce one, `python3 scripts/cloudstack.py` starts the same stack: put its URL "
        "and token in the curl line)",
        2: "the run itself failed (see above)",
    }[rc]
    log(f"{verdict}; {time.monotonic() - started:.0f} s in all; "
        f"reports, output and the server's log in {os.path.relpath(OUT, REPO)}/")
    return rc


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except StackError as e:
        log(f"error: {e}")
        sys.exit(2)
    except KeyboardInterrupt:
        log("interrupted; everything it started is stopped")
        sys.exit(130)
