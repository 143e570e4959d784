"""Fork safety: after os.fork() the child runs its own background sync (a pre-fork server
such as gunicorn), instead of silently freezing on the parent's snapshot."""

import json
import os

import burgee
from helpers import Server, wait_for


def test_forked_child_keeps_syncing_on_its_own(tmp_path):
    server = Server(tmp_path / "data")
    try:
        client = burgee.Client(environment="production", trusted_keys=[server.public_key], server_url=server.base,
                               sdk_key=server.sdk_key, backoff_base_ms=50, backoff_cap_ms=400)
        assert client.wait_until_ready(10_000) == "READY"
        v1 = client.snapshot_info()["version"]
        result = tmp_path / "child.json"
        go = tmp_path / "published"
        pid = os.fork()
        if pid == 0:  # the child: report what it sees, never return into pytest
            code = 1
            try:
                out = {"start": client.snapshot_info()["version"]}
                wait_for(10, go.exists)
                target = int(go.read_text())
                out["synced"] = wait_for(5, lambda: client.snapshot_info()["version"] == target)
                out["end"] = client.snapshot_info()["version"]
                out["status"] = client.status()["status"]
                out["value"] = client.get_boolean_value("checkout-redesign", False, {"targetingKey": "user-1"})
                result.write_text(json.dumps(out))
                code = 0
            finally:
                os._exit(code)
        # The parent publishes after the fork; the child must see it through its own threads.
        published = server.set_default("checkout-redesign", "on")
        go.write_text(str(published))
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0
        out = json.loads(result.read_text())
        assert out == {"start": v1, "synced": True, "end": published, "status": "READY", "value": True}
        # And the parent still syncs too.
        assert wait_for(5, lambda: client.snapshot_info()["version"] == published)
        client.close()
    finally:
        server.kill()
