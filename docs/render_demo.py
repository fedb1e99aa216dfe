"""Render the demo workbook, Russian and English, to the PNG pictures in docs/.

    python docs/render_demo.py [OUT_DIR]

Needs LibreOffice (``soffice``) to print each tab to PDF, as an owner's spreadsheet program shows
it (colours, header notes' markers, number formats), and ``pypdfium2`` (``pip install
pypdfium2``) to turn the PDF page into a PNG. A development tool, not part of the package.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

import openpyxl

from sheets_sync.config import load_config
from sheets_sync.demo import create_demo
from sheets_sync.sync import open_context, run_sync

TODAY = "2026-11-23T10:00:00"
#: tab (by its place) -> the columns and rows shown
VIEWS = {"clients": (0, "A1:I21"), "legend": (2, "A1:F16")}


def sync(config: Path) -> None:
    ctx = open_context(load_config(config))
    try:
        run_sync(ctx)
    finally:
        ctx.crm.close()
        ctx.state.close()


def make_demo(folder: Path, language: str) -> Path:
    paths = create_demo(folder, clients=300, today=date(2026, 11, 23), language=language)
    sync(paths["config"])
    book = openpyxl.load_workbook(paths["workbook"])  # an owner's decisions: a manual category, a note
    ws = book.worksheets[0]
    header = [c.value for c in ws[1]]
    ws.cell(row=4, column=header.index(header[3]) + 1, value="В")  # a Cyrillic В, read as B
    ws.cell(row=5, column=header.index(header[7]) + 1,
            value="звонить по пятницам" if language == "ru" else "call on Fridays")
    book.save(paths["workbook"])
    sync(paths["config"])
    return paths["workbook"]


def render(workbook: Path, index: int, area: str, png: Path, work: Path) -> None:
    book = openpyxl.load_workbook(workbook)
    keep = book.worksheets[index]
    for ws in list(book.worksheets):
        if ws is not keep:
            book.remove(ws)
    keep.print_area = area
    keep.page_setup.orientation = "landscape"
    keep.page_setup.fitToWidth = 1
    keep.page_setup.fitToHeight = 1
    keep.sheet_properties.pageSetUpPr.fitToPage = True
    keep.print_options.gridLines = True
    single = work / f"{png.stem}.xlsx"
    book.save(single)
    profile = (work / "lo-profile").as_uri()
    subprocess.run(["soffice", f"-env:UserInstallation={profile}", "--headless", "--convert-to", "pdf",
                    "--outdir", str(work), str(single)], check=True, capture_output=True, timeout=300)
    import pypdfium2

    pdf = pypdfium2.PdfDocument(str(work / f"{png.stem}.pdf"))
    page = pdf[0]
    image = page.render(scale=2.2).to_pil()
    bbox = _content(image)
    image.crop(bbox).save(png, optimize=True)
    pdf.close()


def _content(image) -> tuple[int, int, int, int]:  # type: ignore[no-untyped-def]
    """The picture without the page's white margins."""
    from PIL import ImageOps

    grey = ImageOps.invert(image.convert("L"))
    box = grey.point(lambda v: 255 if v > 8 else 0).getbbox() or (0, 0, *image.size)
    pad = 12
    return (max(box[0] - pad, 0), max(box[1] - pad, 0), min(box[2] + pad, image.size[0]),
            min(box[3] + pad, image.size[1]))


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent
    os.environ["SHEETS_SYNC_NOW"] = TODAY
    if shutil.which("soffice") is None:
        sys.exit("LibreOffice (soffice) is needed to render the pictures")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for language in ("ru", "en"):
            workbook = make_demo(work / language, language)
            for view, (index, area) in VIEWS.items():
                png = out / f"demo-{language}-{view}.png"
                render(workbook, index, area, png, work)
                print(png)


if __name__ == "__main__":
    main()
