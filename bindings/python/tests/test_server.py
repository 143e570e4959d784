"""burgee against real `burgee serve --demo` processes."""

import base64
import http.server
import json
import threading

import pytest

import burgee
from helpers import Server, copy_dir, wait_for


def options(server, **extra):
    o = dict(environment="production", project="webshop", trusted_keys=[server.public_key],
             server_url=server.base, sdk_key=server.sdk_key, backoff_base_ms=50, backoff_cap_ms=400,
             request_timeout_ms=2000)
    o.update(extra)
    return o


def version(c):
    info = c.snapshot_info()
    return info["version"] if info else 0


def user_off(c):
    for i in range(500):
        if c.get_boolean_details("checkout-redesign", True, {"targetingKey": f"user-{i}"}).variant == "off":
            return f"user-{i}"
    raise AssertionError("no user off")


def test_ready_evaluate_and_a_change_by_sse_within_a_second(tmp_path):
    server = Server(tmp_path)
    try:
        with burgee.Client(**options(server)) as client:
            changes = []
            client.on_event(lambda e: changes.append(e) if e["kind"] == "changed" else None)
            assert client.wait_until_ready(10_000) == "READY"
            v1 = version(client)
            user = user_off(client)
            ctx = burgee.Context(user, country="DE")
            assert client.get_boolean_value("checkout-redesign", True, ctx) is False
            wait_for(0.3, lambda: False)  # the stream connects
            published = server.set_default("checkout-redesign", "on")
            assert wait_for(1.0, lambda: version(client) == published), f"{published} not seen within 1 s"
            assert client.get_boolean_value("checkout-redesign", False, ctx) is True
            assert wait_for(1.0, lambda: any(e["new_version"] == published for e in changes))
            assert {"kind": "changed", "old_version": v1, "new_version": published} in changes
    finally:
        server.kill()


def test_the_client_checks_its_project_and_the_audience_of_its_key(tmp_path):
    server = Server(tmp_path)
    try:
        server_envelope = server.envelope().decode()
        client_envelope = server.client_envelope().decode()
        v = burgee.Snapshot.load(server_envelope, trusted_keys=[server.public_key],
                                 environment="production").info["version"]

        def held(**extra):
            with burgee.Client(environment="production", trusted_keys=[server.public_key], **extra) as c:
                return version(c), c.status()["last_error_code"]

        assert held(project="webshop", bootstrap=server_envelope) == (v, None)
        assert held(project="blog", bootstrap=server_envelope) == (0, "PROJECT_MISMATCH")
        # A client-side key reads client snapshots only; an SDK key (or none) server snapshots only.
        assert held(project="webshop", sdk_key=server.client_key, bootstrap=client_envelope) == (v, None)
        assert held(project="webshop", sdk_key=server.client_key, bootstrap=server_envelope) == (0, "AUDIENCE_MISMATCH")
        assert held(project="webshop", sdk_key=server.sdk_key, bootstrap=client_envelope) == (0, "AUDIENCE_MISMATCH")

        def load(envelope, **extra):
            return burgee.Snapshot.load(envelope, trusted_keys=[server.public_key], environment="production", **extra)

        assert load(client_envelope, project="webshop", audience="client").info["version"] == v
        for envelope, extra, exc in [
            (client_envelope, {}, burgee.AudienceMismatch),
            (server_envelope, {"audience": "client"}, burgee.AudienceMismatch),
            (server_envelope, {"project": "blog"}, burgee.ProjectMismatch),
            (server_envelope, {"audience": "browser"}, burgee.GeneralError),
        ]:
            with pytest.raises(exc):
                load(envelope, **extra)
    finally:
        server.kill()


def test_outage_keeps_last_known_good_restart_resyncs_and_offline_start(tmp_path):
    lkg = tmp_path / "lkg.json"
    server = Server(tmp_path / "data")
    try:
        client = burgee.Client(**options(server, persist_path=str(lkg)))
        assert client.wait_until_ready(10_000) == "READY"
        v1 = version(client)
        user = user_off(client)
        server.kill()
        assert wait_for(5, lambda: client.status()["status"] == "STALE"), client.status()
        assert version(client) == v1
        assert client.get_boolean_value("checkout-redesign", True, {"targetingKey": user}) is False

        offline = burgee.Client(environment="production", trusted_keys=[server.public_key], persist_path=str(lkg))
        assert offline.status()["status"] == "READY"
        assert version(offline) == v1
        boot = burgee.Client(environment="production", trusted_keys=[server.public_key], bootstrap=lkg.read_text())
        assert boot.get_boolean_value("checkout-redesign", True, {"targetingKey": user}) is False

        server = server.restart()
        published = server.set_default("checkout-redesign", "on")
        assert wait_for(5, lambda: version(client) == published), client.status()
        assert client.get_boolean_value("checkout-redesign", False, {"targetingKey": user}) is True
        assert wait_for(2, lambda: client.status()["status"] == "READY")
        client.close()
    finally:
        server.kill()


