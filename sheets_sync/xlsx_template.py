"""Reading and rewriting an ``.xlsx`` template at the level of its zip parts.

:class:`_Template` reads the workbook's sheets, defined names and shared strings, finds the
clients' header row by the defined name ``ClientsHeader``, rewrites ``workbook.xml`` (defined
names, full recalculation on load) and copies the zip with some parts replaced, every other
part byte for byte. :class:`_Styles` appends cell formats and conditional-format fills to
``styles.xml``. The helpers splice a sheet's XML around its ``sheetData`` and insert
conditional formats and validation where the schema wants them. Used by :mod:`.excel`.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

from openpyxl.utils import column_index_from_string, get_column_letter

from .errors import InputError

HEADER_NAME = "ClientsHeader"

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_NS = {"m": MAIN, "r": REL, "p": PKG_REL}
@dataclass
class _Sheet:
    name: str
    path: str  # zip member
    header_row: int = 1
    first_col: int = 1
    last_col: int = 1


class _Template:
    def __init__(self, path: Path, zf: zipfile.ZipFile) -> None:
        self.path, self.zf = path, zf
        self.names = set(zf.namelist())
        self.workbook = self.read("xl/workbook.xml")
        root = ET.fromstring(self.workbook)
        rels = ET.fromstring(self.read("xl/_rels/workbook.xml.rels"))
        targets = {r.get("Id"): r.get("Target", "") for r in rels.findall("p:Relationship", _NS)}
        self.sheets: dict[str, str] = {}
        self.order: list[str] = []
        for s in root.findall("m:sheets/m:sheet", _NS):
            target = targets.get(s.get(f"{{{REL}}}id"), "")
            target = target.lstrip("/") if target.startswith("/") else "xl/" + target
            self.sheets[s.get("name", "")] = target
            self.order.append(s.get("name", ""))
        self.defined = {d.get("name"): (d.text or "") for d in root.findall("m:definedNames/m:definedName", _NS)
                        if d.get("localSheetId") is None}
        self.shared = self._shared_strings()

    @classmethod
    def open(cls, path: Path) -> _Template:
        try:
            zf = zipfile.ZipFile(path)
            return cls(path, zf)
        except FileNotFoundError:
            raise InputError(f"Template {path} does not exist.") from None
        except (zipfile.BadZipFile, KeyError, ET.ParseError, OSError) as exc:
            raise InputError(f"Template {path} cannot be read as an .xlsx workbook ({exc}); save "
                             "it from Excel as .xlsx.") from exc

    def read(self, member: str) -> str:
        return self.zf.read(member).decode("utf-8")

    def _shared_strings(self) -> list[str]:
        if "xl/sharedStrings.xml" not in self.names:
            return []
        root = ET.fromstring(self.read("xl/sharedStrings.xml"))
        return ["".join(t.text or "" for t in si.iter(f"{{{MAIN}}}t")) for si in root.findall("m:si", _NS)]

    def sheet(self, name: str, why: str) -> _Sheet:
        if name not in self.sheets:
            raise InputError(f"Template {self.path.name} has no sheet {name!r}. Add an empty sheet "
                             f"named {name}: {why}.")
        return _Sheet(name, self.sheets[name])

    def clients_sheet(self) -> _Sheet:
        text = self.defined.get(HEADER_NAME)
        if not text:
            raise InputError(
                f"Template {self.path.name} does not say where the clients go. Define the name "
                f"{HEADER_NAME} over the header row of the sheet that should hold them (Excel: "
                f"Formulas > Name Manager > New, e.g. {HEADER_NAME} = Clients!$A$1:$AA$1).")
        m = re.fullmatch(r"'?(.+?)'?!\$?([A-Z]+)\$?(\d+)(?::\$?([A-Z]+)\$?(\d+))?", text.strip())
        if not m or (m.group(5) and m.group(5) != m.group(3)):
            raise InputError(f"Template {self.path.name}: the name {HEADER_NAME} is {text!r}; make it "
                             "one header row, e.g. Clients!$A$1:$AA$1.")
        name = m.group(1).replace("''", "'")
        sheet = self.sheet(name, f"{HEADER_NAME} points to it")
        sheet.header_row = int(m.group(3))
        sheet.first_col = column_index_from_string(m.group(2))
        sheet.last_col = column_index_from_string(m.group(4) or m.group(2))
        return sheet

    def charts(self) -> list[str]:
        return sorted(n for n in self.names if re.fullmatch(r"xl/charts/chart\d+\.xml", n))

    def row_cells(self, xml: str, row: int) -> dict[int, dict[str, str]]:
        """Cells of one row: column -> {"s": style, "v": text value, "f": formula}."""
        m = re.search(rf'<row\b[^>]*\br="{row}"[^>]*?(?:/>|>(.*?)</row>)', xml, re.S)
        out: dict[int, dict[str, str]] = {}
        if not m or not m.group(1):
            return out
        for c in re.finditer(r"<c\b([^>]*?)(?:/>|>(.*?)</c>)", m.group(1), re.S):
            attrs = dict(re.findall(r'(\w+)="([^"]*)"', c.group(1)))
            ref = re.match(r"([A-Z]+)", attrs.get("r", ""))
            if not ref:
                continue
            body = c.group(2) or ""
            cell = {"s": attrs.get("s", "")}
            f = re.search(r"<f\b[^>]*>(.*?)</f>", body, re.S)
            if f:
                cell["f"] = _unescape(f.group(1))
            if attrs.get("t") == "s":
                v = re.search(r"<v>(.*?)</v>", body)
                cell["v"] = self.shared[int(v.group(1))] if v else ""
            elif attrs.get("t") == "inlineStr":
                cell["v"] = _unescape("".join(re.findall(r"<t\b[^>]*>(.*?)</t>", body, re.S)))
            else:
                v = re.search(r"<v>(.*?)</v>", body)
                cell["v"] = _unescape(v.group(1)) if v else ""
            out[column_index_from_string(ref.group(1))] = cell
        return out

    def workbook_xml(self, names: Mapping[str, str], clients: _Sheet, last_col: int,
                     last_row: int) -> str:
        xml = self.workbook
        for name in names:
            xml = re.sub(rf'<definedName\b[^>]*\bname="{re.escape(name)}"[^>]*>.*?</definedName>', "", xml,
                         flags=re.S | re.I)
        entries = "".join(f'<definedName name="{n}">{_escape(ref)}</definedName>' for n, ref in names.items())
        if "</definedNames>" in xml:
            xml = xml.replace("</definedNames>", entries + "</definedNames>", 1)
        elif "<definedNames/>" in xml:
            xml = xml.replace("<definedNames/>", f"<definedNames>{entries}</definedNames>", 1)
        else:
            xml = xml.replace("</sheets>", f"</sheets><definedNames>{entries}</definedNames>", 1)
        index = self.order.index(clients.name)
        first = get_column_letter(clients.first_col)
        span = f"'{_quote(clients.name)}'!${first}${clients.header_row}:${get_column_letter(last_col)}${last_row}"

        def fit_filter(m: re.Match[str]) -> str:
            attrs = m.group(1)
            if 'name="_xlnm._FilterDatabase"' in attrs and f'localSheetId="{index}"' in attrs:
                return f"<definedName{attrs}>{_escape(span)}</definedName>"
            return m.group(0)

        xml = re.sub(r"<definedName\b([^>]*)>(.*?)</definedName>", fit_filter, xml, flags=re.S)
        return full_calc_on_load(xml, rewrite=True)

    def write(self, out: Path, parts: Mapping[str, bytes | Iterator[bytes]]) -> None:
        """Copy the template to ``out`` with ``parts`` replaced; the calculation chain is
        dropped (Excel rebuilds it), everything else is copied byte for byte."""
        out = Path(out)
        tmp = out.with_name(f".~{out.name}")
        drop = {"xl/calcChain.xml"}
        try:
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as dst:
                copy_parts(self.zf, dst, parts, drop)
            tmp.replace(out)
        except OSError as exc:
            raise InputError(f"{out}: cannot write: {exc.strerror or exc}") from exc
        finally:
            if tmp.exists():
                tmp.unlink()


def copy_parts(src: zipfile.ZipFile, dst: zipfile.ZipFile, parts: Mapping[str, bytes | Iterator[bytes]],
               drop: set[str]) -> None:
    """Copy every part of ``src`` into ``dst`` in order, ``parts`` replaced; a dropped
    ``calcChain.xml`` also leaves ``[Content_Types].xml`` and the workbook's relationships.
    Every other part is copied byte for byte."""
    for info in src.infolist():
        if info.filename in drop:
            continue
        body = parts.get(info.filename)
        if body is None:
            data = src.read(info.filename)
            if "xl/calcChain.xml" in drop and info.filename == "[Content_Types].xml":
                data = re.sub(rb'<Override\b[^>]*calcChain[^>]*/>', b"", data)
            elif "xl/calcChain.xml" in drop and info.filename == "xl/_rels/workbook.xml.rels":
                data = re.sub(rb'<Relationship\b[^>]*calcChain[^>]*/>', b"", data)
            dst.writestr(info, data, compress_type=info.compress_type)
        elif isinstance(body, bytes):
            dst.writestr(info.filename, body)
        else:
            with dst.open(info.filename, "w", force_zip64=True) as stream:
                for chunk in body:
                    stream.write(chunk)


def full_calc_on_load(xml: str, rewrite: bool = False) -> str:
    """``workbook.xml`` with ``fullCalcOnLoad="1"``: unchanged when it has it already, unless
    ``rewrite`` (the export moves the attribute to the end)."""
    if not rewrite and re.search(r'<calcPr\b[^>]*\bfullCalcOnLoad="(1|true)"', xml):
        return xml
    if re.search(r"<calcPr\b", xml):
        return re.sub(r"<calcPr\b([^>]*?)\s*(/?)>", lambda m: "<calcPr" + re.sub(
            r'\s*fullCalcOnLoad="[^"]*"', "", m.group(1)) + f' fullCalcOnLoad="1"{m.group(2)}>', xml, count=1)
    if "</definedNames>" in xml:
        return xml.replace("</definedNames>", '</definedNames><calcPr fullCalcOnLoad="1"/>', 1)
    return _insert_before(xml, _AFTER_CALC, '<calcPr fullCalcOnLoad="1"/>')


_AFTER_CALC = ("<oleSize", "<customWorkbookViews", "<pivotCaches", "<smartTagPr", "<smartTagTypes",
               "<webPublishing", "<fileRecoveryPr", "<webPublishObjects", "<extLst", "</workbook>")


_ESCAPE = {ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;", ord('"'): "&quot;",
           **{c: None for c in [*range(0, 9), 11, 12, *range(14, 32)]}}


def _escape(text: str) -> str:
    return text.translate(_ESCAPE)


def _unescape(text: str) -> str:
    return (text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
            .replace("&apos;", "'").replace("&amp;", "&"))


def _quote(name: str) -> str:
    return name.replace("'", "''")


def _split(xml: str, what: str) -> tuple[str, str, str]:
    """``(head, rows, tail)`` around the sheet's ``sheetData``."""
    m = re.search(r"<sheetData\s*/>|<sheetData>(.*?)</sheetData>", xml, re.S)
    if not m:
        raise InputError(f"{what}: the sheet XML has no sheetData; save the template from Excel "
                         "or LibreOffice as .xlsx.")
    return xml[:m.start()], m.group(1) or "", xml[m.end():]


