#!/usr/bin/env python3
"""Writes the signed envelope fixtures and manifest.json in this folder.

An independent implementation of the envelope format (spec/SNAPSHOT.md §5): DSSE v1 PAE and
Ed25519 from the `cryptography` package, so the Rust core is checked against code it shares
nothing with. The signing keys are generated here and thrown away; only public keys are
written. Re-running produces new keys and signatures (the fixtures are golden files: re-run only
when the format changes, then commit the result).
"""
import base64
import hashlib
import json
import pathlib

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

HERE = pathlib.Path(__file__).parent
PAYLOAD_TYPE = "application/vnd.burgee.snapshot+json; version=1"
NOW = 1_800_000_000_000


def pae(payload_type: str, payload: bytes) -> bytes:
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(key: Ed25519PrivateKey) -> str:
    return hashlib.sha256(raw_public(key)).hexdigest()[:32]


def b64(data: bytes) -> str:
    return base64.standard_b64encode(data).decode()


def snapshot(version=5, environment="production", expires_at=1_900_000_000_000, flags=None,
             project="fixtures", audience=None) -> bytes:
    doc = {
        "format": 1, "project": project, "environment": environment, "version": version,
        "issued_at": 1_700_000_000_000, "expires_at": expires_at, "salt": "fixture-salt",
        "flags": flags if flags is not None else [{
            "key": "new-checkout", "type": "boolean", "variants": {"on": True, "off": False},
            "enabled": True, "off_variant": "off", "default": {"variant": "on"}}],
    }
    if audience is not None:
        doc["audience"] = audience
    return json.dumps(doc, separators=(",", ":")).encode()


def envelope(payload: bytes, signers, payload_type=PAYLOAD_TYPE, keyid=None) -> dict:
    sigs = [{"keyid": key_id(k) if keyid is None else keyid, "sig": b64(k.sign(pae(payload_type, payload)))} for k in signers]
    return {"payloadType": payload_type, "payload": b64(payload), "signatures": sigs}


