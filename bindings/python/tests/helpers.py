"""Test helpers: the repository (spec/vectors, read in place) and real `burgee serve` processes."""

from __future__ import annotations

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


class Server:
    """A running `burgee serve --demo`; kill() / stop() / start() on the same address."""

    def __init__(self, data_dir: pathlib.Path, listen: str = "127.0.0.1:0") -> None:
        self.data_dir = pathlib.Path(data_dir)
        env = {k: v for k, v in os.environ.items() if k not in ("BURGEE_LISTEN", "BURGEE_DATA_DIR", "BURGEE_DATABASE_URL")}
        env["RUST_LOG"] = "warn"
        self.proc = subprocess.Popen(
            [burgee_bin(), "serve", "--demo", "--listen", listen, "--data-dir", str(self.data_dir)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode().strip()
        assert line.startswith("listening on "), line
        self.base = line[len("listening on "):]
        self.addr = self.base[len("http://"):]
        creds = dict(
            l[len("export "):].split("=", 1)
            for l in (self.data_dir / "credentials.env").read_text().splitlines()
            if l.startswith("export ")
        )
        self.sdk_key = creds["BURGEE_SDK_KEY_PRODUCTION"]
        self.client_key = creds["BURGEE_CLIENT_KEY_PRODUCTION"]
        self.admin = creds["BURGEE_ADMIN_TOKEN"]
        self.public_key = (self.data_dir / "keys" / "production.pub").read_text().strip()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait()

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
