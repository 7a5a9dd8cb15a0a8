#!/usr/bin/env python3
"""Validate every recorded response against Qdrant 1.17.1's OpenAPI document.

    validate_schema.py RECORDS.jsonl [--openapi FILE] [--skip-prefix /v1/ ...]

RECORDS.jsonl holds one line per response the suites received through the
recording proxy (lib/harness.js): {file, method, path, query, status,
content_type, kind, body, unlisted}. Each record is matched to its path
template and method in the document; the response object for its status
code is chosen as OpenAPI does (exact code, then the range "4XX", then
"default"); its schema is validated with jsonschema's Draft 7 validator
after converting OpenAPI 3.0 `nullable` into JSON Schema and resolving
`$ref`s into the document's components.

Fails (exit 1) on an invalid body, an undocumented status, a body of the
wrong kind (text where JSON is documented), or a response to a route the
document does not list. Records marked `unlisted` (the suites probe unknown
routes and methods on purpose) are only checked to carry either no body or
Qdrant's error shape. Paths under --skip-prefix (vitrine's own /v1/ API and
the /ui page) are not part of Qdrant's contract and are skipped.
"""

import argparse
import copy
import json
import os
import re
import sys
import warnings
from collections import Counter, defaultdict

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def convert_nullable(node):
    """Return a JSON Schema copy of an OpenAPI 3.0 schema node.

    OpenAPI's `nullable: true` means "or null". With a `type` it becomes a
    type list with "null" (and null joins an `enum`); beside a `$ref` or a
    combinator it becomes anyOf [schema, null]; alone (schemars writes
    `anyOf: [{$ref}, {nullable: true}]` for Option<T>) it is exactly null.
    """
    if isinstance(node, list):
        return [convert_nullable(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: convert_nullable(v) for k, v in node.items()}
    if out.pop("nullable", False) is not True:
        return out
    if "type" in out:
        t = out["type"]
        out["type"] = (t if isinstance(t, list) else [t]) + ["null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = out["enum"] + [None]
        return out
    if "$ref" in out or any(k in out for k in ("anyOf", "oneOf", "allOf", "enum")):
        return {"anyOf": [out, {"type": "null"}]}
    return {"type": "null"}


class Contract:
    def __init__(self, path):
        with open(path) as f:
            self.doc = json.load(f)
        self.root = {"components": convert_nullable(self.doc.get("components", {}))}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self.resolver = jsonschema.RefResolver.from_schema(self.root)
        # Literal segments win over parameters: sort templates by their
        # number of parameters, as actix's route order does for the
        # `/points/scroll` versus `/points/{id}` kind of pairs.
        self.routes = []
        for template, ops in self.doc["paths"].items():
            rx = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
            for method in ops:
                if method in METHODS:
                    self.routes.append((template.count("{"), template, method.upper(), re.compile(rx)))
        self.routes.sort(key=lambda r: (r[0], r[1]))
        self.templates = {(t, m) for _, t, m, _ in self.routes}

    def match(self, method, path):
        """(template, operation) for a request, (template, None) when the path
        exists under another method, (None, None) when the path is unknown."""
        seen = None
        for _, template, m, rx in self.routes:
            if rx.match(path):
                if m == method:
                    return template, self.doc["paths"][template][method.lower()]
                seen = seen or template
        return seen, None

    @staticmethod
    def response_for(op, status):
        responses = op.get("responses", {})
        for key in (str(status), f"{str(status)[0]}XX", "default"):
            if key in responses:
                return key, responses[key]
        return None, None

    def validate(self, schema, instance):
        schema = convert_nullable(schema)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            validator = jsonschema.Draft7Validator(schema, resolver=self.resolver)
            errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        return errors

    def error_schema(self):
        return {"$ref": "#/components/schemas/ErrorResponse"}


def describe(errors, limit=3):
    lines = []
    for e in errors[:limit]:
        where = "/".join(str(p) for p in e.absolute_path) or "(root)"
        # anyOf failures hide the interesting part in their context.
        ctx = ""
        if e.context:
            best = sorted(e.context, key=lambda c: -len(list(c.absolute_path)))[0]
            ctx = f" [deepest: at {'/'.join(str(p) for p in best.absolute_path)}: {best.message[:200]}]"
        lines.append(f"at {where}: {e.message[:300]}{ctx}")
    return "; ".join(lines)


def check_record(contract, rec, skip_prefixes):
    """Check one recorded response. Returns (outcome, detail): ("ok",
    (method, template)), ("fail", message), ("skipped", None) or
    ("unlisted", None); an unlisted record whose body is not Qdrant's error
    shape is a "fail"."""
    method, path, status, kind = rec["method"], rec["path"], rec["status"], rec.get("kind")
    where = f"{rec.get('file', '?')}: {method} {path}{rec.get('query', '')} -> {status}"
    if any(path.startswith(p) for p in skip_prefixes):
        return "skipped", None
    if path != "/" and path.endswith("/"):
        # Qdrant normalises a trailing slash away (NormalizePath::trim).
        path = path.rstrip("/")
    if rec.get("unlisted"):
        if kind == "json":
            errs = contract.validate(contract.error_schema(), rec["body"])
            if errs or not isinstance(rec["body"], dict) or not isinstance(rec["body"].get("status"), dict):
                return "fail", (f"{where}: error body of an unlisted route is not Qdrant's error shape: "
                                f"{describe(errs) or json.dumps(rec['body'])[:200]}")
        elif kind not in ("empty", "text"):
            return "fail", f"{where}: unlisted route answered a {kind} body"
        return "unlisted", None
    if method in ("OPTIONS", "HEAD"):
        # CORS preflights and HEAD are not operations of the document.
        return "skipped", None
    template, op = contract.match(method, path)
    if op is None:
        return "fail", (f"{where}: route not in the OpenAPI document"
                        + (f" (path {template} has no {method})" if template else ""))
    key, resp = contract.response_for(op, status)
    if resp is None:
        return "fail", f"{where}: status {status} is not documented for {method} {template}"
    content = resp.get("content")
    if not content:
        # e.g. GET / "4XX": description only, nothing to validate.
        return "ok", (method, template)
    if "application/json" in content:
        if kind != "json":
            return "fail", (f"{where}: documented as application/json ({key}), got {kind} "
                            f"({rec.get('content_type')!r}): {str(rec.get('body'))[:200]}")
        if not rec.get("content_type", "").lower().startswith("application/json"):
            return "fail", f"{where}: Content-Type {rec.get('content_type')!r}, documented application/json"
        errs = contract.validate(content["application/json"].get("schema", {}), rec["body"])
        if errs:
            return "fail", f"{where}: invalid against {key} schema: {describe(errs)}"
    elif "text/plain" in content:
        if kind not in ("text", "empty"):
            return "fail", f"{where}: documented as text/plain, got {kind} ({rec.get('content_type')!r})"
    elif kind == "json" and isinstance(rec["body"], dict) and "status" in rec["body"]:
        # A file download (application/octet-stream and the like).
        return "fail", f"{where}: documented as a file, got a JSON envelope"
    return "ok", (method, template)


SELF_TEST = [
    # (expected outcome, record)
    ("ok", {"method": "POST", "path": "/collections/c/points/search", "status": 200, "kind": "json",
            "content_type": "application/json",
            "body": {"result": [{"id": 1, "version": 0, "score": 0.5, "payload": None},
                                {"id": "550e8400-e29b-41d4-a716-446655440000", "version": 2, "score": 1}],
                     "status": "ok", "time": 0.1}}),
    ("fail", {"method": "POST", "path": "/collections/c/points/search", "status": 200, "kind": "json",
              "content_type": "application/json",
              "body": {"result": [{"id": -1, "version": 0, "score": 0.5}], "status": "ok", "time": 0.1}}),
    ("fail", {"method": "POST", "path": "/collections/c/points/query", "status": 200, "kind": "json",
              "content_type": "application/json",
              "body": {"result": {"points": [{"id": 1, "version": 0, "score": None}]}, "status": "ok", "time": 0}}),
    ("ok", {"method": "POST", "path": "/collections/c/points/scroll", "status": 200, "kind": "json",
            "content_type": "application/json",
            "body": {"result": {"points": [{"id": 1, "payload": {"a": 1}, "vector": {"s": {"indices": [1], "values": [0.5]}}}],
                                "next_page_offset": None}, "status": "ok", "time": 0}}),
    ("ok", {"method": "GET", "path": "/collections/c", "status": 404, "kind": "json",
            "content_type": "application/json",
            "body": {"status": {"error": "Not found: Collection `c` doesn't exist!"}, "time": 0}}),
    ("fail", {"method": "GET", "path": "/collections/c", "status": 200, "kind": "json",
              "content_type": "application/json",
              "body": {"result": {"status": "green"}, "status": "ok", "time": 0}}),
    ("fail", {"method": "POST", "path": "/collections/c/teleport", "status": 200, "kind": "json",
              "content_type": "application/json", "body": {"result": True, "status": "ok", "time": 0}}),
    ("fail", {"method": "GET", "path": "/healthz", "status": 200, "kind": "json",
              "content_type": "application/json", "body": {"result": "ok"}}),
    ("ok", {"method": "GET", "path": "/healthz", "status": 200, "kind": "text",
            "content_type": "text/plain", "body": "healthz check passed"}),
    ("unlisted", {"method": "GET", "path": "/no/such", "status": 404, "kind": "empty", "body": None, "unlisted": True}),
    ("fail", {"method": "GET", "path": "/no/such", "status": 404, "kind": "json", "content_type": "application/json",
              "body": {"error": "x"}, "unlisted": True}),
    ("skipped", {"method": "GET", "path": "/v1/embeddings", "status": 200, "kind": "json", "body": {}}),
    ("ok", {"method": "PUT", "path": "/collections/c/points", "status": 200, "kind": "json",
            "content_type": "application/json",
            "body": {"result": {"operation_id": 3, "status": "completed"}, "status": "ok", "time": 0}}),
    ("fail", {"method": "PUT", "path": "/collections/c/points", "status": 200, "kind": "json",
              "content_type": "application/json",
              "body": {"result": {"operation_id": 3, "status": "done"}, "status": "ok", "time": 0}}),
]


def self_test(contract):
    """Prove the checker can fail: each built-in record must get its outcome."""
    bad = 0
    for want, rec in SELF_TEST:
        got, detail = check_record(contract, rec, ["/v1/", "/ui"])
        if got != want:
            bad += 1
            print(f"self-test: {rec['method']} {rec['path']} -> {rec['status']}: expected {want}, got {got} ({detail})")
    print(f"self-test: {len(SELF_TEST) - bad} passed, {bad} failed")
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("records", nargs="?")
    ap.add_argument("--self-test", action="store_true", help="check the checker on built-in records")
    ap.add_argument("--openapi", default=os.path.join(HERE, "openapi-1.17.1.json"))
    ap.add_argument("--skip-prefix", action="append", default=["/v1/", "/ui"])
    ap.add_argument("--max-failures", type=int, default=40)
    args = ap.parse_args()

    contract = Contract(args.openapi)
    if args.self_test:
        return self_test(contract)
    if not args.records:
        ap.error("RECORDS.jsonl is required")
    failures = []
    covered = Counter()
    statuses = defaultdict(set)
    validated = skipped = unlisted = 0

    with open(args.records) as f:
        lines = [l for l in f if l.strip()]
    for line in lines:
        rec = json.loads(line)
        outcome, detail = check_record(contract, rec, args.skip_prefix)
        if outcome == "fail":
            failures.append(detail)
        elif outcome == "skipped":
            skipped += 1
        elif outcome == "unlisted":
            unlisted += 1
        else:
            validated += 1
            covered[detail] += 1
            statuses[detail].add(rec["status"])

    doc_routes = len(contract.templates)
    print(f"schema: {len(lines)} responses recorded, {validated} validated against the OpenAPI document, "
          f"{unlisted} to deliberately unlisted routes, {skipped} skipped (vitrine's own routes, OPTIONS, HEAD)")
    print(f"schema: {len(covered)} of the document's {doc_routes} operations covered:")
    for (method, template), count in sorted(covered.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        codes = ",".join(str(s) for s in sorted(statuses[(method, template)]))
        print(f"  {method:6} {template}  ({count} responses; status {codes})")
    if failures:
        print(f"schema: {len(failures)} invalid responses:")
        for f_ in failures[: args.max_failures]:
            print("  " + f_)
        if len(failures) > args.max_failures:
            print(f"  ... and {len(failures) - args.max_failures} more")
        print("schema: FAIL")
        return 1
    print("schema: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
