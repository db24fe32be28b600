"""The security probe: the attacks an adversarial review of the release build found (spec
§10), tried again against the real server as an attacker would, each one a named probe that
must now fail for the attacker. Prints what each probe saw; RELIABILITY.md ("Security")
keeps the results."""

import json
import socket
import secrets as random_source
import statistics
import threading
import time

from firelib import (
    Failed,
    Server,
    basic,
    bearer,
    check,
    cleanup,
    new_password,
    verify,
    admin_password,
    fault_paths,
)
from lifecycle import mint_parent, no_secrets
from tan import helper_script, json_body, last_code

OWNER = "owner@shop.example"
ATTACKER = "attacker@evil.example"
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def run(short):
    base, data_dir, output = fault_paths("security")
    helper, messages = helper_script(base)
    password, secrets = admin_password()
    server = Server(data_dir, password, output, extra=["--helper-email", helper]).start()
    admin = mint_parent(server, secrets, password)
    shop_password = new_password()
    secrets.password("shop", shop_password)
    other_password = new_password()
    secrets.password("other", other_password)
    # One instance per probe that fails logins on purpose: the per-instance cap (every
    # address counts) must not let one probe's failures answer another's requests with 429.
    edges_password = new_password()
    secrets.password("edges", edges_password)
    honest_password = new_password()
    secrets.password("honest", honest_password)
    client = server.client()
    for instance, secret, email in (
        ("shop", shop_password, OWNER), ("other", other_password, None),
        ("edges", edges_password, None), ("honest", honest_password, None),
    ):
        body = {"id": instance, "name": instance, "auth": {"method": "token", "password": secret}}
        if email:
            body["email"] = email
        status, answer = client.request(
            "POST", "/management/instances",
            {"Authorization": bearer(admin), "Content-Type": "application/json"},
            json.dumps(body).encode(),
        )
        check(status == 204, f"creating {instance}: {status} {answer[:200]!r}")
    seen = []
    seen.append(second_factor(server, shop_password, messages, secrets))
    seen.append(addresses(server, shop_password, messages))
    seen.append(throttle_burst(server, honest_password, 40 if short else 100))
    seen.append(tenant_interleaving(server, shop_password, other_password, secrets))
    seen.append(forwarded_headers(server, other_password))
    seen.append(token_shaped(server, admin, secrets, 18 if short else 198))
    seen.append(protocol_edges(server, edges_password))
    check(server.stop() == 0, "SIGTERM exit status")
    verify(data_dir)
    no_secrets(secrets, [data_dir, output])
    cleanup(base)
    return "; ".join(seen)


def patch(client, credential, body, ids=None):
    headers = {"Authorization": credential, "Content-Type": "application/json"}
    if ids:
        headers["Taler-Challenge-Ids"] = ",".join(ids)
    return client.request("PATCH", "/instances/shop/private", headers, json.dumps(body).encode())


def solve(client, challenge, messages, address, secrets):
    status, answer = client.request("POST", f"/instances/shop/challenge/{challenge}", {}, b"{}")
    check(status == 200, f"TAN request for {challenge}: {status} {answer[:200]!r}")
    code = last_code(messages, address)
    secrets.password("tan", code)
    status, answer = client.request(
        "POST", f"/instances/shop/challenge/{challenge}/confirm", {}, json.dumps({"tan": code}).encode()
    )
    check(status == 204, f"confirming {challenge}: {status} {answer[:200]!r}")


def helper_addresses(messages):
    try:
        with open(messages) as f:
            return [line.split(" ", 1)[0] for line in f if line.strip()]
    except FileNotFoundError:
        return []


