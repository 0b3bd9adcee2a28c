"""The one exception type for bad user input.

The CLI turns a ``UserInputError`` into a single line on stderr and exit code 2, before any
work starts; everything else is a bug and keeps its traceback.
"""


class UserInputError(Exception):
    """Bad input from the user: a wrong name, range, path or file layout."""