def _kept_rows(rows: str, upto: int, extra_header: str = "") -> str:
    """The template's rows up to ``upto`` (the header), with ``extra_header`` cells appended
    to the header row."""
    kept = []
    for m in re.finditer(r"<row\b([^>]*?)(/>|>(.*?)</row>)", rows, re.S):
        r = int(re.search(r'\br="(\d+)"', m.group(1)).group(1))  # type: ignore[union-attr]
        if r > upto:
            break
        if r == upto and extra_header:
            attrs = re.sub(r'\s*spans="[^"]*"', "", m.group(1))
            kept.append(f"<row{attrs}>{m.group(3) or ''}{extra_header}</row>")
        else:
            kept.append(m.group(0))
    if extra_header and not any(re.search(rf'\br="{upto}"', k[:60]) for k in kept):
        kept.append(f'<row r="{upto}">{extra_header}</row>')
    return "".join(kept)


def _with_dimension(head: str, ref: str) -> str:
    if "<dimension" in head:
        return re.sub(r'<dimension\b[^>]*/>', f'<dimension ref="{ref}"/>', head, count=1)
    return head


_AFTER_CF = ("<dataValidations", "<hyperlinks", "<printOptions", "<pageMargins", "<pageSetup",
             "<headerFooter", "<rowBreaks", "<colBreaks", "<customProperties", "<cellWatches",
             "<ignoredErrors", "<smartTags", "<drawing", "<legacyDrawing", "<picture", "<oleObjects",
             "<controls", "<webPublishItems", "<tableParts", "<extLst", "</worksheet>")


