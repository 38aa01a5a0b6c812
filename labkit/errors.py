"""labkit's error types: one family per kind of mistake, each message naming what, the valid values and the fix.

Every error labkit raises on purpose derives from :class:`LabkitError`, and also from the
built-in type code already catches (``ValueError``, ``TypeError``, ``KeyError`` ...), so
``except ValueError`` keeps working and ``except lk.errors.LabkitError`` catches them all.
The command-line tools turn any of them into one line on stderr and exit code 2.

========================= ====================================================================
family                    raised for
========================= ====================================================================
:class:`OptionError`      an argument of the wrong type or out of range (a string sparsity, a
                          ``Plan`` keyword typo, ``preview=0``, ``--epochs 0``, ``--device tpu``)
:class:`DataError`        a dataset that cannot be used: unknown name, missing or undecodable
                          files, one class, an empty class folder (the path is named)
:class:`MismatchError`    things that do not fit together: model vs data (input channels, shape,
                          classes), checkpoint vs data (dataset, seed, size, leaked test images),
                          masks vs model, a resume that asks for another run
:class:`WeightsError`     weights that are not finite (NaN / inf) in a model or a checkpoint
:class:`OutputError`      an output path that cannot be written (checked before any long work)
:class:`UnknownNameError` a name no registry holds (dataset, model, criterion); lists the known names
``ContainerError``        a labkit file that is missing, damaged or of another kind
                          (:mod:`labkit.io`, also a :class:`LabkitError`)
========================= ====================================================================

Example:
    >>> try:
    ...     raise OptionError("sparsity must be a number in [0, 1), got '0.5' (a str); pass sparsity=0.5")
    ... except ValueError as err:
    ...     isinstance(err, LabkitError)
    True
"""
from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["cli_errors", "LabkitError", "OptionError", "DataError", "DataNotFoundError", "MismatchError", "WeightsError",
           "OutputError", "UnknownNameError", "one_line"]


class LabkitError(Exception):
    """The root of every error labkit raises on purpose (its message names the fix)."""


class OptionError(LabkitError, ValueError, TypeError):
    """An argument of the wrong type or outside its valid range (a ``ValueError`` and a ``TypeError``)."""


class DataError(LabkitError, ValueError):
    """A dataset that cannot be used as asked: unknown, missing files, undecodable images, degenerate classes."""


class DataNotFoundError(DataError, FileNotFoundError):
    """Dataset files that are not on disk (also a ``FileNotFoundError``); the message says how to get them."""


class MismatchError(LabkitError, ValueError):
    """Two things that must fit together do not: model, data, checkpoint, masks, a resumed run."""


class WeightsError(LabkitError, ValueError):
    """Weights that are not finite (NaN or infinity) where a trained model is expected."""


class OutputError(LabkitError, ValueError):
    """An output path that cannot be written: wrong suffix, a folder, no permission, no such place."""


class UnknownNameError(LabkitError, KeyError):
    """A name that no registry holds (a dataset, model, criterion ...); the message lists the known ones.

    A ``KeyError`` whose ``str`` is the message itself (no quotes around it).
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def one_line(err: BaseException) -> str:
    """``err``'s message on one line (KeyError's quotes dropped), for command-line tools."""
    text = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
    if isinstance(err, OSError) and err.strerror and err.filename is not None:
        text = f"{err.strerror}: {err.filename}"
    return " ".join(text.split())


@contextmanager
def cli_errors(prog: str, also: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    """Bad input inside as one line ``<prog>: error: <message>`` on stderr and ``SystemExit(2)``, no traceback.

    Catches labkit's errors, the built-in value errors and ``also`` (e.g. a cluster error), and OS
    errors (permissions, missing folders, a full disk) with a hint; anything else is a bug and keeps
    its traceback.
    """
    caught: tuple[type[BaseException], ...] = (LabkitError, ValueError, TypeError, KeyError, *also)
    try:
        yield
    except caught as err:
        print(f"{prog}: error: {one_line(err)}", file=sys.stderr)
        raise SystemExit(2) from None
    except OSError as err:  # permissions, missing folders, a full disk
        print(f"{prog}: error: {one_line(err)}; check the path, its permissions and the free space", file=sys.stderr)
        raise SystemExit(2) from None
