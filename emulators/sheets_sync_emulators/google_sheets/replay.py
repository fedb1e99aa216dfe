"""Replay gspread's recorded Google API traffic (vcrpy cassettes) against the emulator.

    python -m sheets_sync_emulators.google_sheets.replay tests/fixtures/google-sheets-cassettes [-v]

For each cassette the emulator starts empty; every recorded request is sent (hosts
rewritten, recorded ids replaced by the ids the emulator handed out) and the response
is compared with the recording: same status, and the same JSON after ignoring volatile
values (ids, Drive timestamps, the spreadsheet URL, service-account e-mails).
Two kinds of pre-existing Drive content are seeded, because the recording account had them:
files a recorded Drive list response shows (seeded per episode with their recorded names and
times: the Drive as it was when that episode ran), and spreadsheet ids a cassette uses without
creating or listing them (someone else's files: seeded as spreadsheets the caller may not open).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from . import routes
from .server import EmulatorServer

ID_KEYS = {"spreadsheetId", "id", "sheetId", "namedRangeId", "protectedRangeId", "metadataId"}
VOLATILE_KEYS = {"createdTime", "modifiedTime", "spreadsheetUrl"}
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.iam\.gserviceaccount\.com$")
SPREADSHEET_ID_RE = re.compile(r"/(?:spreadsheets|files)/([A-Za-z0-9_-]{30,})")


@dataclass
class Outcome:
    cassette: str
    index: int
    method: str
    endpoint: str
    kinds: list[str]
    matched: bool
    reason: str = ""


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.outcomes)

    @property
    def matched(self) -> int:
        return sum(o.matched for o in self.outcomes)

    def by_endpoint(self) -> dict[str, tuple[int, int]]:
        total: Counter[str] = Counter()
        ok: Counter[str] = Counter()
        for o in self.outcomes:
            total[o.endpoint] += 1
            ok[o.endpoint] += o.matched
        return {k: (ok[k], total[k]) for k in sorted(total, key=lambda k: -total[k])}

    def by_request_kind(self) -> dict[str, tuple[int, int]]:
        """batchUpdate request kinds: matched/total of the interactions that carry each kind."""
        total: Counter[str] = Counter()
        ok: Counter[str] = Counter()
        for o in self.outcomes:
            for kind in set(o.kinds):
                total[kind] += 1
                ok[kind] += o.matched
        return {k: (ok[k], total[k]) for k in sorted(total)}

    def summary(self) -> str:
        lines = [f"fidelity: {self.matched}/{self.total} interactions match"]
        for name, (ok, n) in self.by_endpoint().items():
            lines.append(f"  {ok:5d}/{n:<5d} {name}")
        lines.append("  batchUpdate request kinds:")
        for name, (ok, n) in self.by_request_kind().items():
            lines.append(f"  {ok:5d}/{n:<5d}   {name}")
        return "\n".join(lines)


def endpoint_name(method: str, path: str) -> str:
    action = routes.action_for(method, path)
    if action == "unknown":
        if "/upload/" in path:
            return "drive.upload (not emulated)"
        return f"{method} {re.sub(r'/[A-Za-z0-9_-]{20,}', '/{id}', path)} (not emulated)"
    return action


def _walk_learn(rec: Any, act: Any, ids: dict[Any, Any]) -> None:
    if isinstance(rec, dict) and isinstance(act, dict):
        for key, rv in rec.items():
            if key not in act:
                continue
            av = act[key]
            if key in ID_KEYS and type(rv) is type(av) and rv != av and rv not in ids:
                ids[rv] = av
            else:
                _walk_learn(rv, av, ids)
    elif isinstance(rec, list) and isinstance(act, list):
        for rv, av in zip(rec, act, strict=False):
            _walk_learn(rv, av, ids)


def _substitute(obj: Any, ids: dict[Any, Any], key: str | None = None) -> Any:
    if isinstance(obj, dict):
        return {k: _substitute(v, ids, k) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_substitute(v, ids, key) for v in obj]
    if key in ID_KEYS and not isinstance(obj, bool) and obj in ids:
        return ids[obj]
    if isinstance(obj, str):
        for rec, act in ids.items():
            if isinstance(rec, str) and len(rec) > 20 and rec in obj:
                obj = obj.replace(rec, act)
    return obj


def _normalise(obj: Any, key: str | None = None) -> Any:
    if isinstance(obj, dict):
        return {k: ("<volatile>" if k in VOLATILE_KEYS else _normalise(v, k)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_normalise(v, key) for v in obj]
    if isinstance(obj, str) and EMAIL_RE.match(obj):
        return "<service-account>"
    if isinstance(obj, float) and obj.is_integer():
        return int(obj)
    return obj


def first_difference(rec: Any, act: Any, path: str = "$") -> str | None:
    if isinstance(rec, dict) and isinstance(act, dict):
        for k in sorted(set(rec) | set(act)):
            if k not in act:
                return f"{path}.{k} missing"
            if k not in rec:
                return f"{path}.{k} unexpected ({json.dumps(act[k])[:80]})"
            diff = first_difference(rec[k], act[k], f"{path}.{k}")
            if diff:
                return diff
        return None
    if isinstance(rec, list) and isinstance(act, list):
        if len(rec) != len(act):
            return f"{path} length {len(act)} != recorded {len(rec)}"
        for i, (r, a) in enumerate(zip(rec, act, strict=True)):
            diff = first_difference(r, a, f"{path}[{i}]")
            if diff:
                return diff
        return None
    if rec != act or (isinstance(rec, bool) != isinstance(act, bool)):
        return f"{path}: {json.dumps(act)[:80]} != recorded {json.dumps(rec)[:80]}"
    return None


def _request_kinds(body: Any) -> list[str]:
    if isinstance(body, dict) and isinstance(body.get("requests"), list):
        return [next(iter(r)) for r in body["requests"] if isinstance(r, dict) and r]
    return []


def _is_drive_create(it: dict[str, Any]) -> bool:
    return it["request"]["method"] == "POST" and it["request"]["uri"].split("?")[0].endswith("/drive/v3/files")


def _episode_seeds(interactions: list[dict[str, Any]], created: set[str]) -> dict[int, dict[str, tuple]]:
    """Episode start index -> files to seed: those the episode's first unfiltered Drive list shows."""
    starts = [i for i, it in enumerate(interactions) if _is_drive_create(it)] or [0]
    bounds = list(zip(starts, starts[1:] + [len(interactions)], strict=True))
    seeds: dict[int, dict[str, tuple]] = {}
    for start, end in bounds:
        for it in interactions[start:end]:
            uri = it["request"]["uri"]
            if it["request"]["method"] != "GET" or not uri.split("?")[0].endswith("/drive/v3/files") \
                    or "name+%3D" in uri or "name%20%3D" in uri:
                continue
            try:
                files = json.loads(it["response"]["body"]["string"]).get("files", [])
            except (ValueError, AttributeError):
                continue
            seeds[start] = {f["id"]: (f.get("name", ""), f.get("createdTime", ""), f.get("modifiedTime", ""))
                            for f in files if f.get("id") not in created}
            break
    return seeds


