"""Test helpers: the repository (spec/vectors, read in place) and real `burgee serve` processes."""

from __future__ import annotations

import atexit
import json
import os
import pathlib
import shutil
import signal
import subprocess
import time
import urllib.request
from typing import Any, Callable, Dict, List

#: The repository root: $BURGEE_REPO (tests copied next to an installed wheel), else ../../..
REPO = pathlib.Path(os.environ.get("BURGEE_REPO") or pathlib.Path(__file__).resolve().parents[3])
VECTORS = REPO / "spec" / "vectors"


def burgee_bin() -> str:
    b = os.environ.get("BURGEE_BIN")
    if not b or not os.path.exists(b):
        raise RuntimeError(f"BURGEE_BIN must name the burgee binary (cargo build -p burgee-server --bin burgee), got {b!r}")
    return b


def request(method: str, url: str, token: str, body: Any = None, headers: Dict[str, str] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    with urllib.request.urlopen(req, timeout=10) as r:
        text = r.read()
        return json.loads(text) if text and r.headers.get("Content-Type", "").startswith("application/json") else text


#: How long Server() waits for the ready file.
START_TIMEOUT_S = 60.0
#: Servers still running: killed when the test process exits, whatever a test left behind.
_running: "set[subprocess.Popen[bytes]]" = set()
atexit.register(lambda: [p.kill() for p in list(_running)])


class Server:
    """A running `burgee serve --demo`, started with `--ready-file` and known by that JSON file;
    kill() / stop(), and restart() on the same address and data directory."""

    def __init__(self, data_dir: pathlib.Path, listen: str = "127.0.0.1:0", first: Dict[str, Any] | None = None) -> None:
        self.data_dir = pathlib.Path(data_dir)
        ready_path = self.data_dir / "ready.json"
        ready_path.unlink(missing_ok=True)
        drop = ("BURGEE_LISTEN", "BURGEE_DATA_DIR", "BURGEE_DATABASE_URL", "BURGEE_NATS_URL", "BURGEE_READY_FILE")
        env = {k: v for k, v in os.environ.items() if k not in drop}
        self.proc = subprocess.Popen(
            [burgee_bin(), "serve", "--demo", "--listen", listen, "--data-dir", str(self.data_dir),
             "--ready-file", str(ready_path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env,
        )
        _running.add(self.proc)
        deadline = time.monotonic() + START_TIMEOUT_S
        # Written atomically (renamed into place): present means complete.
        while not ready_path.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"burgee serve exited before it was ready: {self.proc.returncode}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"burgee serve wrote no ready file within {START_TIMEOUT_S} s")
            time.sleep(0.02)
        self.ready: Dict[str, Any] = json.loads(ready_path.read_text())
        # Credentials are in the ready file of the data directory's first start only.
        self.first = first or self.ready
        self.base: str = self.ready["url"]
        self.addr = self.base[len("http://"):]
        self.sdk_key: str = self.first["sdk_keys"]["production"]
        self.client_key: str = self.first["client_keys"]["production"]
        self.admin: str = self.first["admin_token"]
        self.public_key: str = self.ready["public_keys"]["production"]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        _running.discard(self.proc)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait()
        _running.discard(self.proc)

    def restart(self) -> "Server":
        """Kills it if it still runs and starts it again on the same address and data directory,
        keeping the first start's credentials."""
        self.kill()
        return Server(self.data_dir, self.addr, self.first)

    def set_default(self, flag: str, variant: str) -> int:
        url = f"{self.base}/v1/projects/webshop/environments/production/flags/{flag}"
        t = request("GET", url, self.admin)
        t["default"] = {"variant": variant}
        t.pop("revision", None)
        t.pop("updated_at", None)
        out = request("PUT", url, self.admin, t, {"If-Match": "*"})
        return int(out["published"][0]["version"])

    def recent_events(self) -> List[Dict[str, Any]]:
        return request("GET", f"{self.base}/v1/projects/webshop/environments/production/events/recent?limit=1000", self.admin)

    def envelope(self) -> bytes:
        req = urllib.request.Request(f"{self.base}/v1/snapshots/production")
        req.add_header("Authorization", f"Bearer {self.sdk_key}")
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read()

    def client_envelope(self) -> bytes:
        """The production client snapshot (audience client), read with the client-side key."""
        req = urllib.request.Request(f"{self.base}/v1/client/snapshots/production")
        req.add_header("Authorization", f"Bearer {self.client_key}")
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read()


def wait_for(timeout_s: float, f: Callable[[], Any]) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if f():
            return True
        time.sleep(0.005)
    return False


def copy_dir(src: pathlib.Path, dst: pathlib.Path) -> None:
    shutil.copytree(src, dst)
