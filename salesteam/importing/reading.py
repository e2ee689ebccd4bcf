"""Reads an uploaded CSV or XLSX file as a stream of rows, never whole into memory.

`inspect_file` looks at a file once (format, encoding, delimiter, headers, row count and the distinct
values of low-cardinality columns for the stage mapping); `iter_rows` then yields its data rows with
their line numbers. Any problem with the file as a whole raises `FileProblem` with one clear message.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

DELIMITERS = ",;\t"
SAMPLE_BYTES = 64 * 1024
CHUNK_BYTES = 1024 * 1024
MAX_DISTINCT = 50
XLSX_MAGIC = b"PK\x03\x04"


class FileProblem(ValidationError):
    """The file as a whole cannot be imported (empty, undecodable, unknown delimiter, ...)."""


@dataclass
class FileInfo:
    format: str = "csv"
    encoding: str = "utf-8"
    delimiter: str = ","
    headers: list[str] = field(default_factory=list)
    total_rows: int = 0
    column_values: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FileInfo:
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})


def _detect_encoding(raw: IO[bytes]) -> str:
    """UTF-8 (with or without BOM) when the whole file decodes as such, else cp1252."""
    raw.seek(0)
    head = raw.read(4)
    if head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    else:
        encoding = "utf-8"
    raw.seek(0)
    for candidate in (encoding, "cp1252"):
        decoder = codecs.getincrementaldecoder(candidate)()
        try:
            while chunk := raw.read(CHUNK_BYTES):
                if b"\x00" in chunk:
                    raise UnicodeDecodeError(candidate, chunk, 0, 1, "NUL byte")
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raw.seek(0)
            continue
        raw.seek(0)
        return candidate
    raise FileProblem(
        _("The file could not be read: save it as UTF-8 or Windows-1252 (cp1252) CSV, or XLSX.")
    )


def _detect_delimiter(sample: str) -> str:
    lines = [line for line in sample.splitlines() if line.strip()]
    if not lines:
        raise FileProblem(_("The file is empty."))
    header = lines[0]
    try:
        delimiter = csv.Sniffer().sniff("\n".join(lines[:50]), delimiters=DELIMITERS).delimiter
    except csv.Error:
        delimiter = ""
    if len(delimiter) != 1 or delimiter not in DELIMITERS or delimiter not in header:
        counts = {candidate: header.count(candidate) for candidate in DELIMITERS}
        delimiter = max(counts, key=counts.get)
        if counts[delimiter] == 0:
            raise FileProblem(
                _("The columns could not be told apart: separate them with a comma, a semicolon or a tab.")
            )
    return delimiter


def _is_xlsx(raw: IO[bytes], name: str) -> bool:
    raw.seek(0)
    magic = raw.read(4)
    raw.seek(0)
    return magic == XLSX_MAGIC or name.lower().endswith((".xlsx", ".xlsm"))


def _cell_text(value: Any) -> Any:
    """XLSX cells keep dates and numbers as they are; everything else becomes stripped text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    return value


@contextmanager
def _open_rows(raw: IO[bytes], info: FileInfo) -> Iterator[Iterator[tuple[int, list]]]:
    """Yields an iterator of (line number, cells) over every row, the header included."""
    raw.seek(0)
    if info.format == "xlsx":
        from openpyxl import load_workbook

        try:
            workbook = load_workbook(raw, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many types for a damaged workbook
            raise FileProblem(_("The spreadsheet could not be opened: %(error)s") % {"error": exc}) from exc
        try:
            sheet = workbook.worksheets[0]

            def xlsx_rows() -> Iterator[tuple[int, list]]:
                for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
                    yield number, [_cell_text(value) for value in row]

            yield xlsx_rows()
        finally:
            workbook.close()
        return
    text = io.TextIOWrapper(raw, encoding=info.encoding, newline="")
    try:
        reader = csv.reader(text, delimiter=info.delimiter)

        def csv_rows() -> Iterator[tuple[int, list]]:
            try:
                for row in reader:
                    yield reader.line_num, row
            except csv.Error as exc:
                raise FileProblem(
                    _("Line %(line)s could not be read: %(error)s") % {"line": reader.line_num, "error": exc}
                ) from exc

        yield csv_rows()
    finally:
        text.detach()


def _blank(cells: list) -> bool:
    return all(cell == "" or cell is None for cell in cells)


def inspect_file(raw: IO[bytes], *, name: str) -> FileInfo:
    """Reads the file once: format, encoding, delimiter, headers, data row count, small value sets."""
    info = FileInfo()
    if _is_xlsx(raw, name):
        info.format = "xlsx"
    else:
        info.encoding = _detect_encoding(raw)
        sample = raw.read(SAMPLE_BYTES).decode(info.encoding, errors="ignore")
        raw.seek(0)
        info.delimiter = _detect_delimiter(sample)
    with _open_rows(raw, info) as rows:
        headers: list[str] | None = None
        for _line, cells in rows:
            if _blank(cells):
                continue
            if headers is None:
                headers = [str(cell).strip() for cell in cells]
                while headers and not headers[-1]:
                    headers.pop()
                distinct: dict[int, set] = {index: set() for index in range(len(headers))}
                continue
            info.total_rows += 1
            for index in list(distinct):
                if index < len(cells) and cells[index] != "":
                    values = distinct[index]
                    values.add(str(cells[index]).strip())
                    if len(values) > MAX_DISTINCT:
                        del distinct[index]
    if headers is None:
        raise FileProblem(_("The file is empty."))
    if len(headers) < 2 or len(set(headers)) != len(headers) or "" in headers:
        if len(set(headers)) != len(headers):
            raise FileProblem(_("The header row names a column twice; give every column its own name."))
        if "" in headers:
            raise FileProblem(_("The header row has an empty column name."))
        raise FileProblem(
            _("The columns could not be told apart: separate them with a comma, a semicolon or a tab.")
        )
    if info.total_rows == 0:
        raise FileProblem(_("The file has a header row but no data rows."))
    info.headers = headers
    info.column_values = {headers[index]: sorted(values) for index, values in distinct.items()}
    return info


def iter_rows(raw: IO[bytes], info: FileInfo) -> Iterator[tuple[int, list]]:
    """Yields (line number, cells) for each non-blank data row, in file order."""
    with _open_rows(raw, info) as rows:
        header_seen = False
        for line, cells in rows:
            if _blank(cells):
                continue
            if not header_seen:
                header_seen = True
                continue
            yield line, cells
