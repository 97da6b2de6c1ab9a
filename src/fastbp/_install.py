"""How to install an optional extra, in the one wording every message uses."""


def install_hint(extra):
    """The pip command that installs the extra ``extra``, from an index and from a clone.

    The quotes keep shells (zsh) from reading the brackets as a pattern; a
    clone installs its own source tree, ``.``, rather than the released package.
    """
    return f'pip install "fastbp[{extra}]" (from a clone of fastbp: pip install ".[{extra}]")'
