"""``anquan keys``: API keys for the HTTP service, with roles (reader, inspector, admin).

anquan keys create --name "site office PC" --role inspector
anquan keys list
anquan keys revoke key_1a2b3c4d
"""

from __future__ import annotations

import argparse
import time

from api.auth import ROLES, KeyStore
from api.cli import dump
from ingest.settings import Settings

COMMANDS = ("keys",)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "keys",
        help="API keys for the HTTP service: create, list, revoke",
        description="API keys with roles: reader (ask, search, checklists, read records), "
        "inspector (+ record and sign inspections), admin (+ upload and delete documents). "
        "Keys are stored hashed (sha256) in <data dir>/api.sqlite; a key is shown once, when "
        "it is created. A service with keys refuses requests without one.",
    )
    act = p.add_subparsers(dest="keys_command", metavar="ACTION", parser_class=type(p))
    act.required = True
    s = act.add_parser("create", help="make a key (printed once)")
    s.add_argument("--name", required=True, help="whose key it is, e.g. 'site office PC'")
    s.add_argument("--role", choices=ROLES, default="reader")
    s.add_argument(
        "--rate",
        type=int,
        help="requests a minute (default ANQUAN_API_RATE_LIMIT_PER_MINUTE; 0: no limit)",
    )
    s.add_argument("--json", action="store_true")
    s = act.add_parser("list", help="keys, without their secrets")
    s.add_argument("--all", action="store_true", help="include revoked keys")
    s.add_argument("--json", action="store_true")
    s = act.add_parser("revoke", help="revoke a key by its id (key_…) or the key itself")
    s.add_argument("key_id")
    s.add_argument("--json", action="store_true")


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else "-"


def run(args: argparse.Namespace, settings: Settings) -> int:
    store = KeyStore(settings.data_dir / "api.sqlite")
    try:
        if args.keys_command == "create":
            made = store.create(args.name, args.role, args.rate)
            if args.json:
                dump(made)
            else:
                print(f"{made['key_id']} ({made['role']}) for {made['name']}:\n\n  {made['key']}\n")
                print(
                    "Keep it now: it is not shown again. Clients send it as "
                    "'Authorization: Bearer <key>'."
                )
            return 0
        if args.keys_command == "list":
            keys = [k for k in store.list() if args.all or not k["revoked_at"]]
            if args.json:
                dump({"keys": keys})
                return 0
            if not keys:
                print("no keys: the service serves 127.0.0.1 only, to its local user")
            for k in keys:
                state = f"revoked {_when(k['revoked_at'])}" if k["revoked_at"] else "active"
                rate = k["rate_per_minute"] if k["rate_per_minute"] is not None else "default"
                print(
                    f"{k['key_id']}  {k['role']:<9} {k['starts_with']}…  {state:<24} "
                    f"rate {rate}  last used {_when(k['last_used_at'])}  {k['name']}"
                )
            return 0
        ok = store.revoke(args.key_id)
        if args.json:
            dump({"key_id": args.key_id, "revoked": ok})
        elif ok:
            print(f"{args.key_id} revoked")
        else:
            print(f"anquan: no active key {args.key_id!r}; see 'anquan keys list'")
        return 0 if ok else 1
    finally:
        store.close()
