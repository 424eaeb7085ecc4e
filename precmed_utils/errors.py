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
