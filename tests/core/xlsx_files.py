"""Crafted .xlsx files, written part by part with zipfile and XML by hand: what a hostile or an
unusual writer may produce, and openpyxl would not."""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def cell(ref: str, value: str, kind: str | None = None, style: int | None = None) -> str:
    """<c> of a value: `kind` is the t attribute (s, str, b, e, d, inlineStr); None a number."""
    attrs = f' r="{ref}"' if ref else ""
    attrs += f' t="{kind}"' if kind else ""
    attrs += f' s="{style}"' if style is not None else ""
    if kind == "inlineStr":
        return f"<c{attrs}><is><t>{escape(value)}</t></is></c>"
    return f"<c{attrs}><v>{escape(value)}</v></c>"


def row(number: int | None, *cells: str) -> str:
    attrs = f' r="{number}"' if number is not None else ""
    return f"<row{attrs}>{''.join(cells)}</row>"


def text_row(number: int, *values: str) -> str:
    """A row of inline strings from column A on."""
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return row(
        number, *(cell(f"{letters[i]}{number}", v, "inlineStr") for i, v in enumerate(values))
    )


def write_xlsx(
    path: Path,
    rows: str | Iterable[str] = "",
    *,
    shared: Iterable[str] = (),
    formats: Iterable[int] = (0,),
    custom_formats: dict[int, str] | None = None,
    date1904: bool = False,
    dimension: str | None = None,
    prefix: str = "",
    sheet: bytes | None = None,
    extra: dict[str, bytes] | None = None,
) -> Path:
    """Write a one-sheet workbook. `shared` are <si> elements as XML, `formats` the numFmtId of
    each cell style, `prefix` a namespace prefix for the sheet ("x"), `sheet` the sheet's XML
    itself, `extra` more parts by name."""
    rows_xml = rows if isinstance(rows, str) else "".join(rows)
    p = f"{prefix}:" if prefix else ""
    xmlns = f'xmlns:{prefix}="{MAIN}"' if prefix else f'xmlns="{MAIN}"'
    dim = f'<{p}dimension ref="{dimension}"/>' if dimension else ""
    if sheet is None:
        sheet = (
            f"{DECLARATION}<{p}worksheet {xmlns}>{dim}<{p}sheetData>"
            + rows_xml.replace("<", f"<{p}").replace(f"<{p}/", f"</{p}")
            + f"</{p}sheetData></{p}worksheet>"
        ).encode()
    custom = custom_formats or {}
    number_formats = "".join(
        f"<numFmt numFmtId={quoteattr(str(i))} formatCode={quoteattr(code)}/>"
        for i, code in custom.items()
    )
    xfs = "".join(f'<xf numFmtId="{i}" applyNumberFormat="1"/>' for i in formats)
    parts = {
        "[Content_Types].xml": f'{DECLARATION}<Types xmlns="http://schemas.openxmlformats.org/'
        'package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/>'
        "</Types>",
        "_rels/.rels": f'{DECLARATION}<Relationships xmlns="{RELS}"><Relationship Id="rId1" '
        f'Type="{DOC}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'{DECLARATION}<workbook xmlns="{MAIN}" xmlns:r="{DOC}">'
        + ('<workbookPr date1904="1"/>' if date1904 else "")
        + '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'{DECLARATION}<Relationships xmlns="{RELS}">'
        f'<Relationship Id="rId1" Type="{DOC}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{DOC}/styles" Target="styles.xml"/>'
        f'<Relationship Id="rId3" Type="{DOC}/sharedStrings" Target="/xl/sharedStrings.xml"/>'
        "</Relationships>",
        "xl/styles.xml": f'{DECLARATION}<styleSheet xmlns="{MAIN}"><numFmts>{number_formats}'
        '</numFmts><cellStyleXfs><xf numFmtId="0"/></cellStyleXfs>'
        f"<cellXfs>{xfs}</cellXfs></styleSheet>",
        "xl/sharedStrings.xml": f'{DECLARATION}<sst xmlns="{MAIN}">{"".join(shared)}</sst>',
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
        for name, text in parts.items():
            book.writestr(name, text)
        book.writestr("xl/worksheets/sheet1.xml", sheet)
        for name, data in (extra or {}).items():
            book.writestr(name, data)
    return path


def far_corner(path: Path) -> Path:
    """A header in row 1 and one value in the sheet's last cell, XFD1048576: 2 KB that made the
    previous reader (python-calamine) ask for a dense range of 512 GiB and abort the process."""
    return write_xlsx(
        path,
        text_row(1, "姓名", "身份证号") + row(1048576, cell("XFD1048576", "0", "s")),
        shared=["<si><t>某人</t></si>"],
    )
