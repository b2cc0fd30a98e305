"""The one exception type that the CLI turns into a single line and exit code 2."""


class UserError(Exception):
    """Bad input from the user (suite, dataset, arguments, run directory).

    The message must be one line that names the file or field and what is wrong.
    """
