#!/usr/bin/env python3
"""Checks spec/snapshot.schema.json against the conformance vectors with the `jsonschema` package.

Every snapshot in vectors/eval/ and the signed OK envelopes must validate; every snapshot in
invalid-snapshots.json whose expected code is PARSE_ERROR (a shape error) must not. Prints
"N passed, M failed" and exits 1 on any failure.
"""
import base64
import json
import pathlib
import sys

import jsonschema

SPEC = pathlib.Path(__file__).parent
VECTORS = SPEC / "vectors"


def main() -> int:
    schema = json.loads((SPEC / "snapshot.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    passed, failed = 0, []

    def expect(name: str, doc, valid: bool) -> None:
        nonlocal passed
        errors = list(validator.iter_errors(doc))
        if (not errors) == valid:
            passed += 1
        else:
            failed.append(f"{name}: expected {'valid' if valid else 'invalid'}, got {errors[:1] or 'valid'}")

    for path in sorted((VECTORS / "eval").glob("*.json")):
        expect(path.name, json.loads(path.read_text())["snapshot"], True)
    for case in json.loads((VECTORS / "invalid-snapshots.json").read_text())["cases"]:
        if case["error_code"] == "PARSE_ERROR" and "snapshot" in case:
            expect(case["name"], case["snapshot"], False)
    manifest = json.loads((VECTORS / "envelopes" / "manifest.json").read_text())
    for case in manifest["cases"]:
        if case["expected"] == "OK":
            envelope = json.loads((VECTORS / "envelopes" / case["file"]).read_text())
            expect(case["file"], json.loads(base64.standard_b64decode(envelope["payload"])), True)
    for line in failed:
        print("FAIL", line)
    print(f"{passed} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
