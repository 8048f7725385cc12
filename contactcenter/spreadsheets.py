"""CSV for spreadsheets: what staff download (a calls export, an import's rejected rows) must not
run what somebody put in a field when a spreadsheet opens it."""

import csv
import re
from collections.abc import Iterable, Iterator
from typing import Any

# A cell starting like a formula is kept as text; plain numbers (E.164 numbers) stay as they are.
_FORMULA_START = re.compile(r"^[=+\-@\t\r]")
_PLAIN_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


def spreadsheet_safe(value: Any) -> str:
    text = "" if value is None else str(value)
    if _FORMULA_START.match(text) and not _PLAIN_NUMBER.match(text):
        return "'" + text
    return text


def csv_lines(header: list[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """The CSV text of `header` then `rows`, line by line (for a streaming response), every
    cell spreadsheet-safe."""

    class Line:
        def write(self, text: str) -> str:
            return text

    writer = csv.writer(Line())
    yield writer.writerow([spreadsheet_safe(cell) for cell in header])
    for row in rows:
        yield writer.writerow([spreadsheet_safe(cell) for cell in row])
