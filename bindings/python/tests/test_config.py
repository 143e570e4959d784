"""burgee.ConfigClient against real `burgee serve --demo` processes: a change made through the
seed API (/api/v1/config) is hot-reloaded within a second with the keys that changed; a
tampered config document is refused and the last good one kept; only a key scoped to the
service reads secrets; overrides resolve for this instance; offline start from the persisted
document."""

import base64
import http.server
import json
import threading
import time
import urllib.request

import burgee
from helpers import Server, request, wait_for


def set_up(tmp_path):
    server = Server(tmp_path)
    request("POST", f"{server.base}/api/v1/config", server.admin,
            {"key": "pool", "value": {"size": 5}, "environment": "production", "service_name": "checkout"})
    request("POST", f"{server.base}/api/v1/config", server.admin,
            {"key": "db_password", "value": "hunter2", "format": "text", "secret": True,
             "environment": "production", "service_name": "checkout"})
    scoped = request("POST", f"{server.base}/v1/tokens", server.admin,
                     {"kind": "sdk", "project": "webshop", "environment": "production", "service": "checkout"})
    return server, scoped["token"]


def options(server, sdk_key, **extra):
    o = dict(environment="production", project="webshop", trusted_keys=[server.public_key],
             server_url=server.base, sdk_key=sdk_key, service="checkout",
             instance={"targetingKey": "i-1", "zone": "eu-1"},
             backoff_base_ms=50, backoff_cap_ms=400, request_timeout_ms=2000)
    o.update(extra)
    return o


def test_a_seed_api_change_is_hot_reloaded_within_a_second(tmp_path):
    server, scoped = set_up(tmp_path)
    try:
        with burgee.ConfigClient(**options(server, scoped)) as config:
            assert config.wait_until_ready(10_000) == "READY"
            assert config.get("pool") == {"size": 5}
            assert config.get_str("db_password", "") == "hunter2"
            assert config.get_int("pool", 7) == 7
            assert config.get("missing", "dflt") == "dflt"
            changes = []
            config.on_change(lambda e: changes.append(e) if e["kind"] == "changed" and e["old_version"] else None)
            wait_for(0.3, lambda: False)  # the stream connects
            started = time.monotonic()
            request("PUT", f"{server.base}/api/v1/config/pool", server.admin,
                    {"value": {"size": 8}, "environment": "production", "service_name": "checkout"})
            assert wait_for(1.0, lambda: changes), "no change within 1 s"
            elapsed = time.monotonic() - started
            assert [(c["key"], c["old"]["value"], c["new"]["value"]) for c in changes[0]["changes"]] == \
                [("pool", {"size": 5}, {"size": 8})]
            assert config.get("pool") == {"size": 8}
            assert elapsed < 1.0, elapsed
    finally:
        server.kill()


def test_secrets_only_for_the_scoped_server_key_and_overrides_per_instance(tmp_path):
    server, scoped = set_up(tmp_path)
    try:
        request("PUT", f"{server.base}/v1/projects/webshop/environments/production/services/checkout/configs/timeout_ms",
                server.admin, {"value": "250", "overrides": [
                    {"id": "eu", "when": {"attribute": "zone", "op": "equals", "value": "eu-1"}, "value": "400"}]})
        with burgee.ConfigClient(**options(server, server.sdk_key)) as unscoped:
            assert unscoped.wait_until_ready(10_000) == "READY"
            assert unscoped.get("db_password") is None
            assert unscoped.get("timeout_ms") == 400
            assert unscoped.get_entry("timeout_ms")["override_id"] == "eu"
        with burgee.ConfigClient(**options(server, scoped, instance={"targetingKey": "i-2", "zone": "us-1"})) as us:
            assert us.wait_until_ready(10_000) == "READY"
            assert us.get("timeout_ms") == 250
            assert us.values()["pool"] == {"size": 5}
    finally:
        server.kill()


def test_a_tampered_document_is_refused_and_the_last_good_kept(tmp_path):
    server, scoped = set_up(tmp_path)
    try:
        req = urllib.request.Request(f"{server.base}/v1/configs/production/checkout")
        req.add_header("Authorization", f"Bearer {scoped}")
        with urllib.request.urlopen(req, timeout=10) as r:
            good = r.read()
        env = json.loads(good)
        doc = json.loads(base64.b64decode(env["payload"]))
        doc["version"] += 100
        next(e for e in doc["entries"] if e["key"] == "pool")["value"] = {"size": 999}
        env["payload"] = base64.b64encode(json.dumps(doc).encode()).decode()
        body = {"now": good}

        class Fake(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                if self.path.startswith("/v1/configs/production/checkout") and "/stream" not in self.path:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(body["now"])
                else:
                    self.send_response(404)
                    self.end_headers()

            def log_message(self, *args):
                pass

        fake = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Fake)
        threading.Thread(target=fake.serve_forever, daemon=True).start()
        persist = str(tmp_path / "checkout.config.json")
        o = options(server, scoped, server_url=f"http://127.0.0.1:{fake.server_address[1]}",
                    poll_interval_ms=50, persist_path=persist)
        with burgee.ConfigClient(**o) as config:
            assert config.wait_until_ready(10_000) == "READY"
            v = config.version()
            body["now"] = json.dumps(env).encode()
            assert wait_for(5.0, lambda: config.status()["status"] == "ERROR"), config.status()
            assert config.status()["error_code"] == "SIGNATURE_INVALID"
            assert config.version() == v
            assert config.get("pool") == {"size": 5}
        fake.shutdown()
        offline = burgee.ConfigClient(environment="production", project="webshop",
                                      trusted_keys=[server.public_key], service="checkout", persist_path=persist)
        assert offline.status()["status"] == "READY"
        assert offline.get("pool") == {"size": 5}
        wrong = burgee.ConfigClient(environment="production", project="webshop",
                                    trusted_keys=[server.public_key], service="billing", bootstrap=good.decode())
        assert wrong.status()["last_error_code"] == "SERVICE_MISMATCH"
        assert wrong.version() is None
    finally:
        server.kill()