def test_rolled_back_server_is_refused_and_newer_snapshot_kept(tmp_path):
    live, old = tmp_path / "live", tmp_path / "old"
    server = Server(live)
    server.stop()
    copy_dir(live, old)
    server = server.restart()
    try:
        server.set_default("checkout-redesign", "on")
        newest = server.set_default("guest-checkout", "off")
        with burgee.Client(**options(server)) as client:
            assert client.wait_until_ready(10_000) == "READY"
            assert version(client) == newest
            server.stop()
            import shutil
            shutil.rmtree(live)
            copy_dir(old, live)
            server = server.restart()
            assert wait_for(5, lambda: client.status()["status"] == "ERROR"), client.status()
            assert client.status()["error_code"] == "SNAPSHOT_ROLLBACK"
            assert version(client) == newest
    finally:
        server.kill()


def test_tampered_envelope_is_refused_previous_kept_with_polling_fallback(tmp_path):
    server = Server(tmp_path)
    try:
        good = server.envelope()
        env = json.loads(good)
        payload = json.loads(base64.b64decode(env["payload"]))
        payload["version"] += 100
        env["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
        body = {"bytes": good}

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path.startswith("/v1/snapshots/production"):
                    data, status = body["bytes"], 200
                else:
                    data, status = b'{"code":"NOT_FOUND","message":"no"}', 404
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        fake = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=fake.serve_forever, daemon=True).start()
        with burgee.Client(**options(server, server_url=f"http://127.0.0.1:{fake.server_address[1]}",
                                     poll_interval_ms=50)) as client:
            assert client.wait_until_ready(10_000) == "READY"
            v = version(client)
            body["bytes"] = json.dumps(env).encode()
            assert wait_for(5, lambda: client.status()["status"] == "ERROR"), client.status()
            assert client.status()["error_code"] == "SIGNATURE_INVALID"
            assert version(client) == v
        fake.shutdown()
    finally:
        server.kill()


def test_exposures_and_track_events_arrive_at_the_server(tmp_path):
    server = Server(tmp_path)
    try:
        client = burgee.Client(**options(server, flush_interval_ms=60_000))
        assert client.wait_until_ready(10_000) == "READY"
        for _ in range(2):
            for user in ("alice", "bob", "carol"):
                client.get_string_value("pricing-experiment", "control", burgee.Context(user, country="DE"))
        client.track("purchase", "alice", 59.9, {"currency": "EUR"})
        stats = client.event_stats()
        assert (stats["queued"], stats["deduplicated"]) == (4, 3)
        client.close()
        assert client.event_stats()["delivered"] == 4
        recent = server.recent_events()
        exposures = [e for e in recent if e["kind"] == "exposure"]
        assert len(exposures) == 3, recent
        digest = client.snapshot_info()["digest"]
        assert all(e["flag"] == "pricing-experiment" and e["snapshot_digest"] == digest and e["sdk"] == "burgee-python"
                   for e in exposures)
        tracks = [e for e in recent if e["kind"] == "track"]
        assert [(t["key"], t["value"], t["attributes"]) for t in tracks] == [("purchase", 59.9, {"currency": "EUR"})]
    finally:
        server.kill()


def test_a_program_that_never_closes_still_delivers_exposures_at_exit(tmp_path):
    import subprocess
    import sys

    server = Server(tmp_path)
    try:
        opts = options(server, flush_interval_ms=3_600_000)
        script = (
            "import burgee\n"
            f"c = burgee.Client(**{opts!r})\n"
            "c.wait_until_ready(10_000)\n"
            "c.get_string_value('pricing-experiment', 'control', burgee.Context('exit-user', country='DE'))\n"
        )
        subprocess.run([sys.executable, "-c", script], check=True, timeout=20)
        assert any(e["kind"] == "exposure" and e["targeting_key"] == "exit-user" for e in server.recent_events())
    finally:
        server.kill()
