"""Exceptions that carry a message meant for the user (the CLI prints them without a traceback).

Used by every study through params, data and runner.
"""


class PrecmedError(Exception):
    """Base class: the message says what was wrong and what was expected."""


class UnknownStudyError(PrecmedError):
    pass


class ParameterError(PrecmedError):
    pass


class DataError(PrecmedError):
    pass


class DeviceError(PrecmedError):
    pass


class BuildError(PrecmedError):
    """The book could not be built (not a problem with the user's input: exit status 1)."""


class Problem:
    """One thing wrong with a user's data: the file, where in it (line and column, field, XML
    element or offsets; empty when it concerns the whole file) and what is wrong and expected.
    A warning is reported but does not make the data unusable."""

    __slots__ = ("file", "location", "message", "warning")

    def __init__(self, file, location: str, message: str, warning: bool = False):
        self.file, self.location, self.message, self.warning = str(file), location, message, warning

    def __repr__(self) -> str:
        return f"Problem({self.file!r}, {self.location!r}, {self.message!r}, warning={self.warning})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Problem) and (self.file, self.location, self.message, self.warning) == (
            other.file, other.location, other.message, other.warning)

    def __hash__(self) -> int:
        return hash((self.file, self.location, self.message, self.warning))

    def __str__(self) -> str:
        where = f"{self.file}:{self.location}" if self.location else self.file
        return f"{where}: {'warning: ' if self.warning else ''}{self.message}"


def problem_text(file, location: str, message: str) -> str:
    """The message of a DataError for one problem: 'file, location: message'."""
    return f"{file}, {location}: {message}" if location else f"{file}: {message}"


class Problems:
    """Where a format's validator reports what is wrong.

    By default (a reader) the first problem raises a DataError and warnings are dropped; with
    ``collect=True`` (``precmed check-data``) every problem is kept, up to ``limit``, and the
    validator carries on with the next line, cell or file. Used by the readers of every user
    format and by checkdata.
    """

    def __init__(self, collect: bool = False, limit: int = 200):
        self.collect, self.limit = collect, limit
        self.items: list[Problem] = []
        self.more = 0  # problems found beyond the limit

    def add(self, file, location: str, message: str, *, warning: bool = False) -> None:
        if not self.collect:
            if warning:
                return
            raise DataError(problem_text(file, location, message))
        if len(self.items) < self.limit:
            self.items.append(Problem(file, location, message, warning))
        else:
            self.more += 1

    def table(self, file, items: list[tuple[str, str]], expected: str = "", limit: int = 10) -> None:
        """Several cell problems of one table, ``(location, message)`` each. A reader raises one
        DataError naming the first ``limit`` ('file: malformed data:' and a list)."""
        if self.collect:
            for loc, msg in items:
                self.add(file, loc, msg)
            return
        if items:
            lines = [f"{loc}: {msg}" if loc else msg for loc, msg in items[:limit]]
            if len(items) > limit:
                lines.append(f"... and {len(items) - limit} more such cells")
            raise DataError(f"{file}: malformed data:\n  - " + "\n  - ".join(lines)
                            + (f"\n{expected}" if expected else ""))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.items if not p.warning]

    def count(self) -> int:
        """Errors found (warnings not counted), including those beyond the limit."""
        return len(self.errors) + self.more
