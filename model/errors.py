"""Errors a user can act on. Everything raised for bad input derives from ``DiffMixInputError``."""


class DiffMixInputError(ValueError):
    """Input that cannot be turned into a valid mixture or request; the message says what to fix."""


class InvalidSmilesError(DiffMixInputError):
    pass


class UnknownPropertyError(DiffMixInputError):
    pass


class CheckpointError(DiffMixInputError):
    """A model directory this version cannot load as written (another format version, an option it lacks)."""
