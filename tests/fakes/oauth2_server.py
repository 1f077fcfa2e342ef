"""A fake OAuth2 token endpoint (RFC 6749 6, refresh_token grant) on a loopback port: it
issues ``access-1``, ``access-2``, … for the one refresh token it knows and records requests."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


class FakeTokenEndpoint:
    """``url`` is the token endpoint; ``requests`` the form fields of each call."""

    def __init__(self, *, refresh_token: str = "refresh-ok", client_id: str = "client-1",
                 expires_in: int = 3600) -> None:
        self.refresh_token = refresh_token
        self.client_id = client_id
        self.expires_in = expires_in
        self.requests: list[dict[str, str]] = []
        self.issued: list[str] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                endpoint.requests.append(form)
                ok = (form.get("grant_type") == "refresh_token"
                      and form.get("refresh_token") == endpoint.refresh_token
                      and form.get("client_id") == endpoint.client_id)
                if ok:
                    token = f"access-{len(endpoint.issued) + 1}"
                    endpoint.issued.append(token)
                    body = {"access_token": token, "token_type": "Bearer",
                            "expires_in": endpoint.expires_in}
                else:
                    body = {"error": "invalid_grant"}
                data = json.dumps(body).encode()
                self.send_response(200 if ok else 400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/token"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeTokenEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
