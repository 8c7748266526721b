"""Errors of the robot side. Device errors carry whether a retry can help."""


class RobotError(RuntimeError):
    retryable = False


class DeviceTimeout(RobotError):
    """A device did not answer in time (cable, power, or a hung instrument)."""

    retryable = True


class ProtocolError(RobotError):
    """A reply that does not parse (garbled bytes on the line)."""

    retryable = True


class DeviceDisconnected(RobotError):
    retryable = True


class PumpError(RobotError):
    """Invalid commands or operands (2, 3) are our bug and final; overloads and the like may clear on a retry."""

    def __init__(self, code: int, message: str):
        super().__init__(f"syringe pump error {code}: {message}")
        self.code = code
        self.retryable = code not in (2, 3)


class BalanceError(RobotError):
    pass


class PotentiostatError(RobotError):
    def __init__(self, code: str, message: str = ""):
        super().__init__(f"potentiostat error !{code}{': ' + message if message else ''}")
        self.code = code


class RecipeError(RobotError):
    """The composition cannot be made with these stocks, pumps or inventory; retrying will not help."""


class VesselsNotClean(RobotError):
    """The cell and vial could not be rinsed: no sample may be made until they are (the robot stops taking work)."""


class MeasurementInvalid(RobotError):
    """The measurement is not trustworthy (open circuit, temperature drift); re-measure or fail, never record it."""

    retryable = True
