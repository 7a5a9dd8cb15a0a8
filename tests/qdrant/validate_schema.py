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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("records")
    ap.add_argument("--openapi", default=os.path.join(HERE, "openapi-1.17.1.json"))
    ap.add_argument("--skip-prefix", action="append", default=["/v1/", "/ui"])
    ap.add_argument("--max-failures", type=int, default=40)
    args = ap.parse_args()

    contract = Contract(args.openapi)
    failures = []
    covered = Counter()
    statuses = defaultdict(set)
    validated = skipped = unlisted = 0

    with open(args.records) as f:
        lines = [l for l in f if l.strip()]
    for n, line in enumerate(lines, 1):
        rec = json.loads(line)
        method, path, status, kind = rec["method"], rec["path"], rec["status"], rec.get("kind")
        where = f"{rec.get('file', '?')}: {method} {path}{rec.get('query', '')} -> {status}"
        if any(path.startswith(p) for p in args.skip_prefix):
            skipped += 1
            continue
        if path != "/" and path.endswith("/"):
            # Qdrant normalises a trailing slash away (NormalizePath::trim).
            path = path.rstrip("/")
        if rec.get("unlisted"):
            unlisted += 1
            if kind == "json":
                errs = contract.validate(contract.error_schema(), rec["body"])
                if errs or not isinstance(rec["body"].get("status"), dict):
                    failures.append(f"{where}: error body of an unlisted route is not Qdrant's error shape: "
                                    f"{describe(errs) or json.dumps(rec['body'])[:200]}")
            elif kind not in ("empty", "text"):
                failures.append(f"{where}: unlisted route answered a {kind} body")
            continue
        if method == "OPTIONS" or method == "HEAD":
            # CORS preflights and HEAD are not operations of the document.
            skipped += 1
            continue
        template, op = contract.match(method, path)
        if op is None:
            failures.append(f"{where}: route not in the OpenAPI document"
                            + (f" (path {template} has no {method})" if template else ""))
            continue
        covered[(method, template)] += 1
        statuses[(method, template)].add(status)
        key, resp = contract.response_for(op, status)
        if resp is None:
            failures.append(f"{where}: status {status} is not documented for {method} {template}")
            continue
        content = resp.get("content")
        if not content:
            # e.g. GET / "4XX": description only, nothing to validate.
            validated += 1
            continue
        if "application/json" in content:
            if kind != "json":
                failures.append(f"{where}: documented as application/json ({key}), got {kind} "
                                f"({rec.get('content_type')!r}): {str(rec.get('body'))[:200]}")
                continue
            if not rec.get("content_type", "").lower().startswith("application/json"):
                failures.append(f"{where}: Content-Type {rec.get('content_type')!r}, documented application/json")
                continue
            errs = contract.validate(content["application/json"].get("schema", {}), rec["body"])
            if errs:
                failures.append(f"{where}: invalid against {key} schema: {describe(errs)}")
                continue
        elif "text/plain" in content:
            if kind not in ("text", "empty"):
                failures.append(f"{where}: documented as text/plain, got {kind} ({rec.get('content_type')!r})")
                continue
        elif "application/octet-stream" in content or any("octet" in c or "snapshot" in c for c in content):
            if kind == "json" and isinstance(rec["body"], dict) and "status" in rec["body"]:
                failures.append(f"{where}: documented as a file, got a JSON envelope")
                continue
        validated += 1

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