def _insert_before(tail: str, markers: Sequence[str], text: str) -> str:
    positions = [tail.find(m) for m in markers if tail.find(m) >= 0]
    at = min(positions) if positions else len(tail)
    return tail[:at] + text + tail[at:]


def _add_formats(tail: str, cf: str, dv: str) -> str:
    if cf:
        ends = [m.end() for m in re.finditer(r"</conditionalFormatting>", tail)]
        tail = tail[:ends[-1]] + cf + tail[ends[-1]:] if ends else _insert_before(tail, _AFTER_CF, cf)
    if dv:
        m = re.search(r'<dataValidations\b[^>]*count="(\d+)"[^>]*>', tail)
        if m:
            count = int(m.group(1)) + 1
            head = m.group(0).replace(f'count="{m.group(1)}"', f'count="{count}"')
            tail = tail[:m.start()] + head + tail[m.end():]
            tail = tail.replace("</dataValidations>", dv + "</dataValidations>", 1)
        else:
            tail = _insert_before(tail, _AFTER_CF[1:], f'<dataValidations count="1">{dv}</dataValidations>')
    return tail


def _max_priority(xml: str) -> int:
    return max((int(p) for p in re.findall(r'<cfRule\b[^>]*priority="(\d+)"', xml)), default=0)


class _Styles:
    """Appends cell formats and conditional-format fills to the template's styles.xml."""

    def __init__(self, xml: str) -> None:
        self.text = xml
        self.xfs: dict[int, int] = {}
        self.dxfs: dict[str, int] = {}
        self.new_xfs: list[str] = []
        self.new_dxfs: list[str] = []
        m = re.search(r'<cellXfs\b[^>]*count="(\d+)"', xml)
        self.xf_count = int(m.group(1)) if m else len(re.findall(r"<xf\b", _section(xml, "cellXfs")))
        m = re.search(r'<dxfs\b[^>]*count="(\d+)"', xml)
        self.dxf_count = int(m.group(1)) if m else 0

    def number_xf(self, fmt: int) -> int:
        if fmt not in self.xfs:
            self.xfs[fmt] = self.xf_count + len(self.new_xfs)
            self.new_xfs.append(f'<xf numFmtId="{fmt}" fontId="0" fillId="0" borderId="0" xfId="0" '
                                'applyNumberFormat="1"/>')
        return self.xfs[fmt]

    def fill_dxf(self, colour: str) -> int:
        if colour not in self.dxfs:
            self.dxfs[colour] = self.dxf_count + len(self.new_dxfs)
            rgb = "FF" + colour.lstrip("#").upper()
            self.new_dxfs.append(f'<dxf><fill><patternFill patternType="solid"><fgColor rgb="{rgb}"/>'
                                 f'<bgColor rgb="{rgb}"/></patternFill></fill></dxf>')
        return self.dxfs[colour]

    def xml(self) -> str:
        xml = self.text
        if self.new_xfs:
            total = self.xf_count + len(self.new_xfs)
            xml = re.sub(r'(<cellXfs\b[^>]*count=")\d+', rf"\g<1>{total}", xml, count=1)
            xml = xml.replace("</cellXfs>", "".join(self.new_xfs) + "</cellXfs>", 1)
        if self.new_dxfs:
            total = self.dxf_count + len(self.new_dxfs)
            items = "".join(self.new_dxfs)
            if re.search(r"<dxfs\b[^>]*/>", xml):
                xml = re.sub(r"<dxfs\b[^>]*/>", f'<dxfs count="{total}">{items}</dxfs>', xml, count=1)
            elif "</dxfs>" in xml:
                xml = re.sub(r'(<dxfs\b[^>]*count=")\d+', rf"\g<1>{total}", xml, count=1)
                xml = xml.replace("</dxfs>", items + "</dxfs>", 1)
            else:
                at = min([p for p in (xml.find("<tableStyles"), xml.find("<colors"), xml.find("<extLst"),
                                      xml.find("</styleSheet>")) if p >= 0])
                xml = xml[:at] + f'<dxfs count="{total}">{items}</dxfs>' + xml[at:]
        return xml


def _section(xml: str, tag: str) -> str:
    m = re.search(rf"<{tag}\b.*?</{tag}>", xml, re.S)
    return m.group(0) if m else ""
