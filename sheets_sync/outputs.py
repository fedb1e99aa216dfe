"""Outputs of one-off commands never replace the files a sync lives on.

``categorize --out``, ``export --out`` and ``report review --out`` write files a person names;
naming the shared workbook, the state store, the rules or the config by mistake would destroy
what owners decided. Those paths are refused with one message before anything is read.
"""

from __future__ import annotations

from pathlib import Path

from .errors import ConfigError


def own_files(config_path: str | Path | None) -> dict[Path, str]:
    """The files the config (given, or ./sheets-sync.toml if there is one) lives on."""
    from .config import DEFAULT_NAME, load_config

    candidate = Path(config_path) if config_path else Path.cwd() / DEFAULT_NAME
    if not candidate.is_file():
        return {}
    try:
        config = load_config(candidate)
    except ConfigError:
        return {candidate.resolve(): "the config"}
    files = {config.path: "the config", config.rules_path: "the rules",
             config.state_path: "the state store (history, manual categories)"}
    if config.sheet.kind == "workbook":
        files[(config.base_dir / config.sheet.target)] = "the shared workbook"
    crm_path = config.crm.options.get("path")
    if isinstance(crm_path, str) and crm_path:
        files[config.base_dir / crm_path] = "the CRM"
    return {p.resolve(): what for p, what in files.items()}


def refuse_own_files(output: Path, config_path: str | Path | None, option: str = "--out") -> None:
    """Raise when ``output`` is one of the config's own files."""
    files = own_files(config_path)
    what = files.get(output.resolve())
    if what is None and output.exists():  # the same file under another spelling (a case-insensitive disk, a link)
        what = next((w for p, w in files.items() if p.exists() and _same(p, output)), None)
    if what is not None:
        raise ConfigError(f"{option} {output} is {what} of this config: writing there would replace it. "
                          "Choose another file name. Nothing was written.")


def _same(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False
