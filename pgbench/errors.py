"""Exceptions a user can cause; the CLI turns each into a one-line message and exit code 2."""


class PgbenchError(Exception):
    """Base class for errors caused by user input (bad names, shapes, suites)."""


class UnknownNameError(PgbenchError, KeyError):
    """A registry lookup failed; the message suggests close matches."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class InvalidSpecError(PgbenchError, ValueError):
    """Parameters that cannot describe a valid environment, policy or estimator."""


class NoExactFormError(PgbenchError):
    """An exact objective or gradient was asked of an environment that has none."""


class BackendUnavailableError(PgbenchError, RuntimeError):
    """The requested kernel backend (e.g. CUDA) cannot run on this machine."""


class NonFiniteGradientError(PgbenchError):
    """An estimator (or a reference gradient) returned NaN or infinite entries."""


class PgbenchWarning(UserWarning):
    """Valid input that likely does not do what was meant (e.g. a training budget that
    buys fewer than a handful of updates)."""
