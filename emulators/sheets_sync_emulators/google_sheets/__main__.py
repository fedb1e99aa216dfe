"""``python -m sheets_sync_emulators.google_sheets [--port N] [--strict-auth]``.

Prints the base URL on the first line of stdout, then serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys

from .server import EmulatorServer
from .state import EmulatorState


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sheets_sync_emulators.google_sheets",
                                     description="Google Sheets v4 / Drive v3 emulator on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: any free port)")
    parser.add_argument("--strict-auth", action="store_true",
                        help="require tokens issued by the emulator's /token endpoint "
                             "(default: accept any Bearer token)")
    parser.add_argument("--spreadsheet", metavar="TITLE", action="append", default=[],
                        help="create a spreadsheet with this title at start-up (repeatable); its id is printed")
    parser.add_argument("--write-credentials", metavar="PATH",
                        help="write a service-account key file for this emulator (a fresh RSA key, token_uri "
                             "pointing here, the key registered) to PATH, for a config's [sheet] credentials")
    args = parser.parse_args(argv)
    state = EmulatorState(accept_any_token=not args.strict_auth)
    server = EmulatorServer(state, port=args.port).start()
    print(server.base_url, flush=True)
    for title in args.spreadsheet:
        ss = state.create_spreadsheet(title)
        print(f"spreadsheet {ss.id} {title}", flush=True)
    if args.write_credentials:
        write_credentials(state, server.token_uri, args.write_credentials)
        print(f"credentials {args.write_credentials}", flush=True)
    print(f"token endpoint: {server.token_uri}  (auth: {'strict' if args.strict_auth else 'any Bearer token'})",
          file=sys.stderr, flush=True)
    server.serve_until_interrupted()
    return 0


def write_credentials(state: EmulatorState, token_uri: str, path: str,
                      email: str = "sheets-sync@emulator.iam.gserviceaccount.com") -> None:
    """A service-account JSON whose key the emulator trusts (mode 600: it holds a private key)."""
    import json
    import os

    from .auth import new_key_pair, service_account_info

    private, public = new_key_pair()
    state.register_service_account(email, public)
    info = service_account_info(email, private, token_uri)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(info, fh, indent=2)


if __name__ == "__main__":
    sys.exit(main())
