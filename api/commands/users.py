"""``xiaoan users`` and ``xiaoan keys``: accounts and device API keys.

Examples::

    xiaoan users add wang --role coordinator --node school-y      # prints a new password once
    printf '%s\\n' "$PW" | xiaoan users add li --role bureau --node county-x --password-stdin
    xiaoan users add p1 --role parent --node school-y --campus hki --bus bus-1
    xiaoan users add cop --role police --district j1
    xiaoan users list --json
    xiaoan users disable wang
    xiaoan keys add --campus hki --name gate-cam-1                 # prints the key once
"""

from __future__ import annotations

import argparse
import json
import sys

from api.commands._output import document_json
from api.commands.serve import add_store_args, open_store_from_args

ACCOUNT_KEYS = "username role node disabled district campus bus"


def register(sub: argparse._SubParsersAction) -> None:
    from layers.accounts import ROLES

    p = sub.add_parser("users", help="accounts: add, list, disable")
    us = p.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    a = us.add_parser(
        "add", help="add an account (the password is printed once, or read from stdin)"
    )
    a.add_argument("username", help="login name")
    a.add_argument("--role", required=True, choices=ROLES, help="what the account may do")
    a.add_argument(
        "--node", help="org node the account works at (it sees that node and everything below)"
    )
    a.add_argument("--district", help="police: fid of the jurisdictions row it serves")
    a.add_argument("--campus", help="parent/device: the campus")
    a.add_argument("--bus", help="parent: the child's bus")
    a.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin instead of generating one",
    )
    add_store_args(a)
    a.add_argument("--json", action="store_true", help="print JSON")
    document_json(a, ACCOUNT_KEYS, optional="password", when="for a generated password")
    a.set_defaults(func=run_add)

    ls = us.add_parser("list", help="every account (no secrets)")
    add_store_args(ls)
    ls.add_argument("--json", action="store_true", help="print JSON")
    document_json(ls, ACCOUNT_KEYS, rows=True)
    ls.set_defaults(func=run_list)

    d = us.add_parser("disable", help="disable an account (its tokens stop working)")
    d.add_argument("username", help="login name")
    add_store_args(d)
    d.add_argument("--json", action="store_true", help="print JSON")
    document_json(d, ACCOUNT_KEYS)
    d.set_defaults(func=run_disable)

    k = sub.add_parser("keys", help="device API keys for HTTP event ingest")
    ks = k.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    ka = ks.add_parser("add", help="add a key for one campus (printed once, stored hashed)")
    ka.add_argument("--campus", required=True, help="the campus the device posts events for")
    ka.add_argument("--name", required=True, help="a name for the device")
    add_store_args(ka)
    ka.add_argument("--json", action="store_true", help="print JSON")
    document_json(ka, "id name campus key")
    ka.set_defaults(func=run_key)


def run_add(args: argparse.Namespace) -> int:
    from layers.accounts import add_account, generate_password

    generated = not args.password_stdin
    password = generate_password() if generated else sys.stdin.readline().rstrip("\r\n")
    store = open_store_from_args(args)
    try:
        acc = add_account(
            store,
            args.username,
            args.role,
            args.node,
            password,
            district=args.district,
            campus=args.campus,
            bus=args.bus,
        )
    finally:
        store.close()
    out = acc.public()
    if generated:
        out["password"] = password
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        print(f"user {acc.username} ({acc.role} at {acc.node or acc.district}) added")
        if generated:
            print(f"password (shown once): {password}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from layers.accounts import list_accounts

    store = open_store_from_args(args)
    try:
        rows = [a.public() for a in list_accounts(store)]
    finally:
        store.close()
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        for r in rows:
            off = "  (disabled)" if r["disabled"] else ""
            print(f"{r['username']:<20} {r['role']:<14} {r['node'] or r['district']}{off}")
    return 0


def run_disable(args: argparse.Namespace) -> int:
    from layers.accounts import disable_account

    store = open_store_from_args(args)
    try:
        acc = disable_account(store, args.username)
    finally:
        store.close()
    if args.json:
        print(json.dumps(acc.public(), ensure_ascii=False, indent=2))
    else:
        print(f"user {acc.username} disabled")
    return 0


def run_key(args: argparse.Namespace) -> int:
    from layers.accounts import add_api_key

    store = open_store_from_args(args)
    try:
        key, data = add_api_key(store, args.campus, args.name)
    finally:
        store.close()
    out = {"id": data["id"], "name": data["name"], "campus": data["campus"], "key": key}
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        print(
            f"key {data['id']} for {data['name']} at campus {data['campus']} "
            f"(shown once; send it as X-API-Key): {key}"
        )
    return 0
