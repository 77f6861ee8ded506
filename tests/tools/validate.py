#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Validate JSON records against the project's schemas (docs/schemas/).

    validate.py SCHEMA_DIR KIND FILE...

KIND is tapreflect (interval and summary lines, and the start record of
--ready-fd), tapgen (trial or search records, and its start record) or
perf-report (input lines).  Every line of every FILE must be valid against
the schema its "type" (or the KIND) names; exit 1 with the first error
otherwise.  Prints how many records of each kind were valid.
"""
import json
import os
import sys

import jsonschema


def main():
    schema_dir, kind, files = sys.argv[1], sys.argv[2], sys.argv[3:]
    schemas = {}
    for name in os.listdir(schema_dir):
        if name.endswith(".schema.json"):
            with open(os.path.join(schema_dir, name)) as f:
                s = json.load(f)
            jsonschema.Draft202012Validator.check_schema(s)
            schemas[name[: -len(".schema.json")]] = jsonschema.Draft202012Validator(s)
    pick = {
        "tapreflect": lambda r: "tapreflect-" + r.get("type", "?"),
        # Whatever else tapgen writes is a trial ("type":"tapgen"): its schema says if not.
        "tapgen": lambda r: {"search": "tapgen-search", "start": "tapgen-start"}.get(r.get("type"), "tapgen-trial"),
        "perf-report": lambda r: "perf-report-input",
    }[kind]
    seen = {}
    for path in files:
        with open(path) as f:
            lines = [l for l in f.read().splitlines() if l.strip()]
        if not lines:
            sys.exit(f"validate: {path}: no record")
        for n, line in enumerate(lines, 1):
            record = json.loads(line)
            name = pick(record)
            if name not in schemas:
                sys.exit(f"validate: {path}:{n}: no schema {name} for this record")
            errors = sorted(schemas[name].iter_errors(record), key=lambda e: list(e.path))
            if errors:
                e = errors[0]
                sys.exit(f"validate: {path}:{n}: not a valid {name}: {'/'.join(map(str, e.path)) or '(record)'}: "
                         f"{e.message[:300]}")
            seen[name] = seen.get(name, 0) + 1
    print("valid: " + ", ".join(f"{v} {k}" for k, v in sorted(seen.items())))


if __name__ == "__main__":
    main()