def second_factor(server, shop_password, messages, secrets):
    """Finding 1: the password alone (or a stolen `all` token) moved the e-mail to the
    attacker, removed it, or switched the instance to `external`."""
    client = server.client()
    legacy = bearer("secret-token:" + shop_password)
    # A stolen non-refreshable `all` token, minted the honest way (the owner solved it).
    mint = json.dumps({"scope": "all"}).encode()
    headers = {"Authorization": basic("shop", shop_password), "Content-Type": "application/json"}
    status, answer = client.request("POST", "/instances/shop/private/token", headers, mint)
    check(status == 202, f"a password mint was not challenged: {status}")
    challenge = json_body(answer)["challenges"][0]["challenge_id"]
    solve(client, challenge, messages, OWNER, secrets)
    status, answer = client.request(
        "POST", "/instances/shop/private/token", dict(headers, **{"Taler-Challenge-Ids": challenge}), mint
    )
    check(status == 200, f"the owner's mint: {status} {answer[:200]!r}")
    stolen = json_body(answer)["access_token"]
    secrets.token(stolen)
    tried = 0
    for credential in (legacy, "secret-token:" + shop_password, bearer(stolen)):
        for body in ({"email": ATTACKER}, {"email": ""}, {"email": ATTACKER, "name": "shop"}):
            status, answer = patch(client, credential, body)
            tried += 1
            check(status == 202, f"PATCH {body} answered {status}, not a challenge: {answer[:200]!r}")
            masked = [c["tan_info"] for c in json_body(answer)["challenges"]]
            check(masked == ["o***@shop.example"], f"the challenge went to {masked}")
        status, answer = client.request(
            "POST", "/instances/shop/private/auth",
            {"Authorization": credential, "Content-Type": "application/json"},
            b'{"method":"external"}',
        )
        check(status == 400 and json_body(answer).get("code") == 2602,
              f"switching to external: {status} {answer[:200]!r}")
    status, answer = client.request("GET", "/instances/shop/private", {"Authorization": legacy})
    details = json_body(answer)
    check(details.get("email") == OWNER and details.get("email_validated") is True,
          f"the address moved: {details}")
    check(ATTACKER not in helper_addresses(messages), "a code went to the attacker's address")
    status, answer = client.request(
        "POST", "/instances/shop/private/token",
        {"Authorization": basic("shop", shop_password), "Content-Type": "application/json"},
        json.dumps({"scope": "all:refreshable", "duration": {"d_us": "forever"}}).encode(),
    )
    check(status == 202, f"the attacker's mint: {status}")
    client.close()
    return (f"2fa: {tried} address changes with the password, legacy bearer and a stolen all "
            f"token all answered 202 at the owner's address; external refused (2602)")


def addresses(server, shop_password, messages):
    """Finding 4: addresses reached the helper as an option (`--exec=...`)."""
    client = server.client()
    legacy = bearer("secret-token:" + shop_password)
    refused = 0
    for value in ("--exec=/bin/sh", "-oProxyCommand=sh@x.example", "a@b.example\nBcc: x@y.example",
                  "a@b.example\u202e", "a" * 300 + "@b.example"):
        status, answer = patch(client, legacy, {"email": value})
        check(status == 400 and json_body(answer).get("code") == 2132,
              f"address {value[:30]!r}: {status} {answer[:200]!r}")
        refused += 1
    for address in helper_addresses(messages):
        check(not address.startswith("-"), f"the helper got an option-like argument {address!r}")
    client.close()
    return f"addresses: {refused} option-like, control-character and overlong addresses refused (2132)"


