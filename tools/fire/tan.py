"""Two-factor authentication under faults: TAN challenges solved across SIGKILLs, codes and
passwords searched for afterwards in the data directory and the server's output."""

import json
import os
import random
import stat

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


def helper_script(base):
    """A HELPER_EMAIL that appends `address code...` lines to a file outside the data
    directory (the file is the one place a code may be; it is not searched)."""
    messages = base + "/messages"
    path = base + "/helper.sh"
    with open(path, "w") as f:
        f.write(f"#!/bin/sh\n{{ printf '%s ' \"$1\"; cat; echo; }} >> '{messages}'\n")
    os.chmod(path, stat.S_IRWXU)
    return path, messages


def last_code(messages, address):
    with open(messages) as f:
        lines = [line.split() for line in f if line.startswith(address + " ")]
    check(lines, f"the helper got no message for {address}")
    return lines[-1][1]


def json_body(body):
    try:
        return json.loads(body)
    except ValueError:
        raise Failed(f"not JSON: {body[:200]!r}")


def run(short):
    """Each round: a password mint answered 202, a TAN sent through the helper, a wrong TAN
    (409 with retry_counter), the right one, the repeated mint (200) and its repetition (403).
    Some rounds kill the server with SIGKILL between sending and confirming: the code still
    solves the challenge after the restart (its HMAC key is in the data directory)."""
    rounds = 3 if short else 20
    base, data_dir, output = fault_paths("tan")
    helper, messages = helper_script(base)
    password, secrets = admin_password()
    server = Server(data_dir, password, output, extra=["--helper-email", helper]).start()
    admin = mint_parent(server, secrets, password)
    shop_password = new_password()
    secrets.password("shop", shop_password)
    client = server.client()
    body = {
        "id": "shop",
        "name": "Shop",
        "auth": {"method": "token", "password": shop_password},
        "email": "owner@shop.example",
    }
    status, answer = client.request(
        "POST", "/management/instances",
        {"Authorization": bearer(admin), "Content-Type": "application/json"},
        json.dumps(body).encode(),
    )
    check(status == 204, f"instance creation: {status} {answer[:200]!r}")
    codes = set()
    kills = 0
    minted = []
    for number in range(rounds):
        request = json.dumps({"scope": "readonly", "description": f"tan round {number}"}).encode()
        headers = {"Authorization": basic("shop", shop_password), "Content-Type": "application/json"}
        client = server.client()
        status, answer = client.request("POST", "/instances/shop/private/token", headers, request)
        check(status == 202, f"round {number}: mint gave {status}, not 202: {answer[:200]!r}")
        challenge = json_body(answer)["challenges"][0]["challenge_id"]
        status, answer = client.request("POST", f"/instances/shop/challenge/{challenge}", {}, b"{}")
        check(status == 200, f"round {number}: TAN request gave {status}: {answer[:200]!r}")
        code = last_code(messages, "owner@shop.example")
        codes.add(code)
        secrets.password("tan", code)
        if number % 2 == 1:
            server.kill()
            kills += 1
            server.start()
            client = server.client()
        wrong = f"{(int(code) + random.randrange(1, 10**8)) % 10**8:08d}"
        status, answer = client.request(
            "POST", f"/instances/shop/challenge/{challenge}/confirm", {}, json.dumps({"tan": wrong}).encode()
        )
        check(status == 409 and json_body(answer).get("retry_counter") == 2,
              f"round {number}: wrong TAN gave {status} {answer[:200]!r}")
        status, answer = client.request(
            "POST", f"/instances/shop/challenge/{challenge}/confirm", {}, json.dumps({"tan": code}).encode()
        )
        check(status == 204, f"round {number}: right TAN gave {status} {answer[:200]!r}")
        repeated = dict(headers, **{"Taler-Challenge-Ids": challenge})
        status, answer = client.request("POST", "/instances/shop/private/token", repeated, request)
        check(status == 200, f"round {number}: repeated mint gave {status} {answer[:200]!r}")
        token = json_body(answer)["access_token"]
        secrets.token(token)
        minted.append(token)
        status, answer = client.request("POST", "/instances/shop/private/token", repeated, request)
        check(status == 403, f"round {number}: a used challenge minted again ({status})")
        client.close()
    client = server.client()
    for token in minted:
        status, _ = client.request("GET", "/instances/shop/private", {"Authorization": bearer(token)})
        check(status == 200, f"a token minted through a challenge does not work: {status}")
    client.close()
    check(server.stop() == 0, "SIGTERM exit status")
    verify(data_dir)
    no_secrets(secrets, [data_dir, output])
    cleanup(base)
    return (
        f"{rounds} challenge rounds ({kills} SIGKILLs between sending and confirming): every "
        f"code solved its challenge once, every repeated mint minted once; log verified; none "
        f"of {len(codes)} codes, the passwords or {len(minted)} tokens in the data directory or "
        f"the server's output"
    )
