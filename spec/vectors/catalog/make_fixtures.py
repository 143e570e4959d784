#!/usr/bin/env python3
"""Writes the signed catalog fixtures, manifest.json and balance.json in this folder.

An independent implementation of catalog documents (spec/CATALOG.md): the envelope helpers (DSSE
v1 PAE, key ids, base64) come from ../envelopes/make_fixtures.py and Ed25519 from the
`cryptography` package; balancing (§4) is modelled in balance_model.py with hashlib, so the Rust
core is checked against code it shares nothing with. The signing keys are generated here and
thrown away; only public keys are written. Re-running produces new keys and signatures but the
same payloads, digests and balance.json (the fixtures are golden files: re-run only when the
format changes, then commit the result).

Each manifest case: file, trusted_keys, environment, now, optional project (absent: not
checked), held_version/held_digest/max_envelope_bytes, expected (OK or an error code), for
SNAPSHOT_INVALID the `path` the refusal names, and for OK the version, digest and `services`:
{service name: [instance ids, sorted]}.
"""
import copy
import hashlib
import importlib.util
import json
import pathlib

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

HERE = pathlib.Path(__file__).parent


def _load(name: str, path: pathlib.Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


envelopes = _load("envelope_fixtures", HERE.parent / "envelopes" / "make_fixtures.py")
model = _load("balance_model", HERE / "balance_model.py")
sequences = _load("balance_sequences", HERE / "balance_sequences.py")
b64, key_id, pae, raw_public = envelopes.b64, envelopes.key_id, envelopes.pae, envelopes.raw_public

CATALOG_PAYLOAD_TYPE = "application/vnd.burgee.catalog+json; version=1"
CONFIG_PAYLOAD_TYPE = "application/vnd.burgee.config+json; version=1"
SNAPSHOT_PAYLOAD_TYPE = envelopes.PAYLOAD_TYPE
NOW = 1_800_000_000_000
ZERO_DIGEST = "sha256:" + "0" * 64


def inst(iid, address, port, weight=100, health="passing", scheme="http", **extra):
    i = {"id": iid, "scheme": scheme, "address": address, "port": port, "weight": weight, "health": health}
    i.update(extra)
    return i


# The catalog of the fixtures and of balance.json: services sorted by name, instances by id.
SERVICES = [
    {"name": "billing", "instances": [
        inst("b-1", "billing-1.internal", 8443, scheme="https", zone="eu-west-1a", version="3.1.0")]},
    {"name": "checkout", "instances": [
        inst("c-1", "10.0.1.11", 8080, 100, zone="eu-west-1a", version="2.4.0", metadata={"pool": "blue"}),
        inst("c-2", "10.0.1.12", 8080, 200, zone="eu-west-1a", version="2.4.0", metadata={"pool": "blue"}),
        inst("c-3", "10.0.2.13", 8080, 100, "warning", zone="eu-west-1b", version="2.4.0"),
        inst("c-4", "10.0.2.14", 8080, 50, zone="eu-west-1b", version="2.5.0-rc.1",
             metadata={"pool": "green", "canary": "true"}),
        inst("c-5", "10.0.3.15", 8080, 300, zone="eu-west-1c", version="2.4.0"),
        inst("c-6", "checkout-6.internal", 8081, 100, zone="eu-west-1c")]},
    {"name": "search", "instances": [
        inst("s-1", "fd00:10::21", 9090, scheme="grpc", zone="eu-west-1a"),
        inst("s-2", "search-2.internal", 9090, scheme="grpc")]},
]


def document(version=12, environment="production", project="fixtures", issued_at=1_700_000_000_000,
             expires_at=1_900_000_000_000, services=None, **extra) -> dict:
    doc = {"format": 1, "project": project, "environment": environment, "version": version,
           "issued_at": issued_at, "expires_at": expires_at,
           "services": copy.deepcopy(SERVICES if services is None else services)}
    doc.update(extra)
    return doc


def payload(doc: dict) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def envelope(data: bytes, signers, payload_type=CATALOG_PAYLOAD_TYPE) -> dict:
    sigs = [{"keyid": key_id(k), "sig": b64(k.sign(pae(payload_type, data)))} for k in signers]
    return {"payloadType": payload_type, "payload": b64(data), "signatures": sigs}


def listing(doc: dict) -> dict:
    """`services` of an OK case: every service with its instance ids in byte order."""
    return {s["name"]: sorted((i["id"] for i in s.get("instances", [])), key=str.encode)
            for s in sorted(doc["services"], key=lambda s: s["name"].encode())}


def invalid_documents():
    """(file, services, path, note), each breaking exactly one rule of spec/CATALOG.md §2."""
    def with_instance(service_index, instance_index, **change):
        services = copy.deepcopy(SERVICES)
        services[service_index]["instances"][instance_index].update(change)
        return services

    dup_service = copy.deepcopy(SERVICES)
    dup_service.insert(2, copy.deepcopy(SERVICES[1]))
    dup_instance = copy.deepcopy(SERVICES)
    dup_instance[1]["instances"][2]["id"] = "c-2"
    empty_name = copy.deepcopy(SERVICES)
    empty_name.insert(0, {"name": "", "instances": []})
    return [
        ("invalid-duplicate-service.json", dup_service, "services[2]",
         "two services named checkout: the second is named"),
        ("invalid-duplicate-instance.json", dup_instance, "services[1].instances[2]",
         "two instances c-2 in checkout: the second is named"),
        ("invalid-weight-zero.json", with_instance(1, 1, weight=0), "services[1].instances[1].weight",
         "weight 0"),
        ("invalid-weight-over.json", with_instance(1, 4, weight=10_001), "services[1].instances[4].weight",
         "weight 10001, over the maximum of 10000"),
        ("invalid-port-zero.json", with_instance(0, 0, port=0), "services[0].instances[0].port", "port 0"),
        ("invalid-scheme.json", with_instance(2, 1, scheme="HTTP"), "services[2].instances[1].scheme",
         "scheme HTTP: schemes are lowercase"),
        ("invalid-scheme-digit.json", with_instance(2, 0, scheme="2grpc"), "services[2].instances[0].scheme",
         "a scheme starting with a digit"),
        ("invalid-empty-address.json", with_instance(1, 3, address=""), "services[1].instances[3].address",
         "an empty address"),
        ("invalid-address-space.json", with_instance(1, 5, address="checkout 6.internal"),
         "services[1].instances[5].address", "an address with whitespace"),
        ("invalid-empty-id.json", with_instance(0, 0, id=""), "services[0].instances[0].id", "an empty instance id"),
        ("invalid-empty-service-name.json", empty_name, "services[0]", "a service with an empty name"),
    ]


def dump_balance(balance: dict) -> str:
    """balance.json with one step per line (diffs stay readable)."""
    def one(x):
        return json.dumps(x, ensure_ascii=False)
    services = ",\n".join("  " + one(s) for s in balance["catalog"]["services"])
    head = {k: v for k, v in balance["catalog"].items() if k != "services"}
    lines = ["{", f' "description": {one(balance["description"])},',
             f' "catalog": {one(head)[:-1]}, "services": [', services, " ]},", ' "sequences": [']
    for n, seq in enumerate(balance["sequences"]):
        lines.append(f'  {{"name": {one(seq["name"])}, "note": {one(seq["note"])}, "steps": [')
        lines.append(",\n".join("   " + one(st) for st in seq["steps"]))
        lines.append("  ]}" + ("," if n + 1 < len(balance["sequences"]) else ""))
    lines += [" ]", "}"]
    text = "\n".join(lines) + "\n"
    assert json.loads(text) == balance
    return text


def main() -> None:
    trusted, stranger = (Ed25519PrivateKey.generate() for _ in range(2))
    pub = {name: b64(raw_public(k)) for name, k in [("trusted", trusted), ("stranger", stranger)]}
    valid_doc = document()
    valid_payload = payload(valid_doc)
    digest = digest_of(valid_payload)
    files: dict[str, str] = {}
    cases = []

    def add(file, text, expected, trusted_keys=("trusted",), environment="production", **extra):
        files[file] = text
        case = {"file": file, "trusted_keys": [pub[k] for k in trusted_keys],
                "environment": environment, "now": NOW, "expected": expected}
        case.update(extra)
        cases.append(case)

    def signed(doc_or_bytes, payload_type=CATALOG_PAYLOAD_TYPE, signers=None) -> str:
        data = doc_or_bytes if isinstance(doc_or_bytes, bytes) else payload(doc_or_bytes)
        return json.dumps(envelope(data, signers or [trusted], payload_type))

    ok = {"version": 12, "digest": digest, "services": listing(valid_doc)}
    valid = signed(valid_payload)
    add("valid.json", valid, "OK", project="fixtures", **ok,
        note="three services; an IPv6 address, a warning instance, weights 50 to 300")
    add("valid.json", valid, "OK", **ok, note="project not checked")
    add("valid.json", valid, "OK", project="fixtures", held_version=11, held_digest=ZERO_DIGEST, **ok,
        note="newer than the held version")
    add("valid.json", valid, "OK", project="fixtures", held_version=12, held_digest=digest, **ok,
        note="same version and digest as held (refetch)")

    shuffled = copy.deepcopy(SERVICES)[::-1]
    for s in shuffled:
        s["instances"].reverse()
    unsorted_doc = document(services=shuffled)
    unsorted_payload = payload(unsorted_doc)
    add("valid-unsorted.json", signed(unsorted_payload), "OK", project="fixtures", version=12,
        digest=digest_of(unsorted_payload), services=listing(unsorted_doc),
        note="services and instances out of order: a reader sorts them and does not refuse")
    empty_doc = document(version=3, services=[{"name": "ledger"}, {"name": "reports", "instances": []}])
    empty_payload = payload(empty_doc)
    add("valid-empty-services.json", signed(empty_payload), "OK", project="fixtures", version=3,
        digest=digest_of(empty_payload), services=listing(empty_doc),
        note="a service without instances (instances absent or empty): listed, never chosen")

    tampered = envelope(valid_payload, [trusted])
    tampered["payload"] = b64(valid_payload.replace(b"10.0.1.11", b"10.6.6.66"))
    add("payload-tampered.json", json.dumps(tampered), "SIGNATURE_INVALID", note="an address changed after signing")
    retyped = envelope(valid_payload, [trusted])
    retyped["payloadType"] = SNAPSHOT_PAYLOAD_TYPE
    add("payload-type-tampered.json", json.dumps(retyped), "SIGNATURE_INVALID",
        note="payloadType changed to the snapshot type after signing")
    add("snapshot-payload-type.json", signed(valid_payload, SNAPSHOT_PAYLOAD_TYPE), "PAYLOAD_TYPE_MISMATCH",
        note="a catalog payload validly signed as a flag snapshot")
    add("config-payload-type.json", signed(valid_payload, CONFIG_PAYLOAD_TYPE), "PAYLOAD_TYPE_MISMATCH",
        note="a catalog payload validly signed as a config document")
    add("unknown-key.json", signed(valid_payload, signers=[stranger]), "KEY_UNTRUSTED")
    add("valid.json", valid, "SNAPSHOT_TOO_LARGE", max_envelope_bytes=1024, note="over the size limit")
    assert len(valid.encode()) > 1024
    add("not-a-catalog.json", signed(envelopes.snapshot()), "PARSE_ERROR",
        note="a flag snapshot's JSON signed with the catalog payload type")
    add("unknown-member.json", signed(document(audience="server")), "PARSE_ERROR",
        note="an unknown top-level member (audience)")
    extra_member = copy.deepcopy(SERVICES)
    extra_member[1]["instances"][0]["healthy"] = True
    add("unknown-instance-member.json", signed(document(services=extra_member)), "PARSE_ERROR",
        note="an unknown instance member (healthy)")
    critical = copy.deepcopy(SERVICES)
    critical[1]["instances"][2]["health"] = "critical"
    add("critical-instance.json", signed(document(services=critical)), "PARSE_ERROR",
        note="health critical: not a published health")
    big_port = copy.deepcopy(SERVICES)
    big_port[0]["instances"][0]["port"] = 65_536
    add("port-over.json", signed(document(services=big_port)), "PARSE_ERROR",
        note="port 65536 does not fit the u16 member")

    wrong_env = signed(document(environment="staging"))
    add("wrong-environment.json", wrong_env, "ENVIRONMENT_MISMATCH", project="fixtures")
    add("wrong-environment.json", wrong_env, "ENVIRONMENT_MISMATCH", held_version=13, held_digest=ZERO_DIGEST,
        note="the environment is checked before anti-rollback")
    add("other-project.json", signed(document(project="other-project", environment="staging")),
        "PROJECT_MISMATCH", project="fixtures",
        note="another project (and environment): the project is checked first")

    add("valid.json", valid, "SNAPSHOT_ROLLBACK", project="fixtures", held_version=13, held_digest=ZERO_DIGEST,
        note="rolled back: older than the held version")
    add("valid.json", valid, "SNAPSHOT_ROLLBACK", project="fixtures", held_version=12,
        held_digest="sha256:" + "1" * 64, note="equivocation: same version, other digest")
    add("expired.json", signed(document(version=13, expires_at=1_750_000_000_000)), "SNAPSHOT_EXPIRED",
        project="fixtures")
    add("expired.json", files["expired.json"], "SNAPSHOT_ROLLBACK", project="fixtures", held_version=14,
        held_digest=ZERO_DIGEST, note="expired and rolled back: anti-rollback is checked first")

    def invalid(file, doc, path, note):
        add(file, signed(doc), "SNAPSHOT_INVALID", project="fixtures", path=path, note="signed, but " + note)

    for file, services, path, note in invalid_documents():
        invalid(file, document(services=services), path, note)
    invalid("invalid-expires-equal.json", document(issued_at=1_900_000_000_000), "expires_at",
            "expires_at equal to issued_at (both after now, so not expired)")
    invalid("invalid-expires-before.json", document(issued_at=1_950_000_000_000), "expires_at",
            "expires_at before issued_at (both after now, so not expired)")
    invalid("invalid-format.json", document(format=2), "format", "format 2")

    for name, text in files.items():
        (HERE / name).write_text(text)
    manifest = {"description": "Catalog document fixtures (spec/CATALOG.md §3). "
                + " ".join(__doc__.split("\n\n")[-1].split()), "cases": cases}
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")

    balance = sequences.build(document(), NOW)
    (HERE / "balance.json").write_text(dump_balance(balance))
    steps = sum(len(s["steps"]) for s in balance["sequences"])
    print(f"{len(files)} files, {len(cases)} cases; balance.json: {len(balance['sequences'])} sequences, {steps} steps")


if __name__ == "__main__":
    main()
