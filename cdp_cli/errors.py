"""The one error hierarchy of cdp, and the process exit codes.

Findings (problems *in* the data a command checks) are data: see :mod:`cdp_cli.findings`.
Exceptions are for fatal problems that stop a command: a missing path, an unusable config,
an engine or destination failure. The CLI turns any :class:`CdpError` into ``Error: <message>``
on stderr and exit code 2.
"""

from __future__ import annotations

import errno
from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes shared by every command."""

    OK = 0  #: nothing to report (warnings allowed unless --strict)
    FINDINGS = 1  #: the command ran and found errors (or warnings with --strict)
    ERROR = 2  #: usage, input, config or internal error: the command could not do its job


class CdpError(Exception):
    """Base class of every error cdp raises on purpose."""

    exit_code: ExitCode = ExitCode.ERROR


class UsageError(CdpError):
    """The command was called wrongly (bad option combination, bad value)."""


class InputError(CdpError):
    """An input path is missing, unreadable or of the wrong kind."""


class OutputError(CdpError):
    """An output cannot be written (permissions, a full disk, a read-only file system), or would
    replace something cdp did not write."""


class Interrupted(BaseException):
    """The process was asked to stop (SIGINT, SIGTERM). A BaseException, like KeyboardInterrupt, so
    ``except Exception`` never swallows it and every ``finally`` and atomic-output guard runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class PlanError(CdpError):
    """A tracking plan cannot be used (for a command that needs a valid plan)."""


class ConfigError(CdpError):
    """A configuration file (``.cdp.yaml``) is invalid."""

    #: one line per problem, set by the definitions loader (not on every instance)
    problems: list[str]


class EngineError(CdpError):
    """The embedded query engine failed."""


class DestinationError(CdpError):
    """A replay destination failed."""


_OS_REASONS = {
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.ENOENT: "no such file or directory",
    errno.ENOTDIR: "a parent is not a directory",
    errno.EISDIR: "is a directory",
    errno.ELOOP: "symbolic link loop",
    errno.ENAMETOOLONG: "file name too long",
    errno.EXDEV: "cannot rename across file systems",
    errno.EIO: "input/output error",
    errno.EFBIG: "file too large",
}


def os_reason(e: OSError) -> str:
    """A short, stable reason for an OS error (no Python wording, no temporary file names)."""
    return _OS_REASONS.get(e.errno or 0) or (e.strerror or type(e).__name__).lower()
