"""CSV files that are safe to open in a spreadsheet: every CSV we write goes through `writer`.

A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is read by Excel, LibreOffice and
Google Sheets as a formula (`=HYPERLINK(...)` in a guarantor's name would come out live). Such a cell gets a
leading `'`, which the spreadsheet shows as plain text. A cell that is exactly a plain number (`-1234.50`,
the way `money.format_plain` writes amounts) is left as it is: it cannot be a formula, and a negative
balance must stay a number the reader can add up.
"""
import csv
import re

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def neutralise(value):
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


class _Writer:
    def __init__(self, out):
        self._writer = csv.writer(out)

    def writerow(self, row):
        return self._writer.writerow([neutralise(value) for value in row])

    def writerows(self, rows):
        for row in rows:
            self.writerow(row)


def writer(out) -> _Writer:
    """Like `csv.writer(out)`, with every text cell neutralised."""
    return _Writer(out)
