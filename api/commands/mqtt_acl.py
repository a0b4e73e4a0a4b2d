"""``xiaoan mqtt acl``: Mosquitto credentials and topic ACLs, one user per school.

Example::

    xiaoan mqtt acl --out /etc/mosquitto/xiaoan.acl   # also writes xiaoan.acl.passwd
    # mosquitto.conf:  acl_file /etc/mosquitto/xiaoan.acl
    #                  password_file /etc/mosquitto/xiaoan.acl.passwd
    #                  allow_anonymous false
"""

from __future__ import annotations

import argparse
import json
import os

from api.commands._output import document_json
from api.commands.serve import add_store_args, open_store_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("mqtt", help="MQTT broker settings: per-school credentials and ACLs")
    ms = p.add_subparsers(dest="mqtt_command", metavar="ACTION", required=True)
    a = ms.add_parser(
        "acl", help="write a Mosquitto ACL file and password file (new passwords, printed once)"
    )
    a.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help="the ACL file to write; the password file is FILE.passwd",
    )
    add_store_args(a)
    a.add_argument("--json", action="store_true", help="print JSON")
    document_json(a, "out passwd credentials")
    a.set_defaults(func=run)


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def run(args: argparse.Namespace) -> int:
    from ingest.live.mqtt_acl import acl_files

    store = open_store_from_args(args)
    try:
        got = acl_files(store)
    finally:
        store.close()
    _write(args.out, got["acl"])
    _write(args.out + ".passwd", got["passwd"])
    out = {"out": args.out, "passwd": args.out + ".passwd", "credentials": got["credentials"]}
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        print(f"wrote {args.out} and {args.out}.passwd; credentials (shown once):")
        for c in got["credentials"]:
            print(f"  {c['username']:<28} {c['password']}  campuses: {', '.join(c['campuses'])}")
    return 0
