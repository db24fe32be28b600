"""Bad input: a corpus of malformed `Authorization` headers, bodies and paths sent as raw
bytes, and schemathesis driving the OpenAPI description. No 5xx, no crash, no hang; every 4xx
carries a Taler error body."""

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys

from firelib import (
    cleanup,
    ROOT,
    Failed,
    Server,
    bearer,
    check,
    new_password,
    taler_error,
    verify,
    admin_password,
    fault_paths,
)
from lifecycle import mint_parent, no_secrets


def raw_exchange(port, data, half_close=False, timeout=10, source=None):
    """Sends `data` on a fresh connection and reads until the server closes it.
    (status or None, body bytes, seconds it took); raises TimeoutError when the server
    neither answers nor closes within `timeout` (a hang)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=source) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server refused the rest: read what it said
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            except socket.timeout:
                raise TimeoutError("no answer and no close")
            if not chunk:
                break
            received += chunk
            if _complete(received):
                break
    if not received:
        return None, b""
    head, _, body = received.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head.lower():
        body = _dechunk(body)
    return status, body


def _complete(received):
    head, separator, body = received.partition(b"\r\n\r\n")
    if not separator:
        return False
    lower = head.lower()
    for line in lower.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    if b"transfer-encoding: chunked" in lower:
        return body.endswith(b"0\r\n\r\n")
    return False


def _dechunk(body):
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return out


def request(method, path, headers=(), body=None, content_length=None):
    """A raw HTTP/1.1 request with `Connection: close`; `headers` as (bytes, bytes) pairs."""
    lines = [method + b" " + path + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    lines += [name + b": " + value for name, value in headers]
    if body is not None:
        lines.append(b"Content-Type: application/json")
        lines.append(b"Content-Length: " + str(content_length if content_length is not None else len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")


def b64(raw):
    return base64.b64encode(raw)


def corpus(token, victim_token):
    """(name, raw request, half close) triples. `token` is an all:refreshable token of admin,
    `victim_token` one of the instance `victim` (whose password the corpus may change)."""
    cases = []
    auth_cases = []
    good = b"Bearer " + token.encode()
    authorizations = {
        "empty": b"",
        "scheme only": b"Bearer",
        "scheme and space": b"Bearer ",
        "prefix only": b"Bearer secret-token:",
        "52 A": b"Bearer secret-token:" + b"A" * 52,
        "52 lower-case": b"Bearer secret-token:" + b"a" * 52,
        "51 chars": b"Bearer secret-token:" + token.encode()[13:-1],
        "53 chars": b"Bearer secret-token:" + token.encode()[13:] + b"0",
        "token, 8 KiB": b"Bearer secret-token:" + b"Z" * 8192,
        "non-UTF-8 token": b"Bearer secret-token:\xff\xfe\xfd" + b"0" * 49,
        "UTF-8 token": "Bearer secret-token:ÄÖÜ".encode(),
        "control bytes": b"Bearer \x01\x02\x7f",
        "tabs": b"Bearer\tsecret-token:x",
        "many spaces": b"Bearer" + b" " * 4000 + token.encode(),
        "lower-case scheme": b"bearer " + token.encode(),
        "no scheme": token.encode(),
        "no scheme, garbage": b"secret-token:",
        "Digest": b"Digest username=admin",
        "Basic only": b"Basic",
        "Basic not base64": b"Basic !!!***",
        "Basic no colon": b"Basic " + b64(b"admin"),
        "Basic empty password": b"Basic " + b64(b"admin:"),
        "Basic empty user": b"Basic " + b64(b":pw"),
        "Basic non-UTF-8": b"Basic " + b64(b"\xff\xfe:\xfd"),
        "Basic other instance": b"Basic " + b64(b"victim:nope"),
        "Basic 6 KiB": b"Basic " + b64(b"admin:" + b"p" * 4500),
        "Basic padding only": b"Basic ====",
        "Bearer with Basic payload": b"Bearer " + b64(b"admin:x"),
    }
    for name, value in authorizations.items():
        headers = [(b"Authorization", value)] if value or name != "empty" else [(b"Authorization", b"")]
        auth_cases.append((f"auth {name}: GET tokens", request(b"GET", b"/private/tokens", headers), False))
        auth_cases.append(
            (f"auth {name}: POST token", request(b"POST", b"/private/token", headers, b'{"scope":"readonly"}'), False)
        )
        auth_cases.append((f"auth {name}: DELETE token", request(b"DELETE", b"/private/token", headers), False))
    cases.append(
        ("two Authorization headers", request(b"GET", b"/private/tokens", [(b"Authorization", good), (b"Authorization", b"Bearer x")]), False)
    )
    bodies = {
        "empty": b"",
        "truncated object": b'{"scope":"read',
        "open brace": b"{",
        "open bracket": b"[",
        "null": b"null",
        "string": b'"readonly"',
        "number": b"123",
        "array": b'["readonly"]',
        "nested arrays 10000": b"[" * 10000 + b"]" * 10000,
        "nested objects 5000": b'{"a":' * 5000 + b"1" + b"}" * 5000,
        "nested, unclosed 100000": b"[" * 100000,
        "huge 1 MiB": b'{"scope":"readonly","description":"' + b"x" * (1 << 20) + b'"}',
        "huge 16 KiB description": b'{"scope":"readonly","description":"' + b"x" * 16000 + b'"}',
        "scope number": b'{"scope":1}',
        "scope null": b'{"scope":null}',
        "scope object": b'{"scope":{"a":1}}',
        "scope unknown": b'{"scope":"root"}',
        "scope empty": b'{"scope":""}',
        "scope suffix only": b'{"scope":":refreshable"}',
        "scope double suffix": b'{"scope":"readonly:refreshable:refreshable"}',
        "duration string": b'{"scope":"readonly","duration":"x"}',
        "duration negative": b'{"scope":"readonly","duration":{"d_us":-1}}',
        "duration float": b'{"scope":"readonly","duration":{"d_us":1.5}}',
        "duration 2^53": b'{"scope":"readonly","duration":{"d_us":9007199254740992}}',
        "duration 2^64": b'{"scope":"readonly","duration":{"d_us":18446744073709551616}}',
        "duration 1000 digits": b'{"scope":"readonly","duration":{"d_us":' + b"9" * 1000 + b"}}",
        "duration 1e999": b'{"scope":"readonly","duration":{"d_us":1e999}}',
        "duration -0": b'{"scope":"readonly","duration":{"d_us":-0}}',
        "duration NaN": b'{"scope":"readonly","duration":{"d_us":NaN}}',
        "duration Infinity": b'{"scope":"readonly","duration":{"d_us":Infinity}}',
        "duration FOREVER": b'{"scope":"readonly","duration":{"d_us":"FOREVER"}}',
        "duration forever+space": b'{"scope":"readonly","duration":{"d_us":"forever "}}',
        "duration array": b'{"scope":"readonly","duration":[1]}',
        "duration missing d_us": b'{"scope":"readonly","duration":{}}',
        "description number": b'{"scope":"readonly","description":123}',
        "description object": b'{"scope":"readonly","description":{}}',
        "refreshable string": b'{"scope":"readonly","refreshable":"yes"}',
        "refreshable number": b'{"scope":"readonly","refreshable":1}',
        "duplicate keys": b'{"scope":"readonly","scope":"all"}',
        "trailing garbage": b'{"scope":"readonly"} x',
        "trailing comma": b'{"scope":"readonly",}',
        "single quotes": b"{'scope':'readonly'}",
        "non-UTF-8 in string": b'{"scope":"\xff\xfe"}',
        "non-UTF-8 bytes": b"\xff\xfe\xfd\xfc",
        "UTF-16 with BOM": '{"scope":"readonly"}'.encode("utf-16"),
        "UTF-8 BOM": b'\xef\xbb\xbf{"scope":"readonly"}',
        "lone surrogate escape": b'{"scope":"readonly","description":"\\ud800"}',
        "NUL escape": b'{"scope":"readonly","description":"\\u0000"}',
        "raw NUL": b'{"scope":"readonly\x00"}',
        "bad escape": b'{"scope":"readonly","description":"\\x41"}',
        "many keys": b"{" + b",".join(b'"k%d":1' % i for i in range(5000)) + b"}",
    }
    for name, body in bodies.items():
        cases.append((f"body {name}: POST token", request(b"POST", b"/private/token", [(b"Authorization", good)], body), False))
        cases.append(
            (f"body {name}: POST instances", request(b"POST", b"/management/instances", [(b"Authorization", good)], body), False)
        )
        cases.append((f"body {name}: PATCH private", request(b"PATCH", b"/private", [(b"Authorization", good)], body), False))
        cases.append(
            (
                f"body {name}: POST victim auth",
                request(b"POST", b"/instances/victim/private/auth", [(b"Authorization", b"Bearer " + victim_token.encode())], body),
                False,
            )
        )
    # Two-factor authentication: every body above against the confirm endpoint (no auth), and
    # malformed challenge ids in the path and in Taler-Challenge-Ids.
    for name, body in bodies.items():
        cases.append(
            (f"body {name}: POST challenge confirm", request(b"POST", b"/challenge/NOSUCH/confirm", [], body), False)
        )
    challenge_paths = [
        b"/challenge/" + b"A" * 65,
        b"/challenge/%00",
        b"/challenge/%ff%fe/confirm",
        b"/challenge/..%2f..%2fprivate",
        b"/instances/victim/challenge/x/confirm",
        b"/instances/unknown/challenge/x",
        b"/challenge/",
        b"/challenge//confirm",
    ]
    for path in challenge_paths:
        cases.append((f"challenge path {path[:60]!r}", request(b"POST", path, [], b'{"tan":"12345678"}'), False))
    tan_bodies = {
        "tan number": b'{"tan":12345678}',
        "tan null": b'{"tan":null}',
        "tan array": b'{"tan":["1"]}',
        "tan 1 MiB": b'{"tan":"' + b"1" * (1 << 20) + b'"}',
        "tan non-UTF-8": b'{"tan":"\xff\xfe"}',
        "tan missing": b"{}",
        "challenge request not an object": b"[]",
    }
    for name, body in tan_bodies.items():
        cases.append((f"{name}: POST confirm", request(b"POST", b"/challenge/NOSUCH/confirm", [], body), False))
    for name, value in {
        "ids empty": b"",
        "ids commas": b",,,",
        "ids too long": b"A" * 65,
        "ids bad characters": b"a b!,c",
        "ids non-UTF-8": b"\xff\xfe",
        "ids 1000": b",".join(b"ID%d" % i for i in range(1000)),
    }.items():
        headers = [(b"Authorization", good), (b"Taler-Challenge-Ids", value)]
        cases.append((f"challenge {name}: POST token", request(b"POST", b"/private/token", headers, b'{"scope":"readonly"}'), False))
        cases.append((f"challenge {name}: DELETE victim", request(b"DELETE", b"/management/instances/victim", headers), False))
    instance_bodies = {
        "id with slash": b'{"id":"a/b","name":"x","auth":{"method":"external"}}',
        "id too short": b'{"id":"a","name":"x","auth":{"method":"external"}}',
        "id non-ASCII": '{"id":"\u00e9t\u00e9","name":"x","auth":{"method":"external"}}'.encode(),
        "id 10 KiB": b'{"id":"' + b"a" * 10000 + b'","name":"x","auth":{"method":"external"}}',
        "auth unknown method": b'{"id":"fuzz1","name":"x","auth":{"method":"magic"}}',
        "auth token without password": b'{"id":"fuzz2","name":"x","auth":{"method":"token"}}',
        "auth password number": b'{"id":"fuzz3","name":"x","auth":{"method":"token","password":5}}',
        "auth token not secret-token": b'{"id":"fuzz4","name":"x","auth":{"method":"token","token":"abc"}}',
        "name missing": b'{"id":"fuzz5","auth":{"method":"external"}}',
        "email number": b'{"id":"fuzz6","name":"x","auth":{"method":"external"},"email":5}',
    }
    # Instance ids at and past the documented maximum length (spec §10.9), in a creation
    # body and in the path: 400 or 404, never a 5xx.
    for length in (63, 64, 65, 128, 200, 255, 256, 511, 1000):
        long_id = b"i" * length
        instance_bodies[f"id {length} bytes"] = (
            b'{"id":"' + long_id + b'","name":"x","auth":{"method":"token","password":"p w"}}'
        )
        for path in (b"/instances/" + long_id + b"/private", b"/instances/" + long_id + b"/private/token",
                     b"/management/instances/" + long_id):
            cases.append((f"long id {length}: GET {path[:40]!r}", request(b"GET", path, [(b"Authorization", good)]), False))
    # Addresses a helper program would get as its first argument (spec §10.3): option-like,
    # control and format characters, overlong, internationalised. Refused with 400 (2132)
    # or stored; never a 5xx.
    addresses = {
        "option-like": "--exec=/bin/sh",
        "leading dash": "-oProxyCommand=x@example.com",
        "newline": "a@example.com\nBcc: x@example.net",
        "CR LF": "a@example.com\r\nX-Injected: 1",
        "NUL": "a@exa\u0000mple.com",
        "tab": "a\t@example.com",
        "space": "a b@example.com",
        "bidi override": "a\u202e@example.com",
        "zero width": "a\u200b@example.com",
        "overlong": "a" * 250 + "@example.com",
        "local part 65": "a" * 65 + "@example.com",
        "IDN": "kundin@b\u00e4ckerei.de",
        "IDN punycode": "kundin@xn--bckerei-5wa.de",
        "IDN local part": "\u7528\u6237@\u4f8b\u5b50.\u5e7f\u544a",
        "only at": "@",
        "quoted": '"a b"@example.com',
        "literal": "a@[127.0.0.1]",
    }
    phones = {
        "option-like": "--exec=/bin/sh",
        "leading dash": "-41790000000",
        "newline": "+41 79\n000 00 00",
        "shell": "+41790000000; rm -rf /",
        "overlong": "+" + "9" * 40,
        "fullwidth digits": "\uff0b\uff14\uff11\uff17\uff19\uff10\uff10\uff10\uff10\uff10\uff10\uff10",
        "letters": "+41 79 CALL NOW",
        "E.164 with spaces": "+41 79 000 00 00",
    }
    for number, (name, value) in enumerate(addresses.items()):
        body = json.dumps({"email": value}).encode()
        cases.append((f"email {name}: PATCH private", request(b"PATCH", b"/private", [(b"Authorization", good)], body), False))
        create = json.dumps({"id": f"mail{number}", "name": "x", "auth": {"method": "token", "password": "p w"}, "email": value})
        instance_bodies[f"email {name}"] = create.encode()
    for number, (name, value) in enumerate(phones.items()):
        body = json.dumps({"phone_number": value}).encode()
        cases.append((f"phone {name}: PATCH private", request(b"PATCH", b"/private", [(b"Authorization", good)], body), False))
        create = json.dumps({"id": f"phone{number}", "name": "x", "auth": {"method": "token", "password": "p w"}, "phone_number": value})
        instance_bodies[f"phone {name}"] = create.encode()
    for name, body in instance_bodies.items():
        cases.append(
            (f"instance {name}", request(b"POST", b"/management/instances", [(b"Authorization", good)], body), False)
        )
    cases.append(
        (
            "body shorter than Content-Length",
            request(b"POST", b"/private/token", [(b"Authorization", good)], b'{"scope":"re', content_length=100),
            True,
        )
    )
    cases.append(
        (
            "body longer than Content-Length",
            request(b"POST", b"/private/token", [(b"Authorization", good)], b'{"scope":"readonly"}xxxx', content_length=20),
            False,
        )
    )
    cases.append(
        (
            "bad chunked body",
            b"POST /private/token HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: "
            + good
            + b"\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
            True,
        )
    )
    cases.append(
        (
            "chunked 2 MiB",
            b"POST /private/token HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: "
            + good
            + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
            + (b"10000\r\n" + b"x" * 0x10000 + b"\r\n") * 32
            + b"0\r\n\r\n",
            False,
        )
    )
    auth = [(b"Authorization", good)]
    paths = [
        b"/private/tokens/abc",
        b"/private/tokens/-1",
        b"/private/tokens/0",
        b"/private/tokens/1.5",
        b"/private/tokens/99999999999999999999999999",
        b"/private/tokens/%00",
        b"/private/tokens?limit=abc",
        b"/private/tokens?limit=0",
        b"/private/tokens?limit=-99999999999999999999999",
        b"/private/tokens?limit=1e3",
        b"/private/tokens?offset=-1",
        b"/private/tokens?offset=abc&limit=5",
        b"/private/tokens?limit=1&limit=2",
        b"/private/tokens?limit=%ff",
        b"/private/tokens?limit",
        b"/private/tokens?&&&=&",
        b"/instances/a/private",
        b"/instances/%00/private",
        b"/instances/%ff%fe/private/token",
        b"/instances/../private",
        b"/instances/admin/../../private",
        b"/instances//private",
        b"/instances/" + b"x" * 300 + b"/private",
        b"/instances/unknown/private/tokens",
        b"/instances/victim/private/tokens",
        b"/instances/admin/private/tokens",
        b"//private//tokens",
        b"/private/tokens/",
        b"/private/token/",
        b"/%2e%2e/%2e%2e/etc/passwd",
        b"/private/\xff\xfe",
        b"/" + b"a/" * 4000,
        b"/management/instances/%ff",
        b"/management/instances/victim/auth/extra",
        b"/config?x=" + b"y" * 6000,
        b"*",
        b"private/tokens",
        b"http://127.0.0.1/private/tokens",
    ]
    for path in paths:
        for method in (b"GET", b"DELETE"):
            cases.append((f"path {method.decode()} {path[:60]!r}", request(method, path, auth), False))
    methods = [b"FOO", b"PROPFIND", b"TRACE", b"CONNECT", b"OPTIONS", b"HEAD", b"PUT", b"get"]
    for method in methods:
        cases.append((f"method {method.decode()}", request(method, b"/private/token", auth), False))
    cases += [
        ("request line garbage", b"\x00\x01\x02\x03\r\n\r\n", False),
        ("HTTP/0.9", b"GET /config\r\n\r\n", True),
        ("HTTP/9.9", b"GET /config HTTP/9.9\r\nHost: x\r\nConnection: close\r\n\r\n", False),
        ("header without colon", b"GET /config HTTP/1.1\r\nHost: x\r\nConnection: close\r\nBroken\r\n\r\n", False),
        ("header name with space", b"GET /config HTTP/1.1\r\nHost: x\r\nConnection: close\r\nBad Name: 1\r\n\r\n", False),
        ("header 64 KiB", b"GET /config HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n", False),
        ("bare LF", b"GET /config HTTP/1.1\nHost: x\nConnection: close\n\n", False),
        ("half a request line", b"GET /conf", True),
        ("nothing", b"", True),
    ]
    return cases + auth_cases


# Requests the HTTP/1.1 parser itself rejects (swift-nio's llhttp-based decoder) never reach
# a route: the server's ParserErrorHandler answers them with 400 and a Taler body (code 23)
# and closes. HTTP/0.9 gets no answer (no status line is possible). CONNECT is the one 4xx
# without a body: the route answers 405 with code 20 (in the server's log), but swift-nio's
# encoder frames every response to CONNECT as a tunnel and sends no body.
NOT_HTTP = {
    "request line garbage", "header without colon", "header name with space", "bare LF",
    "HTTP/0.9", "HTTP/9.9", "half a request line", "method FOO", "method get", "method CONNECT",
    "auth control bytes: GET tokens", "auth control bytes: POST token",
    "auth control bytes: DELETE token", "path GET b'/private/\\xff\\xfe'",
    "path DELETE b'/private/\\xff\\xfe'", "path GET b'private/tokens'",
    "path DELETE b'private/tokens'",
}


def authz_corpus(token, victim_token):
    """Forward-auth requests a confused or hostile proxy could send to the internal
    listener (spec §9): each must get 200, 400, 401 or 403 (nginx turns anything else into
    its own 500), every 4xx with a Taler body."""
    def ask(method_header, uri_header, auth=None, path=b"/authz/auth-request", method=b"GET", extra=()):
        headers = []
        if method_header is not None:
            headers.append((b"X-Original-Method", method_header))
        if uri_header is not None:
            headers.append((b"X-Original-URI", uri_header))
        if auth is not None:
            headers.append((b"Authorization", auth))
        return request(method, path, headers + list(extra))

    good = b"Bearer " + token.encode()
    victim = b"Bearer " + victim_token.encode()
    cases = [
        ("authz no headers", ask(None, None)),
        ("authz no method", ask(None, b"/private/orders", good)),
        ("authz no uri", ask(b"GET", None, good)),
        ("authz empty uri", ask(b"GET", b"", good)),
        ("authz empty method", ask(b"", b"/private/orders", good)),
        ("authz method junk", ask(b"G\x01T", b"/private/orders", good)),
        ("authz method 1 KiB", ask(b"A" * 1024, b"/private/orders", good)),
        ("authz two uris", ask(b"GET", b"/private/orders", good, extra=[(b"X-Original-URI", b"/private/products")])),
        ("authz two methods", ask(b"GET", b"/private/orders", good, extra=[(b"X-Original-Method", b"POST")])),
        ("authz dot dot", ask(b"GET", b"/instances/victim/../private/orders", victim)),
        ("authz encoded dot dot", ask(b"GET", b"/instances/victim/%2e%2E/private/orders", victim)),
        ("authz encoded slash", ask(b"GET", b"/instances/victim%2Fprivate/orders", victim)),
        ("authz encoded NUL", ask(b"GET", b"/private/orders%00", good)),
        ("authz double slash", ask(b"GET", b"//private/orders", good)),
        ("authz trailing slash", ask(b"GET", b"/private/orders/", good)),
        ("authz absolute uri", ask(b"GET", b"http://127.0.0.1/private/orders", good)),
        ("authz star", ask(b"GET", b"*", good)),
        ("authz 10 KiB uri", ask(b"GET", b"/private/" + b"a" * 10240, good)),
        ("authz non-UTF-8 uri", ask(b"GET", b"/private/\xff\xfe", good)),
        ("authz bad instance", ask(b"GET", b"/instances/%40x/private/orders", good)),
        ("authz long instance", ask(b"GET", b"/instances/" + b"i" * 300 + b"/private/orders", good)),
        ("authz unknown instance", ask(b"GET", b"/instances/nobody/private/orders", good)),
        ("authz other instance's token", ask(b"GET", b"/instances/victim/private/orders", good)),
        ("authz no backend credential", ask(b"GET", b"/instances/victim/private/orders", victim)),
        ("authz garbage auth", ask(b"GET", b"/instances/victim/private/orders", b"Garbage !!")),
        ("authz public", ask(b"GET", b"/orders/o1", b"Garbage !!")),
        ("authz unknown private path", ask(b"GET", b"/private/no-such-thing", good)),
        ("authz forward-auth no headers", request(b"GET", b"/authz/forward-auth", [(b"Authorization", good)])),
        ("authz ext-authz dot dot", request(b"GET", b"/authz/ext-authz/instances/victim/../private", [(b"Authorization", victim)])),
        ("authz ext-authz empty", request(b"POST", b"/authz/ext-authz/", [(b"Authorization", victim)])),
        ("authz ext-authz query", request(b"DELETE", b"/authz/ext-authz/instances/victim/private/orders/o1?x=%00", [(b"Authorization", victim)])),
    ]
    return [(name, raw, False) for name, raw in cases]


def run_corpus(short):
    base, data_dir, output = fault_paths("badinput")
    password, secrets = admin_password()
    server = Server(data_dir, password, output, log_level="trace", extra=["--internal-listen", "127.0.0.1:0"]).start()
    token = mint_parent(server, secrets, password)
    victim_password = new_password()
    secrets.password("victim", victim_password)
    client = server.client()
    body = json.dumps({"id": "victim", "name": "v", "auth": {"method": "token", "password": victim_password}})
    status, _ = client.request(
        "POST", "/management/instances", {"Authorization": bearer(token), "Content-Type": "application/json"}, body.encode()
    )
    check(status == 204, f"creating the victim instance: {status}")
    status, answer = client.mint("Basic " + b64(f"victim:{victim_password}".encode()).decode(), "all:refreshable", "victim", prefix="/instances/victim")
    check(status == 200, f"victim token: {status}")
    victim_token = json.loads(answer)["access_token"]
    secrets.token(victim_token)
    cases = corpus(token, victim_token)
    statuses = {}
    problems = []
    for number, (name, raw, half_close) in enumerate(cases):
        # A loopback address per case: failed logins of one case must not throttle the next.
        source = (f"127.2.{number // 250}.{number % 250 + 1}", 0)
        try:
            status, body = raw_exchange(server.port, raw, half_close, source=source)
        except TimeoutError:
            problems.append(f"{name}: hang (no answer, no close in 10 s)")
            continue
        except OSError as error:
            problems.append(f"{name}: {error}")
            continue
        statuses[status] = statuses.get(status, 0) + 1
        if status is None:
            if not half_close and name not in NOT_HTTP:
                problems.append(f"{name}: closed without an answer")
        elif status >= 500:
            problems.append(f"{name}: {status} {body[:160]!r}")
        elif raw.split(b" ", 1)[0] == b"HEAD":
            if body:  # spec §10.10: a HEAD answer has no body, whatever its status
                problems.append(f"{name}: {status} with a body: {body[:60]!r}")
        elif 400 <= status < 500:
            why = taler_error(status, body)
            if why and not (name == "method CONNECT" and status == 405):
                problems.append(f"{name}: {why}: {body[:120]!r}")
        if not server.alive():
            problems.append(f"{name}: the server died")
            break
    internal = internal_port(output)
    for number, (name, raw, half_close) in enumerate(authz_corpus(token, victim_token)):
        try:
            status, body = raw_exchange(internal, raw, half_close, source=(f"127.5.0.{number + 1}", 0))
        except (TimeoutError, OSError) as error:
            problems.append(f"{name}: {error}")
            continue
        statuses[status] = statuses.get(status, 0) + 1
        cases.append((name, raw, half_close))
        if status not in (200, 400, 401, 403):
            problems.append(f"{name}: {status} (a proxy shows anything but 2xx, 401, 403 as its 500)")
        elif status != 200:
            why = taler_error(status, body)
            if why:
                problems.append(f"{name}: {why}: {body[:120]!r}")
    check(server.alive(), "the server died")
    check(server.client().request("GET", "/config")[0] == 200, "GET /config failed after the corpus")
    check(not problems, f"{len(problems)} problem(s): " + "; ".join(problems[:30]))
    check(server.stop() == 0, "SIGTERM exit status")
    verify(data_dir)
    no_secrets(secrets, [data_dir, output])
    cleanup(base)
    summary = ", ".join(f"{k or 'closed'}: {v}" for k, v in sorted(statuses.items(), key=lambda kv: kv[0] or 0))
    return (f"{len(cases)} malformed requests ({summary}), forward-auth ones on the internal listener; no 5xx, "
            f"hang or crash; every 4xx (but CONNECT's 405) with a Taler error body, HEAD's without a body; "
            f"forward-auth answers only 200, 400, 401, 403")


def internal_port(output):
    """The internal listener's port from the server's `internal listener on` line."""
    with open(output, "rb") as f:
        match = re.search(rb"internal listener on http://127\.0\.0\.1:(\d+)", f.read())
    check(match, "the server printed no internal listener line")
    return int(match.group(1))


# The run authenticates with the admin password as a legacy Bearer (`secret-token:<password>`),
# which no token revocation can end (schemathesis happily deletes serial 1). Two operations
# would still end it: deleting the admin instance and changing its password; after them every
# request would get 401 and then 429 from the login throttle, untested. They stay in the
# description (so schemathesis does not probe them as unsupported methods) but are not run;
# the bad-input corpus and the Swift tests cover them.
SELF_DESTRUCTIVE = ["DELETE /private", "POST /private/auth"]


def schemathesis(short):
    """schemathesis (from the fire venv) against a running server with the admin password as
    Bearer; checks: no 5xx, and status codes, content types and bodies as the description says.
    Check failures fail the fault; errors inside schemathesis itself are reported only."""
    import xml.etree.ElementTree as ElementTree

    st = os.path.join(ROOT, ".venv", "bin", "schemathesis")
    if not os.access(st, os.X_OK):
        raise Failed("schemathesis is missing: tools/fire/run installs it into .venv")
    base, data_dir, output = fault_paths("schemathesis")
    spec = os.path.join(ROOT, "openapi", "merchant-auth-api.yaml")
    password, secrets = admin_password()
    server = Server(data_dir, password, output, log_level="debug").start()
    token = mint_parent(server, secrets, password)
    examples = "5" if short else "100"
    command = [
        st, "run", spec,
        "--url", f"http://127.0.0.1:{server.port}",
        "--header", f"Authorization: Bearer secret-token:{password}",
        "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        "--max-examples", examples, "--seed", "7", "--workers", "1", "--no-color",
        "--request-timeout", "10", "--output-sanitize", "true",
        "--generation-database", "none", "--generation-with-security-parameters", "false",
        "--report", "junit,har", "--report-dir", base + "/report",
    ]
    for name in SELF_DESTRUCTIVE:
        command += ["--exclude-name", name]
    result = subprocess.run(command, capture_output=True, timeout=1200, cwd=base)
    text = result.stdout.decode(errors="replace")
    with open(os.path.join(ROOT, ".build", "fire-schemathesis.txt"), "w") as f:
        f.write(text + result.stderr.decode(errors="replace"))
    check(server.alive(), "the server died under schemathesis")
    check(server.stop() == 0, "SIGTERM exit status")
    reports = [n for n in os.listdir(base + "/report") if n.endswith(".xml")]
    check(reports, f"schemathesis wrote no report (exit {result.returncode}), see .build/fire-schemathesis.txt")
    suite = ElementTree.parse(os.path.join(base, "report", reports[0])).getroot()
    failures, errors = int(suite.get("failures")), int(suite.get("errors"))
    operations = int(suite.get("tests"))
    # A description schemathesis could not load yields a report of no operations: that is a
    # failure, not a pass with nothing tried.
    check(operations > 0, f"schemathesis ran no operation (exit {result.returncode}): the description did not load? see .build/fire-schemathesis.txt")
    cases = next((line.strip() for line in text.splitlines() if " generated, " in line), "")
    check(failures == 0, f"{failures} operation(s) failed a check: see .build/fire-schemathesis.txt ({cases})")
    # Tokens the fuzzer minted (from the HAR of every exchange) join the secrets searched for.
    for name in os.listdir(base + "/report"):
        if name.endswith(".har"):
            with open(os.path.join(base, "report", name), "rb") as f:
                for found in re.findall(rb"secret-token:([0-9A-Z]{52})", f.read()):
                    secrets.tokens.add(found)
    verify(data_dir)
    no_secrets(secrets, [data_dir, output])
    cleanup(base)
    return (
        f"schemathesis {examples} examples per operation on {operations} operations: {cases}, "
        f"no check failed; {errors} error(s) inside schemathesis itself (see .build/fire-schemathesis.txt)"
    )
