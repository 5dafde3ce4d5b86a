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
