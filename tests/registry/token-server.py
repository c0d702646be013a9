#!/usr/bin/python3
"""Bearer-token issuer for docker-registry's `auth: token` (tests only).

usage: token-server.py ADDR PORT CERT KEY HTPASSWD ISSUER

GET /token?service=S&scope=repository:NAME:ACTIONS (repeatable), HTTP Basic credentials
checked against HTPASSWD with `htpasswd -vb`. Valid credentials get every scope they ask
for; no credentials get a token without access (the registry then answers 401); wrong
credentials get 401. Tokens are RS256 JWTs carrying the certificate in x5c, which the
registry trusts through its rootcertbundle. Needs python3-jwt and python3-cryptography.
"""
import base64
import http.server
import json
import ssl
import subprocess
import sys
import time
import urllib.parse
import uuid

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

ADDR, PORT, CERT, KEY, HTPASSWD, ISSUER = sys.argv[1:7]
with open(CERT, "rb") as f:
    CHAIN = [base64.b64encode(x509.load_pem_x509_certificate(f.read()).public_bytes(Encoding.DER)).decode()]
with open(KEY, "rb") as f:
    SIGNING_KEY = f.read()


def password_ok(user, password):
    r = subprocess.run(["htpasswd", "-vb", HTPASSWD, user, password],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return r.returncode == 0


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path != "/token":
            self.send_error(404)
            return
        query = urllib.parse.parse_qs(url.query)
        user = None
        header = self.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                user, password = base64.b64decode(header[6:]).decode().split(":", 1)
            except ValueError:
                user, password = "", ""
            if not user or not password_ok(user, password):
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        access = []
        for scope in query.get("scope", []) if user else []:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": user or "", "aud": query.get("service", [""])[0],
                  "iat": now, "nbf": now - 5, "exp": now + 300, "jti": uuid.uuid4().hex, "access": access}
        token = jwt.encode(claims, SIGNING_KEY, algorithm="RS256", headers={"x5c": CHAIN})
        body = json.dumps({"token": token, "expires_in": 300}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


server = http.server.ThreadingHTTPServer((ADDR, int(PORT)), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(CERT, KEY)
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