def replay_cassette(server: EmulatorServer, path: Path, session: requests.Session) -> list[Outcome]:
    data = json.loads(path.read_text(encoding="utf-8"))
    interactions = data["interactions"]
    server.state.reset()
    created = set()
    for it in interactions:
        body = it["response"]["body"].get("string") or ""
        if it["request"]["method"] == "POST" and it["request"]["uri"].split("?")[0].endswith("/drive/v3/files"):
            try:
                created.add(json.loads(body)["id"])
            except (ValueError, KeyError):
                pass
    seeds = _episode_seeds(interactions, created)
    listed = {fid for files in seeds.values() for fid in files}
    for it in interactions:
        m = SPREADSHEET_ID_RE.search(it["request"]["uri"])
        if m and m.group(1) not in created | listed and m.group(1) not in server.state.spreadsheets:
            server.state.add_private_spreadsheet(m.group(1))
    ids: dict[Any, Any] = {}
    outcomes = []
    seeded: set[str] = set()
    for index, it in enumerate(interactions):
        req, resp = it["request"], it["response"]
        if index in seeds:
            for fid in seeded:
                server.state.spreadsheets.pop(fid, None)
            seeded = set(seeds[index])
            for fid, (name, created_time, modified_time) in seeds[index].items():
                ss = server.state.create_spreadsheet(name, spreadsheet_id=fid)
                ss.created, ss.modified = created_time, modified_time
        parts = urlsplit(req["uri"])
        url_path = _substitute(parts.path, ids)
        query = _substitute(parts.query, ids)
        url = server.base_url + url_path + ("?" + query if query else "")
        raw_body = req.get("body")
        body_bytes = None
        kinds: list[str] = []
        if raw_body:
            try:
                parsed = json.loads(raw_body)
                kinds = _request_kinds(parsed)
                body_bytes = json.dumps(_substitute(parsed, ids)).encode()
            except ValueError:
                body_bytes = raw_body.encode() if isinstance(raw_body, str) else raw_body
        headers = {"Authorization": "Bearer replay"}
        ctype = (req.get("headers") or {}).get("Content-Type") or (req.get("headers") or {}).get("content-type")
        if ctype:
            headers["Content-Type"] = ctype[0]
        got = session.request(req["method"], url, data=body_bytes, headers=headers, timeout=30)
        rec_status = resp["status"]["code"]
        endpoint = endpoint_name(req["method"], parts.path)
        rec_text = resp["body"].get("string") or ""
        outcome = Outcome(path.name, index, req["method"], endpoint, kinds, False)
        try:
            rec_json = json.loads(rec_text) if rec_text else None
        except ValueError:
            rec_json = rec_text
        try:
            act_json = got.json() if got.content else None
        except ValueError:
            act_json = got.text
        if rec_json is not None and act_json is not None:
            _walk_learn(rec_json, act_json, ids)
        if got.status_code != rec_status:
            outcome.reason = f"status {got.status_code} != recorded {rec_status}: {got.text[:160]}"
        else:
            diff = first_difference(_normalise(_substitute(rec_json, ids)), _normalise(act_json))
            outcome.matched = diff is None
            outcome.reason = diff or ""
        outcomes.append(outcome)
    return outcomes


def replay_all(directory: Path, server: EmulatorServer | None = None) -> Report:
    own = server is None
    server = server or EmulatorServer(accept_any_token=True).start()
    previous = server.state.accept_any_token
    server.state.accept_any_token = True
    report = Report()
    try:
        with requests.Session() as session:
            for path in sorted(directory.glob("*.json")):
                report.outcomes.extend(replay_cassette(server, path, session))
    finally:
        server.state.accept_any_token = previous
        server.state.reset()
        if own:
            server.stop()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("-v", "--verbose", action="store_true", help="list every mismatch")
    args = parser.parse_args(argv)
    report = replay_all(args.directory)
    print(report.summary())
    if args.verbose:
        for o in report.outcomes:
            if not o.matched:
                print(f"MISMATCH {o.cassette}#{o.index} {o.method} {o.endpoint}: {o.reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