def throttle_burst(server, honest_password, count):
    """Finding 2: parallel wrong passwords were all checked; another instance's correct login
    waited behind them. The honest login is the first of its instance (no cached check): it
    must wait for at most the hash in progress."""
    results = []
    lock = threading.Lock()
    start = threading.Barrier(count + 1)

    def wrong(number):
        client = server.client(source="127.3.0.1")
        start.wait()
        try:
            status, _ = client.request(
                "POST", "/instances/other/private/token",
                {"Authorization": basic("other", f"wrong-{number}"), "Content-Type": "application/json"},
                b'{"scope":"readonly"}',
            )
        except OSError as error:
            status = f"error {error}"
        with lock:
            results.append(status)
        client.close()

    threads = [threading.Thread(target=wrong, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    start.wait()
    time.sleep(0.05)
    honest = server.client(source="127.3.0.2")
    began = time.monotonic()
    status, _ = honest.request(
        "POST", "/instances/honest/private/token",
        {"Authorization": basic("honest", honest_password), "Content-Type": "application/json"},
        b'{"scope":"readonly"}',
    )
    waited = time.monotonic() - began
    honest.close()
    for thread in threads:
        thread.join()
    checked = results.count(401)
    throttled = results.count(429)
    check(status == 200, f"the honest login during the burst: {status}")
    check(checked <= 6, f"{checked} of {count} parallel wrong passwords were checked")
    check(checked + throttled == count, f"answers other than 401/429: {results}")
    return (f"burst: {count} parallel wrong passwords from one address: {checked} checked, "
            f"{throttled} got 429; another instance's login meanwhile took {waited * 1000:.0f} ms")


def checked_guesses(client, instance, guesses, before=None, headers=None):
    """Sends `guesses` wrong Basic passwords for `instance`; calls `before(n)` ahead of each
    and adds `headers(n)` to it. Returns how many were checked (401, not 429)."""
    checked = 0
    for number in range(guesses):
        if before:
            before(number)
        extra = headers(number) if headers else {}
        status, _ = client.request(
            "POST", f"/instances/{instance}/private/token",
            dict({"Authorization": basic(instance, f"guess-{number}"), "Content-Type": "application/json"}, **extra),
            b'{"scope":"readonly"}',
        )
        if status == 401:
            checked += 1
    return checked


def tenant_interleaving(server, shop_password, other_password, secrets):
    """Finding 6: a tenant's own successful logins cleared its penalty for every instance."""
    client = server.client(source="127.3.1.1")

    def own_login(_):
        status, body = client.request(
            "POST", "/instances/other/private/token",
            {"Authorization": basic("other", other_password), "Content-Type": "application/json"},
            b'{"scope":"readonly"}',
        )
        # A refusal's hint says which limit answered (the throttle or the hashing queue).
        check(status == 200, f"the tenant's own login: {status} {body[:160]!r}")

    checked = checked_guesses(client, "shop", 25, before=own_login)
    client.close()
    check(checked <= 6, f"{checked} guesses against another instance were checked")
    return f"interleaving: 25 own logins between guesses; {checked} guesses against another instance checked"


def forwarded_headers(server, other_password):
    """Finding 6: forwarded-address headers from a peer that is no trusted proxy must not
    give each guess a new address."""
    client = server.client(source="127.3.2.1")
    checked = checked_guesses(
        client, "other", 20,
        headers=lambda n: {"X-Forwarded-For": f"203.0.113.{n + 1}", "Forwarded": f"for=198.51.100.{n + 1}"},
    )
    client.close()
    check(checked <= 6, f"{checked} guesses with spoofed forwarded addresses were checked")
    return f"forwarded: 20 guesses with spoofed X-Forwarded-For/Forwarded, {checked} checked"


def raw_head(port, path):
    """(status, bytes after the response head) of a `HEAD` on a connection the server closes;
    http.client would not show a body sent after a HEAD."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"HEAD {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        received = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    head, _, rest = received.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), rest


def random_token():
    return "secret-token:" + "".join(random_source.choice(CROCKFORD) for _ in range(52))


def token_shaped(server, admin_token, secrets, samples):
    """Finding 7: an unknown token-shaped credential ran the KDF, so timing told issued tokens
    from random ones. Latencies are reported, not asserted; the 401s are. Every failed
    presentation counts towards its instance's cap (20 from all addresses), so the samples
    are spread over instances of their own, 9 pairs each, each probe from a fresh address."""
    timings = {"unknown": [], "revoked": []}
    per_instance = 9
    client = server.client(source="127.3.3.1")
    revoked = None
    instance = None
    for number in range(samples):
        if number % per_instance == 0:
            instance = f"timing{number // per_instance}"
            password = new_password()
            secrets.password(instance, password)
            status, answer = client.request(
                "POST", "/management/instances",
                {"Authorization": bearer(admin_token), "Content-Type": "application/json"},
                json.dumps({"id": instance, "name": instance,
                            "auth": {"method": "token", "password": password}}).encode(),
            )
            check(status == 204, f"creating {instance}: {status}")
            status, answer = client.mint(basic(instance, password), "readonly", "revoked", prefix=f"/instances/{instance}")
            check(status == 200, f"mint: {status}")
            revoked = json_body(answer)["access_token"]
            secrets.token(revoked)
            status, _ = client.request(
                "DELETE", f"/instances/{instance}/private/token", {"Authorization": bearer(revoked)})
            check(status == 204, f"revoke: {status}")
        probe = server.client(source=f"127.4.{number // 250}.{number % 250 + 1}")
        for kind, credential in (("unknown", random_token()), ("revoked", revoked)):
            began = time.monotonic()
            status, _ = probe.request(
                "GET", f"/instances/{instance}/private/tokens", {"Authorization": bearer(credential)})
            timings[kind].append(time.monotonic() - began)
            check(status == 401, f"{kind} token: {status}")
        probe.close()
    client.close()
    unknown = statistics.median(timings["unknown"]) * 1000
    known = statistics.median(timings["revoked"]) * 1000
    return f"token-shaped: unknown {unknown:.2f} ms vs revoked {known:.2f} ms (medians of {samples}), both 401"


def protocol_edges(server, password):
    """Finding 7: Basic with junk after the base64, `HEAD` with a body, `/metrics` on the
    public port."""
    client = server.client(source="127.3.4.1")
    junk = basic("edges", password) + " junk"
    status, _ = client.request(
        "POST", "/instances/edges/private/token",
        {"Authorization": junk, "Content-Type": "application/json"}, b'{"scope":"readonly"}',
    )
    check(status == 401, f"Basic with junk after the base64: {status}")
    head_status, after_head = raw_head(server.port, "/config")
    check(after_head == b"", f"HEAD /config sent a body: {after_head[:100]!r}")
    status, _ = client.request("GET", "/metrics")
    check(status == 404, f"/metrics on the public listener: {status}")
    client.close()
    return f"edges: Basic+junk 401, HEAD {head_status} without a body, public /metrics 404"
