"""schemathesis hooks for scripts/api_schemathesis.py (loaded through SCHEMATHESIS_HOOKS).

Two jobs, both in `before_call`, so they apply in every phase:

1. The run must not lock itself out. Schemathesis reuses ids it saw in answers, so `DELETE /v1/api-tokens/{id}`
   can pick the run's own token from `GET /v1/api-tokens`; every later request would then be a (documented,
   passing) 401 and the run would test nothing. That one id is swapped for a decoy token's.

2. Reach the success paths. A random id almost never names an existing site, door or user, a reused one or the
   spec's example is taken after its first use, and a random time is almost never in a key's allowed range, so
   without help `POST /v1/keys`, `/v1/visitors`, `/v1/devices`, `/v1/doors`... only ever answer 409 or 422 and
   their 201 answers are never checked against the spec. Half of the positive-mode cases (chosen by a hash of the
   case, so a seed still reproduces a run) get fresh ids, references to seeded objects and times in range. Every
   value written is one the spec allows; negative-mode cases are left alone. `POST /v1/keys` has so few positive
   cases (about 10 in 180) that all of them are rewritten; a lockdown plan trigger is pointed at the seeded plan.
   api_schemathesis.py fails the run when an operation never answers 2xx and is not listed with its reason.

Also: schemathesis generates no bytes for `application/gzip` (a board's support-bundle upload) by itself; gzip-looking
and arbitrary bytes are registered for it below.
"""

import datetime
import json
import os
import zlib

import schemathesis
from hypothesis import strategies as st

schemathesis.openapi.media_type(
    "application/gzip",
    st.one_of(st.binary(max_size=200).map(lambda b: b"\x1f\x8b\x08\x00" + b), st.binary(max_size=64)),
)

PROTECTED = {t for t in os.environ.get("API_FUZZ_PROTECTED_TOKENS", "").split(",") if t}
DECOY = os.environ.get("API_FUZZ_DECOY_TOKEN", "")
SITE = os.environ.get("API_FUZZ_SITE", "hq")
DOOR = os.environ.get("API_FUZZ_DOOR", "front")
HOLDER = os.environ.get("API_FUZZ_HOLDER", "hal")
PLAN = os.environ.get("API_FUZZ_PLAN", "drill")
ZONES = ["Europe/Berlin", "UTC", "America/New_York", "Asia/Kolkata", "Australia/Sydney"]


def _rfc3339(delta):
    t = datetime.datetime.now(datetime.timezone.utc) + delta
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _fresh(body, prefix, h):
    body["id"] = f"{prefix}-{h:x}"


def _sites(case, body, h):
    _fresh(body, "s", h)
    body["time_zone"] = ZONES[h % len(ZONES)]


def _doors(case, body, h):
    _fresh(body, "d", h)
    body["site"] = SITE


def _devices(case, body, h):
    _fresh(body, "b", h)
    body["door"] = DOOR


def _access(body):
    body["doors"] = [DOOR]
    body.pop("groups", None)
    body.pop("valid_from", None)


def _keys(case, body, h):
    _access(body)
    body["user"] = HOLDER
    body["valid_until"] = _rfc3339(datetime.timedelta(days=1 + h % 700))
    if "schedule" in body:  # a generated window is almost never a valid one (start before end, known days)
        body["schedule"] = [{"days": ["mon", "fri"], "start": "07:30", "end": "18:00"}][: h % 2]


def _visitors(case, body, h):
    _access(body)
    body["valid_until"] = _rfc3339(datetime.timedelta(hours=1 + h % (30 * 24)))
    body["email"] = f"visitor-{h:x}@acme.example"  # the spec's example address is taken after its first use


def _enrollment_tokens(case, body, h):
    body["site"] = SITE
    if "door" in body:
        body["door"] = DOOR


def _users(case, body, h):
    if case.method.upper() == "POST":
        _fresh(body, "u", h)
        body["email"] = f"u-{h:x}@acme.example"
    # The spec: sites are required for a site manager and must be absent or empty for anyone else.
    if body.get("role") == "site_manager":
        body["sites"] = [SITE]
    elif "role" in body or case.method.upper() == "POST":
        body.pop("sites", None)


def _door_group(case, body, h):
    # The spec: the body's id must equal the path's.
    if case.path_parameters and "id" in case.path_parameters:
        body["id"] = case.path_parameters["id"]
    body["doors"] = [DOOR]


def _plan_trigger(case, body, h):
    # A random plan name never exists: point half the positive cases at the seeded plan of the seeded site.
    case.path_parameters["id"] = SITE
    case.path_parameters["plan"] = PLAN


REWRITES = {
    "POST /v1/sites": _sites,
    "POST /v1/doors": _doors,
    "POST /v1/devices": _devices,
    "POST /v1/keys": _keys,
    "POST /v1/visitors": _visitors,
    "POST /v1/enrollment-tokens": _enrollment_tokens,
    "POST /v1/users": _users,
    "PATCH /v1/users/{id}": _users,
    "PUT /v1/door-groups/{id}": _door_group,
    "POST /v1/sites/{id}/lockdown-plans/{plan}/trigger": _plan_trigger,
}


# Operations with so few positive cases (about 10 in 180 for POST /v1/keys) that half of them may be none at all.
ALWAYS = {"POST /v1/keys"}


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    op = f"{case.method.upper()} {case.path}"
    if op == "DELETE /v1/api-tokens/{id}" and DECOY and (case.path_parameters or {}).get("id") in PROTECTED:
        case.path_parameters["id"] = DECOY
        return
    rewrite = REWRITES.get(op)
    meta = case.meta
    if rewrite is None or meta is None or meta.generation.mode.is_negative or not isinstance(case.body, dict):
        return
    h = zlib.crc32(json.dumps([case.path_parameters, case.body], sort_keys=True, default=str).encode())
    if h % 2 == 0 or op in ALWAYS:
        rewrite(case, case.body, h // 2)
