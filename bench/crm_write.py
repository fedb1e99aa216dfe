"""Benchmark: writing N changed categories to each HTTP CRM emulator with its real rate limit.

    python bench/crm_write.py [--changed 10000] [--vendors amocrm bitrix24 hubspot] [--sample 20]

For each vendor: the project's loopback emulator (``sheets_sync_emulators.crm``) **in this
process, on a server thread on 127.0.0.1**, seeded with N companies and the category field
(created by the adapter's ``ensure_category_field``, not timed), its server-side limiter at the
vendor's documented policy and **starting empty** (a portal at rest, nothing else using the
account): amoCRM 7 requests per rolling second, Bitrix24 a leaky bucket of 50 draining 2 per
second, HubSpot 100 requests per rolling 10 s. A fresh adapter with its default pacing
(``rate_limit`` not set) then writes N changed categories with ``write_categories``, exactly as
the sync pass calls it. Printed, from the emulator's request log:

* requests: batch writes (target ``ceil(N / batch size)``) plus the metadata request the
  adapter makes to learn the category field's option ids (one, cached for the adapter's life;
  in a sync it is the one the CRM read already made);
* 429/503: answers of the vendor's limiter (target 0: pacing keeps us under the limit);
* wall: seconds for ``write_categories``; floor: the least time the server's limiter allows
  for that many requests from an empty limiter (sliding window L per W s: the request number
  k (0-based) cannot go before ``floor(k / L) * W``; leaky bucket of C draining r/s: not before
  ``max(0, k + 1 - C) / r``); target wall within 15 % of the floor (the sliding-window pacer
  keeps a headroom of 50 ms + 5 % of the window under the vendor's limit, so that a vendor
  counting at its own clock, with transit jitter, never sees one request too many: about 10 %
  for amoCRM's 1 s window, 5.5 % for HubSpot's 10 s);
* one record per request: the same writes with ``batch_size = 1``. Not run in full (10,000
  paced requests take 17-83 minutes): a sample of ``--sample`` single-record writes is timed
  with both limiters off to get the service time per request, and the full run is
  **extrapolated** as the larger of the limiter's floor for N + 1 requests and N times that
  service time (the floor is the larger for every vendor). The ratios are one-per-request over
  batched, for requests and for time.

Pacing: amoCRM and HubSpot pace with a sliding window of the vendor's limit (plus the headroom);
Bitrix24 with a
client-side twin of its leaky bucket (``rate_limit = "50/25s"``: 50, draining 2/s).
Bitrix24's 480 s-per-10-minutes operating-time budget is charged at 0 s per call by the
emulator (its default), so only the bucket limits this run.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sheets_sync.crm import CrmAdapter, CrmSettings, open_crm  # noqa: E402
from sheets_sync_emulators.crm import AmoCrmApp, App, Bitrix24App, EmulatorServer, HubSpotApp  # noqa: E402

CODES = ["A", "B", "C", "D", "E", "AA", "AAA", "EE", "EEE"]


@dataclass(frozen=True)
class Vendor:
    kind: str
    title: str
    make: Callable[[], App]
    token_env: str
    category: str
    fields: dict[str, str]
    batch: int
    limit: str  # the server's policy, as printed
    floor: Callable[[int], float]  # seconds the server's limiter needs for n requests
    write_paths: tuple[str, ...]  # log paths of batch writes
    limited: tuple[int, ...]  # statuses the vendor's limiter answers

    def seed(self, app: App, n: int) -> list[str]:
        ids = []
        if isinstance(app, AmoCrmApp):
            for i in range(n):
                ids.append(str(app.state.add_company(f"Компания {i}").id))
        elif isinstance(app, Bitrix24App):
            for i in range(n):
                ids.append(str(app.state.add_company(f"ООО Ромашка {i}").id))
        elif isinstance(app, HubSpotApp):
            for i in range(n):
                ids.append(app.state.add_company(name=f"Acme {i}").id)
        return ids

    def secret(self, app: App) -> str:
        if isinstance(app, Bitrix24App):
            return app.state.code
        return app.state.token  # type: ignore[attr-defined, no-any-return]

    def options(self, base_url: str) -> dict[str, Any]:
        url = f"{base_url}/rest/1/" if self.kind == "bitrix24" else base_url
        return {"url": url, "token_env": self.token_env, "category_field": self.category}

    def limiter(self, app: App, enabled: bool) -> None:
        """The server-side limiter on (fresh, empty) or off."""
        if isinstance(app, Bitrix24App):
            app.bucket.configure(enabled=enabled)
            app.operation.configure(enabled=enabled)
        else:
            app.limiter.configure(enabled=enabled)  # type: ignore[attr-defined]


def sliding(limit: int, window: float) -> Callable[[int], float]:
    return lambda n: math.floor((n - 1) / limit) * window if n > 0 else 0.0


def bucket(capacity: int, rate: float) -> Callable[[int], float]:
    return lambda n: max(0, n - capacity) / rate


VENDORS = {
    "amocrm": Vendor("amocrm", "amoCRM", AmoCrmApp, "AMOCRM_TOKEN", "SS_CATEGORY",
                     {"id": "id", "name": "name"}, 50, "7 / 1 s window", sliding(7, 1.0),
                     ("/api/v4/companies",), (429,)),
    "bitrix24": Vendor("bitrix24", "Bitrix24", Bitrix24App, "BITRIX24_WEBHOOK", "UF_CRM_SS_CATEGORY",
                       {"id": "ID", "name": "TITLE"}, 50, "bucket 50, 2/s", bucket(50, 2.0),
                       ("/batch.json",), (429, 503)),
    "hubspot": Vendor("hubspot", "HubSpot", HubSpotApp, "HUBSPOT_TOKEN", "client_category",
                      {"id": "id", "name": "name"}, 100, "100 / 10 s window", sliding(100, 10.0),
                      ("/batch/update",), (429,)),
}


def adapter(vendor: Vendor, base_url: str, **options: Any) -> CrmAdapter:
    return open_crm(CrmSettings(kind=vendor.kind, options={**vendor.options(base_url), **options},
                                base_dir=ROOT, id_field=vendor.fields["id"],
                                category_field=vendor.category,
                                fields=tuple(vendor.fields.values())))


@dataclass
class Row:
    vendor: Vendor
    changed: int
    writes: int
    meta: int
    limited: int
    wall: float
    floor: float
    correct: bool
    sample: int
    sample_wall: float
    single_requests: int
    single_wall: float


def changes_for(ids: list[str], shift: int) -> dict[str, str]:
    return {cid: CODES[(i + shift) % len(CODES)] for i, cid in enumerate(ids)}


def run(vendor: Vendor, n: int, sample: int) -> Row:
    app = vendor.make()
    with EmulatorServer(app) as server:
        os.environ[vendor.token_env] = vendor.secret(app)
        ids = vendor.seed(app, n)
        vendor.limiter(app, False)
        setup = adapter(vendor, server.base_url, rate_limit="off")
        setup.ensure_category_field(CODES)
        setup.close()

        # batched, paced, the server's limiter on and empty
        changes = changes_for(ids, 0)
        app.log.clear()
        vendor.limiter(app, True)
        crm = adapter(vendor, server.base_url)
        started = time.perf_counter()
        result = crm.write_categories(changes)
        wall = time.perf_counter() - started
        crm.close()
        entries = app.log.entries
        writes = sum(1 for e in entries if e.path.endswith(vendor.write_paths) and e.status not in vendor.limited
                     and e.method != "GET")
        limited = sum(1 for e in entries if e.status in vendor.limited)
        meta = len(entries) - writes - limited
        correct = not result.rejected and len(result.written) == n and all(
            _value(app, vendor, cid) == code for cid, code in changes.items())

        # one record per request: a sample, both limiters off, to get the service time
        vendor.limiter(app, False)
        single = adapter(vendor, server.base_url, batch_size=1, rate_limit="off")
        single.write_categories({})  # nothing: no request
        part = dict(list(changes_for(ids, 1).items())[:sample])
        single.write_categories(dict(list(part.items())[:1]))  # the metadata request, not timed
        app.log.clear()
        rest = dict(list(part.items())[1:])
        started = time.perf_counter()
        single.write_categories(rest)
        sample_wall = time.perf_counter() - started
        single.close()
        sampled = len(app.log.entries)
        per_request = sample_wall / max(sampled, 1)
        single_requests = n
        single_wall = max(vendor.floor(n + 1), n * per_request)
    return Row(vendor, n, writes, meta, limited, wall, vendor.floor(writes + meta), correct, sampled,
               sample_wall, single_requests, single_wall)


def _value(app: App, vendor: Vendor, cid: str) -> Any:
    return app.state.value_of(cid, vendor.category)  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--changed", type=int, default=10_000, help="changed categories to write (N)")
    parser.add_argument("--vendors", nargs="+", choices=sorted(VENDORS), default=sorted(VENDORS))
    parser.add_argument("--sample", type=int, default=20,
                        help="single-record writes timed to extrapolate one record per request")
    args = parser.parse_args(argv)
    if args.changed < 1 or args.sample < 2:
        parser.error("--changed must be at least 1 and --sample at least 2")
    print(f"Writing {args.changed:,} changed categories; server limiters at the vendors' policies, "
          "starting empty; client pacing at the adapters' defaults.\n")
    head = (f"{'CRM':<9} {'limit':<17} {'batch':>5} {'writes':>6} {'target':>6} {'meta':>4} {'429/503':>7} "
            f"{'wall s':>7} {'floor s':>7} {'wall/floor':>10} {'ok':>3} | {'1/req requests':>14} "
            f"{'1/req s*':>8} | {'× requests':>10} {'× time':>7}")
    print(head)
    print("-" * len(head))
    failures = []
    for name in args.vendors:
        row = run(VENDORS[name], args.changed, min(args.sample, args.changed))
        target = math.ceil(row.changed / row.vendor.batch)
        requests = row.writes + row.meta
        ratio = row.wall / row.floor if row.floor else float("nan")
        print(f"{row.vendor.title:<9} {row.vendor.limit:<17} {row.vendor.batch:>5} {row.writes:>6} {target:>6} "
              f"{row.meta:>4} {row.limited:>7} {row.wall:>7.1f} {row.floor:>7.1f} {ratio:>10.2f} "
              f"{'yes' if row.correct else 'NO':>3} | {row.single_requests:>14,} {row.single_wall:>8.0f} | "
              f"{row.single_requests / requests:>10.1f} {row.single_wall / row.wall:>7.1f}")
        if row.writes != target:
            failures.append(f"{row.vendor.title}: {row.writes} batch writes, target {target}")
        if row.limited:
            failures.append(f"{row.vendor.title}: {row.limited} answers of the vendor's limiter")
        if row.floor >= 5 and row.wall > row.floor * 1.15:
            failures.append(f"{row.vendor.title}: wall {row.wall:.1f} s is more than 15 % over the floor "
                            f"{row.floor:.1f} s")
        if not row.correct:
            failures.append(f"{row.vendor.title}: the CRM does not hold every written category")
    print("\nwrites: batch write requests; meta: the category field's metadata request (once per adapter).")
    print("floor: least time the server's limiter allows for writes + meta requests from an empty limiter; "
          "the 15 % target is judged when the floor is 5 s or more.")
    print("* one record per request: extrapolated, not run: max(limiter floor for N + 1 requests, N × the "
          f"service time of a {args.sample}-request sample timed with the limiters off).")
    for failure in failures:
        print(f"MISSED TARGET: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
