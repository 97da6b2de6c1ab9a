"""Reading a CSV file with a header line, for the command line.

The standard library's ``csv`` reads the text; NumPy holds the numbers. Every
field is stripped of surrounding spaces; lines holding nothing else than
spaces and delimiters are skipped. The delimiter is given, or found on the
header line (comma, semicolon or tab). Problems
raise ``DataError`` naming the file and, where there is one, the column and
the line (counted from 1, the header being line 1).
"""
import csv
import math
from dataclasses import dataclass

import numpy as np


class DataError(ValueError):
    """A data file the command line cannot use."""


# The delimiters a header line is searched for; comma first, so it wins ties.
DELIMITERS = (",", ";", "\t")
# How many names a message lists before "and N more".
NAMES_SHOWN = 5


def name_list(names):
    """``names`` for a message: the first few and how many more there are."""
    shown = ", ".join(names[:NAMES_SHOWN])
    more = len(names) - NAMES_SHOWN
    return f"{shown} and {more} more" if more > 0 else shown


@dataclass
class Table:
    """The text of a CSV file.

    Attributes
    ----------
    path : str
    columns : list of str
        The header's names.
    rows : list of list of str
        One list of fields per data row, as many as there are columns.
    lines : list of int
        The line of the file each row is on (its last line, should a quoted
        field span several).
    """
    path: str
    columns: list
    rows: list
    lines: list

    @property
    def n_rows(self):
        return len(self.rows)

    def index(self, name):
        """The position of column ``name``; DataError naming the columns there are."""
        try:
            return self.columns.index(name)
        except ValueError:
            raise DataError(f"{self.path}: no column {name!r} (the columns are "
                            f"{name_list(self.columns)})") from None

    def column(self, name):
        """The fields of column ``name``, a list of str."""
        i = self.index(name)
        return [row[i] for row in self.rows]

    def numbers(self, names):
        """The columns ``names`` as finite floats.

        Returns
        -------
        ndarray of float64, shape (n_rows, len(names))

        Raises
        ------
        DataError
            Naming the column, the line and the field that is not a finite
            number (empty fields included).
        """
        out = np.empty((self.n_rows, len(names)))
        for k, name in enumerate(names):
            fields = self.column(name)
            try:
                # NumPy converts each str as float() does, in one C loop.
                out[:, k] = np.array(fields, dtype=np.float64)
            except ValueError:
                out[:, k] = np.nan
            if not np.isfinite(out[:, k]).all():
                r = next(r for r, text in enumerate(fields) if parse_number(text) is None)
                raise DataError(f"{self.path}: column {name!r}, line {self.lines[r]}: "
                                f"{_not_a_number(fields[r])}")
        return out


def _not_a_number(text):
    if not text:
        return "the field is empty, a number is needed"
    try:
        float(text)
    except ValueError:
        return f"{text!r} is not a number"
    return f"{text!r} is not a finite number"


def parse_number(text):
    """``text`` as a finite float, or None if it is not one ('nan', 'inf' and '' included)."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_csv(path, delimiter=None):
    """Read a CSV file with a header line and at least one data row.

    Parameters
    ----------
    path : str
        UTF-8 text (a byte order mark is allowed), quoted as the ``csv``
        module's default dialect quotes.
    delimiter : str, optional
        One character. Default: the one of comma, semicolon and tab that the
        header line holds most of (comma if it holds none).

    Returns
    -------
    Table

    Raises
    ------
    DataError
        Empty file, no data rows, empty or repeated column names, a row
        with a different number of fields than the header, text that is not
        UTF-8 or not CSV.
    OSError
        If the file cannot be opened.
    """
    with open(path, newline="", encoding="utf-8-sig") as f:
        records = []
        try:
            reader = csv.reader(f, delimiter=delimiter or _detect_delimiter(f))
            for record in reader:
                fields = [field.strip() for field in record]
                if any(fields):
                    records.append((fields, reader.line_num))
        except UnicodeDecodeError as e:
            raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
        except csv.Error as e:
            raise DataError(f"{path}: line {reader.line_num}: {e}") from None
    if not records:
        raise DataError(f"{path}: the file is empty; it needs a header line and data rows")
    (columns, header_line), records = records[0], records[1:]
    _check_header(path, columns, header_line)
    if not records:
        raise DataError(f"{path}: no data rows below the header")
    for fields, line in records:
        if len(fields) != len(columns):
            raise DataError(f"{path}: line {line} has {len(fields)} fields, the header "
                            f"has {len(columns)}")
    return Table(path, columns, [fields for fields, _ in records],
                 [line for _, line in records])


def _detect_delimiter(f):
    """The delimiter the first line with text in ``f`` holds most of; ``f`` rewound."""
    found = ","
    for line in f:
        if line.strip("".join(DELIMITERS) + " \r\n"):
            found = max(DELIMITERS, key=line.count)
            break
    f.seek(0)
    return found


def _check_header(path, columns, line):
    if "" in columns:
        raise DataError(f"{path}: line {line}: the header has an empty column name "
                        f"(column {columns.index('') + 1})")
    repeated = sorted({name for name in columns if columns.count(name) > 1})
    if repeated:
        raise DataError(f"{path}: line {line}: the header repeats the column name "
                        f"{repeated[0]!r}")
