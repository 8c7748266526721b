"""What the data layer refuses, in words a caller can act on; the service maps them to 404 and 409."""


class NotFound(LookupError):
    """The row asked for does not exist."""


class Conflict(RuntimeError):
    """The request is well-formed but the stored state does not allow it (a spent budget, a lost lease, …)."""