def main() -> None:
    trusted, rotated, stranger = (Ed25519PrivateKey.generate() for _ in range(3))
    pub = {name: b64(raw_public(k)) for name, k in [("trusted", trusted), ("rotated", rotated), ("stranger", stranger)]}
    valid_payload = snapshot()
    digest = "sha256:" + hashlib.sha256(valid_payload).hexdigest()
    files: dict[str, str] = {}
    cases = []

    def add(file, text, expected, trusted_keys=("trusted",), environment="production", **extra):
        files[file] = text
        case = {"file": file, "trusted_keys": [pub[k] for k in trusted_keys], "environment": environment,
                "now": NOW, "expected": expected}
        case.update(extra)
        cases.append(case)

    valid = json.dumps(envelope(valid_payload, [trusted]))
    add("valid.json", valid, "OK", version=5, digest=digest)
    add("valid.json", valid, "OK", held_version=4, held_digest="sha256:" + "0" * 64, version=5, digest=digest,
        note="newer than the held version")
    add("valid.json", valid, "OK", held_version=5, held_digest=digest, version=5, digest=digest,
        note="same version and digest as held (refetch)")
    add("valid.json", valid, "SNAPSHOT_ROLLBACK", held_version=6, held_digest="sha256:" + "0" * 64,
        note="rolled back: older than the held version")
    add("valid.json", valid, "SNAPSHOT_ROLLBACK", held_version=5, held_digest="sha256:" + "1" * 64,
        note="equivocation: same version, other digest")
    add("valid.json", valid, "SNAPSHOT_TOO_LARGE", max_envelope_bytes=256, note="over the size limit")
    add("valid.json", valid, "KEY_UNTRUSTED", trusted_keys=("rotated",), note="signer not trusted")
    add("valid-rotated-key.json", json.dumps(envelope(valid_payload, [rotated])), "OK",
        trusted_keys=("trusted", "rotated"), version=5, digest=digest, note="rotation: both keys trusted")
    add("valid-two-signatures.json", json.dumps(envelope(valid_payload, [stranger, trusted])), "OK",
        version=5, digest=digest, note="one of two signatures is by a trusted key")
    add("valid-empty-keyid.json", json.dumps(envelope(valid_payload, [trusted], keyid="")), "OK",
        version=5, digest=digest, note="an empty keyid is tried against every trusted key")

    tampered = envelope(valid_payload, [trusted])
    tampered["payload"] = b64(valid_payload.replace(b'"enabled":true', b'"enabled":false'))
    add("payload-tampered.json", json.dumps(tampered), "SIGNATURE_INVALID")

    retyped = envelope(valid_payload, [trusted])
    retyped["payloadType"] = "application/vnd.burgee.snapshot+json; version=2"
    add("payload-type-tampered.json", json.dumps(retyped), "SIGNATURE_INVALID")

    garbage = envelope(valid_payload, [trusted])
    garbage["signatures"][0]["sig"] = "not base64!"
    add("signature-not-base64.json", json.dumps(garbage), "SIGNATURE_INVALID")

    add("unknown-key.json", json.dumps(envelope(valid_payload, [stranger])), "KEY_UNTRUSTED")
    add("no-signatures.json", json.dumps(envelope(valid_payload, [])), "KEY_UNTRUSTED")
    add("other-payload-type.json", json.dumps(envelope(valid_payload, [trusted], payload_type="application/vnd.in-toto+json")),
        "PAYLOAD_TYPE_MISMATCH", note="validly signed, but not a snapshot")
    add("expired.json", json.dumps(envelope(snapshot(version=6, expires_at=1_750_000_000_000), [trusted])), "SNAPSHOT_EXPIRED")
    add("wrong-environment.json", json.dumps(envelope(snapshot(environment="staging"), [trusted])), "ENVIRONMENT_MISMATCH")
    add("malformed-json.json", valid[: len(valid) // 2], "PARSE_ERROR", note="envelope JSON cut in half")
    truncated = envelope(valid_payload, [trusted])
    truncated["payload"] = truncated["payload"][:-3]
    add("truncated-base64.json", json.dumps(truncated), "PARSE_ERROR")
    add("not-a-snapshot.json", json.dumps(envelope(b'{"hello":"world"}', [trusted])), "PARSE_ERROR",
        note="signed payload that is not snapshot JSON")
    cyclic = [
        {"key": k, "type": "boolean", "variants": {"on": True, "off": False}, "enabled": True, "off_variant": "off",
         "prerequisites": [{"flag": other, "variants": ["on"]}], "default": {"variant": "on"}}
        for k, other in (("a", "b"), ("b", "a"))]
    add("signed-invalid-snapshot.json", json.dumps(envelope(snapshot(flags=cyclic), [trusted])), "SNAPSHOT_INVALID",
        note="signed, but a prerequisite cycle")

    # Project and audience (spec/SNAPSHOT.md §5.3 steps 6 and 8; `project` absent = not checked,
    # `audience` absent = server).
    add("valid.json", valid, "OK", project="fixtures", version=5, digest=digest, note="the configured project")
    other_payload = snapshot(project="other-project")
    other_digest = "sha256:" + hashlib.sha256(other_payload).hexdigest()
    other = json.dumps(envelope(other_payload, [trusted]))
    add("other-project.json", other, "PROJECT_MISMATCH", project="fixtures",
        note="validly signed by a trusted key, but another project's snapshot")
    add("other-project.json", other, "OK", version=5, digest=other_digest,
        note="another project's snapshot, project not checked (no project configured)")
    add("other-project.json", other, "PROJECT_MISMATCH", project="fixtures", environment="staging",
        note="another project and another environment: the project is checked first")
    visible = [{
        "key": "new-checkout", "type": "boolean", "variants": {"on": True, "off": False},
        "enabled": True, "off_variant": "off", "default": {"variant": "on"}, "client_visible": True}]
    client_payload = snapshot(flags=visible, audience="client")
    client_digest = "sha256:" + hashlib.sha256(client_payload).hexdigest()
    client = json.dumps(envelope(client_payload, [trusted]))
    add("client-snapshot.json", client, "AUDIENCE_MISMATCH", project="fixtures",
        note="a client snapshot fed to a server SDK (audience server by default)")
    add("client-snapshot.json", client, "OK", project="fixtures", audience="client", version=5,
        digest=client_digest, note="a client snapshot read by a client SDK")
    add("client-snapshot.json", client, "AUDIENCE_MISMATCH", audience="server", held_version=6,
        held_digest="sha256:" + "0" * 64, note="the audience is checked before anti-rollback")
    add("client-snapshot.json", client, "ENVIRONMENT_MISMATCH", environment="staging",
        note="the environment is checked before the audience")
    add("valid.json", valid, "AUDIENCE_MISMATCH", project="fixtures", audience="client",
        note="a server snapshot fed to a client SDK")

    # At most 8 signatures (spec/SNAPSHOT.md §10), counted before any is checked.
    add("eight-signatures.json", json.dumps(envelope(valid_payload, [stranger] * 7 + [trusted])), "OK",
        version=5, digest=digest, note="8 signatures (the limit); the last is by the trusted key")
    add("nine-signatures.json", json.dumps(envelope(valid_payload, [trusted] + [stranger] * 8)), "PARSE_ERROR",
        note="9 signatures, over the limit of 8, though the first is by the trusted key")

    for name, text in files.items():
        (HERE / name).write_text(text)
    manifest = {"description": "Envelope fixtures (spec/SNAPSHOT.md §5). Each case: file, trusted_keys (base64 raw Ed25519), environment, now (ms), optional project (absent: not checked), audience (server or client; absent: server), held_version/held_digest/max_envelope_bytes, expected (OK or an error code), and for OK the version and digest.",
                "cases": cases}
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"{len(files)} files, {len(cases)} cases")


if __name__ == "__main__":
    main()
