"""The exceptions the command line turns into a message and an exit code."""


class JoulebenchError(Exception):
    """An error the user can act on; the CLI prints it without a traceback."""

    exit_code = 1


class InputError(JoulebenchError):
    """Bad input (a file, a field, an argument): exit code 2."""

    exit_code = 2


class NoMeterError(JoulebenchError):
    """No energy meter could be opened on this machine."""

    exit_code = 3


class HardwareMismatchError(JoulebenchError):
    """The machine is not the hardware profile it claims to be."""

    exit_code = 4


class ReportedElsewhere(JoulebenchError):
    """An error of a distributed run that global rank 0 reports: this rank exits with its code and says nothing.

    Every rank of a torchrun job meets the same failure (a node without meters,
    hardware that is not the profile); one message, from rank 0, is enough.
    """

    def __init__(self, exit_code: int):
        super().__init__(f"reported by global rank 0 (exit code {exit_code})")
        self.exit_code = exit_code
