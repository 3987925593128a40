"""Schemathesis hooks for scripts/check-api.

Idempotency keys. A client sends a fresh Idempotency-Key with each new request and the same
key only when it retries that request. Generated keys repeat (the same few short strings for
every operation), and the service rightly answers a key reused for another request with 422
idempotency_key_reused. So each valid generated key gets a unique suffix; invalid ones are
left as they are, for the service to refuse. Replays are tested in tests/api/idempotency.rs.

Ids. A random UUID names nothing, so an operation on `/v1/invoices/{id}` would only ever
answer 404 and its rules would go untried. The database is seeded first (`receivables seed`)
and contract/ids.sql hands over a few ids of every kind (the file named by CHECK_API_IDS);
every resource the run itself creates joins them. Most well-formed ids in paths and bodies are
then swapped for one of the right kind; malformed ones are left for the service to refuse.
"""
import itertools
import json
import os
import random
import re

import schemathesis
from hypothesis.internal import lambda_sources

# Hypothesis parses a lambda's source only to describe it in reports. Deep inside schemathesis's
# recursive schema walk, CPython 3.11's ast.parse can raise SystemError ("AST constructor
# recursion depth mismatch"), which hypothesis reports as a flaky runtime error of the
# operation being generated. A lambda that cannot be described is described as unknown.
_describe_lambda = lambda_sources._lambda_description


def _lambda_description(f, *args, **kwargs):
    try:
        return _describe_lambda(f, *args, **kwargs)
    except SystemError:
        return "lambda: <unknown>"


lambda_sources._lambda_description = _lambda_description

_VALID_KEY = re.compile(r"[!-~]{1,200}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_serial = itertools.count()
_random = random.Random(1)
# How often a well-formed id is swapped for a real one.
_SWAP = 0.85

# The first path segment after /v1/ (or /v1/collections/) and the kind of its `{id}`.
_PATH_KINDS = {
    "accounts": "accounts", "adjustments": "adjustments", "billing-runs": "billing_runs",
    "contracts": "contracts", "credit-memos": "credit_memos", "deductions": "deductions",
    "disputes": "disputes", "equipment": "equipment", "financial-codes": "financial_codes",
    "invoices": "invoices", "meter-readings": "meter_readings", "meters": "meters",
    "partners": "partners", "payments": "payments", "service-orders": "service_orders",
    "tasks": "tasks", "assignment-rules": "assignment_rules", "dunning-policies": "dunning_policies",
    "notices": "notices", "placements": "placements", "promises": "promises",
    "webhook-endpoints": "webhook_endpoints",
}
# Body fields that name another resource.
_FIELD_KINDS = {
    "account_id": "accounts", "contract_id": "contracts", "credit_memo_id": "credit_memos",
    "deduction_id": "deductions", "dispute_id": "disputes", "equipment_id": "equipment",
    "financial_code_id": "financial_codes", "invoice_id": "invoices",
    "invoice_line_id": "invoice_lines", "meter_id": "meters", "partner_id": "partners",
    "payment_id": "payments", "contact_id": "contacts", "policy_id": "dunning_policies",
}

_ids = {}
_pairs = {}
if os.environ.get("CHECK_API_IDS"):
    with open(os.environ["CHECK_API_IDS"], encoding="utf-8") as f:
        seeded = json.load(f)
    _pairs = {k: v or [] for k, v in seeded.pop("pairs", {}).items()}
    _ids = {k: list(v or []) for k, v in seeded.items()}


def _segments(path):
    """The path after /v1/ (and after /v1/collections/, whose resources are named alike)."""
    parts = path.strip("/").split("/")[1:]
    return parts[1:] if parts[:1] == ["collections"] else parts


def _kind_of(path):
    parts = _segments(path)
    return _PATH_KINDS.get(parts[0]) if parts else None


def _pick(kind):
    pool = _ids.get(kind)
    return _random.choice(pool) if pool else None


def _swap_body(value):
    if isinstance(value, dict):
        for field, item in value.items():
            kind = _FIELD_KINDS.get(field)
            if kind and isinstance(item, str) and _UUID.fullmatch(item) and _random.random() < _SWAP:
                value[field] = _pick(kind) or item
            else:
                _swap_body(item)
    elif isinstance(value, list):
        for item in value:
            _swap_body(item)


@schemathesis.hook
def before_call(context, case, kwargs):
    headers = case.headers or {}
    key = headers.get("Idempotency-Key")
    if isinstance(key, str) and _VALID_KEY.fullmatch(key):
        headers["Idempotency-Key"] = f"{key}-{next(_serial)}"

    params = case.path_parameters or {}
    if isinstance(params.get("id"), str) and _UUID.fullmatch(params["id"]) and _random.random() < _SWAP:
        children = [
            name for name in params
            if name in _pairs and isinstance(params[name], str) and _UUID.fullmatch(params[name])
        ]
        if children and _pairs[children[0]]:
            parent, child = _random.choice(_pairs[children[0]])
            params["id"], params[children[0]] = parent, child
        else:
            params["id"] = _pick(_kind_of(case.operation.path)) or params["id"]
    _swap_body(case.body)


@schemathesis.hook
def after_call(context, case, response):
    if response.status_code == 204 and case.method.upper() == "DELETE":
        # A resource deleted leaves the pool: a later call naming it would only get a 404.
        kind = _kind_of(case.operation.path)
        gone = (case.path_parameters or {}).get("id")
        if kind and len(_segments(case.operation.path)) == 2 and gone in _ids.get(kind, []):
            _ids[kind].remove(gone)
        return
    if response.status_code not in (200, 201) or case.method.upper() != "POST":
        return
    try:
        body = response.json()
    except ValueError:
        return
    kind = _kind_of(case.operation.path)
    creates = len(_segments(case.operation.path)) == 1
    if kind and creates and isinstance(body, dict) and isinstance(body.get("id"), str):
        _ids.setdefault(kind, []).append(body["id"])
