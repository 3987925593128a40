"""Schemathesis hooks for scripts/check-api.

A client sends a fresh Idempotency-Key with each new request and the same key only when it
retries that request. Generated keys repeat (the same few short strings for every operation),
and the service rightly answers a key reused for another request with 422
idempotency_key_reused. So each valid generated key gets a unique suffix; invalid ones are
left as they are, for the service to refuse. Replays are tested in tests/api/idempotency.rs.
"""
import itertools
import re

import schemathesis

_VALID_KEY = re.compile(r"[!-~]{1,200}")
_serial = itertools.count()


@schemathesis.hook
def before_call(context, case, kwargs):
    headers = case.headers or {}
    key = headers.get("Idempotency-Key")
    if isinstance(key, str) and _VALID_KEY.fullmatch(key):
        headers["Idempotency-Key"] = f"{key}-{next(_serial)}"
