"""``anquan inspect``: inspections from a checklist, signed by the inspector.

    anquan checklist --industry construction --topic scaffolds --format json --out scaffolds.json
    anquan inspect new --checklist scaffolds.json --site "Tower B" --area "east face" --inspector "Li Wei"
    anquan inspect record INS-0001 3 --result fail --grade major --note "no toeboards" \\
        --photo east.jpg --action "fit toeboards" --owner "Site foreman" --due 2025-04-07
    anquan inspect sign INS-0001 --name "Li Wei"
    anquan inspect export INS-0001 --format html --out INS-0001.html
    anquan inspect plan --site "Tower B" --checklist scaffolds.json --every weekly
    anquan inspect due
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from api.cli import dump
from ingest.errors import ConfigError
from ingest.settings import Settings

COMMANDS = ("inspect",)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "inspect",
        help="inspections: record results, raise hazards, sign, export, see what is due",
        description="Inspection records (SQLite under the data dir). A failed item becomes a "
        "hazard (隐患) with a grade and a corrective action (owner, due date), closed after a "
        "re-inspection. The inspector signs with name, time and a sha256 hash of the record; a "
        "signed version cannot change, and a later change is a new version with an audit trail.",
    )
    act = p.add_subparsers(dest="inspect_command", metavar="ACTION", parser_class=type(p))
    act.required = True

    s = act.add_parser("new", help="start an inspection from a checklist")
    s.add_argument(
        "--checklist",
        required=True,
        help="a checklist JSON file ('anquan checklist … --format json') or a stored id (CK-…)",
    )
    s.add_argument("--site", required=True)
    s.add_argument("--area", default="")
    s.add_argument("--inspector", required=True, help="who checks; the same person signs")
    s.add_argument("--date", help="inspection date YYYY-MM-DD (default today)")
    s.add_argument("--json", action="store_true")

    s = act.add_parser("record", help="record one item: pass, fail (a hazard) or na")
    s.add_argument("inspection", help="inspection id, e.g. INS-0001")
    s.add_argument("item", help="checklist item id (序号)")
    s.add_argument("--result", required=True, choices=["pass", "fail", "na"])
    s.add_argument("--note", default="")
    s.add_argument(
        "--photo",
        action="append",
        default=[],
        type=Path,
        help="photo file (repeatable); copied under the data dir, sha256 kept",
    )
    s.add_argument(
        "--grade",
        choices=["general", "major"],
        help="hazard grade for a fail (一般/重大; default general)",
    )
    s.add_argument("--hazard", help="hazard description for a fail (default: the note)")
    s.add_argument("--action", help="corrective action for a fail")
    s.add_argument("--owner", help="who corrects it (required before signing)")
    s.add_argument("--due", help="correction due date YYYY-MM-DD (required before signing)")
    s.add_argument("--by", help="who records (default the inspector)")
    s.add_argument(
        "--amend",
        metavar="REASON",
        help="the inspection is signed: make a new version for this change, giving the reason",
    )
    s.add_argument("--json", action="store_true")

    s = act.add_parser("sign", help="the inspector signs: name, time, hash of the record")
    s.add_argument("inspection")
    s.add_argument("--name", required=True, help="the inspector's name, as given at 'new'")
    s.add_argument("--allow-incomplete", action="store_true", help="sign with items unrecorded")
    s.add_argument("--json", action="store_true")

    s = act.add_parser("show", help="one inspection: results, hazards, signature, audit trail")
    s.add_argument("inspection")
    s.add_argument("--version", type=int, help="default the latest")
    s.add_argument("--audit", action="store_true", help="include the audit trail")
    s.add_argument("--json", action="store_true")

    s = act.add_parser("export", help="the record as json, md, csv or printable html")
    s.add_argument("inspection")
    s.add_argument("--version", type=int)
    s.add_argument("--format", choices=["json", "md", "csv", "html"], default="json")
    s.add_argument("--out", type=Path)

    s = act.add_parser("due", help="inspections due or overdue, and corrective actions past due")
    s.add_argument("--today", help="as of this date (default today)")
    s.add_argument("--within", type=int, default=0, help="also list what falls due within N days")
    s.add_argument("--json", action="store_true")

    s = act.add_parser("plan", help="plan routine inspections of a site with a checklist")
    s.add_argument("--site", required=True)
    s.add_argument("--area", default="")
    s.add_argument("--checklist", required=True, help="checklist JSON file or stored id (CK-…)")
    s.add_argument(
        "--every",
        required=True,
        help="daily, weekly, fortnightly, monthly, quarterly, half-yearly, yearly, or 10d/2w/3m/1y",
    )
    s.add_argument("--start", help="first due date YYYY-MM-DD (default today)")
    s.add_argument("--owner", help="who is responsible for carrying it out")
    s.add_argument("--json", action="store_true")

    s = act.add_parser("close", help="re-inspect a hazard: pass closes it, fail keeps it open")
    s.add_argument("hazard", help="hazard id, e.g. HZ-0001")
    s.add_argument("--by", required=True, help="who re-inspects")
    s.add_argument("--result", choices=["pass", "fail"], default="pass")
    s.add_argument("--note", default="")
    s.add_argument("--json", action="store_true")

    s = act.add_parser("list", help="inspections, latest version of each")
    s.add_argument("--site")
    s.add_argument("--json", action="store_true")


def _checklist_arg(value: str) -> Any:
    """A JSON file becomes a Checklist; anything else is taken as a stored checklist id."""
    from assistant.checklist import Checklist

    path = Path(value)
    if path.suffix.lower() == ".json" or path.is_file():
        if not path.is_file():
            raise ConfigError(f"checklist file {path} not found")
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{path} is not JSON ({exc}); make it with 'anquan checklist … --format json'"
            ) from None
        return Checklist.from_dict(data)
    return value


def run(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.inspections import Inspections

    store = Inspections.from_settings(settings)
    try:
        return _ACTIONS[args.inspect_command](store, args)
    finally:
        store.close()


def _new(store: Any, args: argparse.Namespace) -> int:
    ref = store.start(
        _checklist_arg(args.checklist),
        site=args.site,
        inspector=args.inspector,
        area=args.area,
        on=args.date,
    )
    head = store.record_json(ref.inspection_id)
    if args.json:
        dump(
            {
                "inspection_id": ref.inspection_id,
                "version": ref.version,
                "checklist_id": head["inspection"]["checklist"]["id"],
                "items": len(head["items"]),
            }
        )
    else:
        print(
            f"{ref.inspection_id}: {len(head['items'])} items to check at {args.site}"
            f"{' / ' + args.area if args.area else ''} by {args.inspector} "
            f"on {head['inspection']['date']}"
        )
    return 0


def _record(store: Any, args: argparse.Namespace) -> int:
    out = store.record(
        args.inspection,
        args.item,
        args.result,
        note=args.note,
        photos=args.photo,
        grade=args.grade,
        hazard=args.hazard,
        action=args.action,
        owner=args.owner,
        due=args.due,
        by=args.by,
        amend_reason=args.amend,
    )
    if args.json:
        dump(out)
    else:
        extra = f", hazard {out['hazard_id']}" if out["hazard_id"] else ""
        print(
            f"{out['inspection_id']} v{out['version']} item {out['item_id']}: {out['result']}{extra}"
        )
    return 0


def _sign(store: Any, args: argparse.Namespace) -> int:
    out = store.sign(args.inspection, args.name, allow_incomplete=args.allow_incomplete)
    if args.json:
        dump(out)
    else:
        print(
            f"{out['inspection_id']} v{out['version']} signed by {out['signed_by']} at "
            f"{out['signed_at']}\nsha256 {out['record_hash']}"
        )
    return 0


def _show(store: Any, args: argparse.Namespace) -> int:
    shown = store.show(args.inspection, args.version)
    if args.audit:
        shown["audit"] = store.audit(args.inspection)
    if args.json:
        dump(shown)
        return 0
    head = shown["inspection"]
    print(
        f"{head['id']} v{head['version']} ({shown['status']}; versions {shown['versions']})  "
        f"{head['checklist']['title']}"
    )
    print(
        f"site {head['site']}  area {head['area'] or '-'}  inspector {head['inspector']}  date {head['date']}"
    )
    if head.get("amend_reason"):
        print(f"amends v{head['based_on']}: {head['amend_reason']}")
    counts = {"pass": 0, "fail": 0, "na": 0, None: 0}
    for it in shown["items"]:
        r = it["result"]
        counts[r["result"] if r else None] += 1
        mark = {"pass": "✓", "fail": "✗", "na": "–"}.get(r["result"], "?") if r else " "
        line = f"  [{mark}] {it['id']:>3}. {it['question']}"
        if r and r.get("note"):
            line += f"  — {r['note']}"
        print(line)
    print(
        f"pass {counts['pass']}, fail {counts['fail']}, n/a {counts['na']}, not recorded {counts[None]}"
    )
    for h in shown["hazards"]:
        acts = "; ".join(
            f"{a['action_id']} {a['action']} ({a['owner'] or '?'}, due {a['due'] or '?'}, {a['status']})"
            for a in h["actions"]
        )
        print(
            f"  {h['hazard_id']} [{h['grade']}] item {h['item_id']}: {h['description']} — {h['status']}; {acts}"
        )
    if shown["status"] == "signed":
        ok = "verified" if shown["hash_ok"] else "DOES NOT VERIFY"
        print(
            f"signed by {shown['signature']['name']} at {shown['signature']['at']}; "
            f"sha256 {shown['record_hash']} ({ok})"
        )
    for a in shown.get("audit", []):
        print(
            f"  {a['at']} {a['actor']}: {a['action']} v{a['version'] or '-'} "
            f"{a['item_id'] or ''} {json.dumps(a['detail'], ensure_ascii=False)[:160]}"
        )
    return 0


def export_record(store: Any, inspection_id: str, version: int | None, fmt: str) -> str:
    """An inspection as text: JSON (the signed record, hash and verification) or the
    checklist layouts filled in with results and the signature."""
    from assistant.checklist_render import render

    shown = store.show(inspection_id, version)
    if fmt == "json":
        return json.dumps(shown, ensure_ascii=False, indent=2) + "\n"
    head = shown["inspection"]
    checklist = store.checklist(head["checklist"]["id"])
    results = {}
    for it in shown["items"]:
        if it["result"]:
            results[it["id"]] = it["result"]
    signature = None
    if shown["status"] == "signed":
        signature = {**shown["signature"], "hash": shown["record_hash"], "version": head["version"]}
    header = {
        "site": head["site"],
        "area": head["area"],
        "date": head["date"],
        "inspector": head["inspector"],
    }
    return render(checklist, fmt, header=header, results=results, signature=signature)


def _export(store: Any, args: argparse.Namespace) -> int:
    text = export_record(store, args.inspection, args.version, args.format)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8-sig" if args.format == "csv" else "utf-8")
        print(f"written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _due(store: Any, args: argparse.Namespace) -> int:
    today = date.fromisoformat(args.today) if args.today else None
    out = store.due(today=today, within_days=args.within)
    if args.json:
        dump(out)
        return 0
    print(f"as of {out['today']}:")
    if not out["inspections"] and not out["overdue_actions"]:
        print("  nothing due")
    for d in out["inspections"]:
        late = f", {d['days_overdue']} days overdue" if d["days_overdue"] else ""
        print(
            f"  plan {d['plan_id']}: {d['site']}{' / ' + d['area'] if d['area'] else ''} — "
            f"{d['checklist']} ({d['frequency']}) {d['status']}, due {d['next_due']}{late}; "
            f"last {d['last_inspection'] or 'never'}"
        )
    for a in out["overdue_actions"]:
        print(
            f"  {a['action_id']} ({a['hazard_id']}, {a['grade']}) {a['action']} — owner "
            f"{a['owner'] or '?'}, due {a['due']}, {a['days_overdue']} days overdue "
            f"[{a['inspection_id']} item {a['item_id']}]"
        )
    return 0


def _plan(store: Any, args: argparse.Namespace) -> int:
    plan_id = store.add_plan(
        args.site,
        _checklist_arg(args.checklist),
        args.every,
        area=args.area,
        start=args.start,
        owner=args.owner,
        by=args.owner or "system",
    )
    if args.json:
        dump({"plan_id": plan_id})
    else:
        print(f"plan {plan_id}: {args.site} {args.every}")
    return 0


def _close(store: Any, args: argparse.Namespace) -> int:
    out = store.close_hazard(args.hazard, by=args.by, result=args.result, note=args.note)
    if args.json:
        dump(out)
    else:
        print(
            f"{out['hazard_id']}: {out['status']} (re-inspected by {out['by']} at {out['reinspected_at']})"
        )
    return 0


def _list(store: Any, args: argparse.Namespace) -> int:
    rows = store.list_inspections(args.site)
    if args.json:
        dump({"inspections": rows})
        return 0
    if not rows:
        print("no inspections yet; start one with 'anquan inspect new'")
    for r in rows:
        print(
            f"{r['inspection_id']} v{r['version']} {r['status']:<6} {r['date']} {r['site']}"
            f"{' / ' + r['area'] if r['area'] else ''} — {r['checklist']} ({r['inspector']})"
        )
    return 0


_ACTIONS = {
    "new": _new,
    "record": _record,
    "sign": _sign,
    "show": _show,
    "export": _export,
    "due": _due,
    "plan": _plan,
    "close": _close,
    "list": _list,
}
