"""``python -m sheets_sync_emulators.crm amocrm|bitrix24|hubspot [--port N] [--companies N]
[--deals N] [--as-of YYYY-MM-DD] [--seed N]``.

Starts one emulator on 127.0.0.1, seeds a few demo companies (and, with ``--deals``, demo deals
over them: amoCRM leads, Bitrix24 deals, HubSpot deals, the same for the same ``--seed`` and
``--as-of``), prints its base URL and the token or webhook to put in ``sheets-sync.toml``, and
serves until Ctrl+C.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys

from . import EMULATORS, AmoCrmApp, Bitrix24App, EmulatorServer, HubSpotApp
from .core import App
from .deals import DEMO_AS_OF


def seed(app: App, count: int, rng: random.Random) -> None:
    """Demo companies with revenue, costs and orders in each vendor's own field kinds."""
    for i in range(count):
        revenue = rng.randrange(50, 5000) * 1000
        costs = int(revenue * rng.uniform(0.3, 1.1))
        orders = rng.randrange(0, 30)
        name = f"Demo company {i + 1}"
        if isinstance(app, AmoCrmApp):
            if i == 0:
                for code, label in (("REVENUE", "Выручка"), ("COSTS", "Затраты"),
                                    ("ORDERS_12M", "Заказы за 12 мес.")):
                    app.state.add_field(label, "numeric", code=code)
            app.state.add_company(name, {"REVENUE": revenue, "COSTS": costs,
                                         "ORDERS_12M": orders})
        elif isinstance(app, Bitrix24App):
            if i == 0:
                app.state.add_userfield("COSTS", "double", "Затраты")
                app.state.add_userfield("ORDERS_12M", "integer", "Заказы за 12 мес.")
            app.state.add_company(name, REVENUE=revenue, UF_CRM_COSTS=costs,
                                  UF_CRM_ORDERS_12M=orders)
        elif isinstance(app, HubSpotApp):
            if i == 0:
                app.state.add_property("costs", "Costs", "number", "number")
                app.state.add_property("orders_12m", "Orders (12 months)", "number", "number")
            app.state.add_company(name=name, annualrevenue=revenue, costs=costs,
                                  orders_12m=orders)


def seed_deals(app: App, count: int, seed: int = 1, as_of: dt.date | None = None) -> int:
    """``count`` demo deals over the app's companies, deterministic for ``seed`` and ``as_of``
    (see :mod:`.deals`); returns how many were added."""
    if isinstance(app, AmoCrmApp | Bitrix24App | HubSpotApp):
        return len(app.state.seed_deals(count, seed=seed, as_of=as_of))
    raise TypeError(f"no deals for {type(app).__name__}")


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-01") from None


def describe(kind: str, app: App, base_url: str) -> str:
    if isinstance(app, Bitrix24App):
        return (f"{kind} emulator at {base_url}\n"
                f"  [crm] kind = \"bitrix24\", url = \"{base_url}/rest/{app.state.user_id}/\"\n"
                f"  webhook code (export BITRIX24_WEBHOOK=...): {app.state.code}\n"
                f"  full webhook: {base_url}/rest/{app.state.user_id}/{app.state.code}/")
    if isinstance(app, AmoCrmApp):
        return (f"{kind} emulator at {base_url}\n"
                f"  [crm] kind = \"{kind}\", url = \"{base_url}\"\n"
                f"  token (export AMOCRM_TOKEN=...): {app.state.token}")
    assert isinstance(app, HubSpotApp)
    return (f"{kind} emulator at {base_url}\n"
            f"  [crm] kind = \"hubspot\", url = \"{base_url}\"\n"
            f"  token (export HUBSPOT_TOKEN=...): {app.state.token}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sheets_sync_emulators.crm",
                                     description="Run a loopback CRM API emulator.")
    parser.add_argument("kind", choices=sorted(EMULATORS))
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--companies", type=int, default=25, help="demo companies to seed")
    parser.add_argument("--deals", type=int, default=0,
                        help="demo deals to seed over the companies (amoCRM leads, Bitrix24 "
                             "and HubSpot deals; won, lost and open)")
    parser.add_argument("--as-of", type=_date, default=None, metavar="YYYY-MM-DD",
                        help="the demo deals' last day (default: 2026-11-01, so the same "
                             "arguments give the same deals on any day)")
    parser.add_argument("--seed", type=int, default=1, help="random seed for the demo data")
    parser.add_argument("--no-rate-limit", action="store_true",
                        help="switch the vendor's rate limiter off")
    args = parser.parse_args(argv)
    app = EMULATORS[args.kind]()
    if args.companies < 0 or args.deals < 0:
        parser.error("--companies and --deals take a count of 0 or more")
    seed(app, args.companies, random.Random(args.seed))
    if args.deals:
        seed_deals(app, args.deals, seed=args.seed, as_of=args.as_of)
    if args.no_rate_limit:
        for limiter in ("limiter", "bucket"):
            if hasattr(app, limiter):
                getattr(app, limiter).configure(enabled=False)
    server = EmulatorServer(app, port=args.port).start()
    print(describe(args.kind, app, server.base_url), flush=True)
    if args.deals:
        print(f"  {args.deals} demo deals over {args.companies} companies, up to "
              f"{(args.as_of or DEMO_AS_OF).isoformat()} (seed {args.seed})", flush=True)
    server.serve_until_interrupted()
    return 0


if __name__ == "__main__":
    sys.exit(main())
