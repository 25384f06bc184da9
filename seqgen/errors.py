"""The one exception type for bad user input.

Anything a user can get wrong (a missing file, an unknown config key, a corrupt checkpoint, an impossible
setting) raises `SeqgenError` with a one-line message that names the problem. The CLI prints it as
``seqgen: error: <message>`` and exits with status 2; it never shows a traceback for these.
"""


class SeqgenError(Exception):
    """A user-facing error: bad input, bad configuration or a bad file. The message is one line."""
