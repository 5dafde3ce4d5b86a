"""FakeShelly: a loopback HTTP server that answers as the Shelly Gen2 RPC API documents.

`GET /rpc/Switch.GetStatus?id=0` -> {"id", "source", "output", "apower" (W),
"voltage", "current", "aenergy": {"total" (Wh), "by_minute", "minute_ts"},
"temperature"}; `GET /rpc/Sys.GetStatus` -> {..., "unixtime", "uptime"}.
With a password, every request needs HTTP digest auth, SHA-256, user
"admin" (RFC 7616), as the devices require: a 401 carries the challenge.
The test sets the readings; nothing here measures anything.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

REALM = "shellyplusplugs-fake0001"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _digest_fields(header: str) -> dict[str, str]:
    fields = {}
    for part in header.removeprefix("Digest ").split(","):
        key, _, value = part.strip().partition("=")
        fields[key] = value.strip('"')
    return fields


class FakeShelly:
    def __init__(self, password: str | None = None):
        self.password = password
        self.apower_w = 0.0
        self.total_wh = 0.0
        self.clock_offset_s = 0.0
        self.time_synced = True
        self.failing = False  # answer 500 to every request, as a device mid-reboot
        self.authorized_requests = 0
        self.nonces: set[str] = set()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet: tests read state, not logs
                pass

            def _send(self, code: int, body: dict, headers: dict | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def _authorized(self) -> bool:
                if owner.password is None:
                    return True
                header = self.headers.get("Authorization", "")
                if not header.startswith("Digest "):
                    return False
                f = _digest_fields(header)
                if f.get("username") != "admin" or f.get("nonce") not in owner.nonces or f.get("algorithm", "SHA-256") != "SHA-256":
                    return False
                ha1 = _sha256(f"admin:{REALM}:{owner.password}")
                ha2 = _sha256(f"GET:{f.get('uri')}")
                expected = _sha256(f"{ha1}:{f['nonce']}:{f.get('nc')}:{f.get('cnonce')}:{f.get('qop')}:{ha2}")
                return f.get("response") == expected

            def do_GET(self):
                if not self._authorized():
                    nonce = secrets.token_hex(8)
                    owner.nonces.add(nonce)
                    challenge = f'Digest qop="auth", realm="{REALM}", nonce="{nonce}", algorithm=SHA-256'
                    self._send(401, {"code": 401, "message": "unauthorized"}, {"WWW-Authenticate": challenge})
                    return
                if owner.password is not None:
                    owner.authorized_requests += 1
                if owner.failing:
                    self._send(500, {"code": -1, "message": "internal error"})
                    return
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                now = time.time() + owner.clock_offset_s
                if parts.path == "/rpc/Switch.GetStatus":
                    if query.get("id") != ["0"]:
                        self._send(400, {"code": -105, "message": f"Argument 'id', value {query.get('id')} not found!"})
                        return
                    self._send(200, {
                        "id": 0,
                        "source": "init",
                        "output": True,
                        "apower": owner.apower_w,
                        "voltage": 230.4,
                        "current": round(owner.apower_w / 230.4, 3),
                        "aenergy": {"total": owner.total_wh, "by_minute": [0.0, 0.0, 0.0], "minute_ts": int(now // 60 * 60)},
                        "temperature": {"tC": 38.5, "tF": 101.3},
                    })
                elif parts.path == "/rpc/Sys.GetStatus":
                    self._send(200, {
                        "mac": "A8032ABCDEF0",
                        "restart_required": False,
                        "time": time.strftime("%H:%M", time.localtime(now)),
                        "unixtime": int(now) if owner.time_synced else None,
                        "uptime": 1234,
                    })
                else:
                    self._send(404, {"code": 404, "message": f"No handler for {parts.path}"})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> FakeShelly:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
