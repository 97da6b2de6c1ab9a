"""Saving and loading ``MLP`` models in a NumPy ``.npz`` archive read without pickle.

Format "fastbp.mlp", version 1: an uncompressed ``.npz`` (``numpy.savez``)
holding exactly two arrays, in .npy format 1.0:

- ``params``: 1-D float32 or float64, the flat buffer ``MLP.params`` (per
  layer, the weights row by row, then the biases);
- ``meta``: a 0-D unicode string, a JSON object with the keys
  ``format`` ("fastbp.mlp"), ``format_version`` (1), ``fastbp_version``
  (of the writer, informational), ``layer_sizes``, ``activations`` (one
  name per weight layer), ``loss``, ``bias`` and ``dtype`` ("float32" or
  "float64"), and optionally ``extra``: a JSON object the writer attached
  with ``save(net, path, extra=...)`` (the command line keeps its feature
  names, scaling and class labels there), read back by ``load_with_extra``.

A file without ``extra`` is byte for byte what fastbp 0.1.0 writes, so the
format version stays 1; a reader from before ``extra`` existed refuses a file
that has it, naming the unexpected key.

``load`` passes the metadata through the constructor's checks and refuses
anything else with a ``ModelFileError`` naming the file.
"""
import json
import math
import os
import secrets
import zipfile
import zlib

import numpy as np

from fastbp import __version__
from fastbp import _validation as check
from fastbp._layout import make_layout, views
from fastbp.mlp import MLP

FORMAT = "fastbp.mlp"
FORMAT_VERSION = 1
META_KEYS = {"format", "format_version", "fastbp_version", "layer_sizes", "activations",
             "loss", "bias", "dtype"}
OPTIONAL_META_KEYS = {"extra"}
# What zipfile and numpy raise on bytes that are not a well-formed archive:
# a bad zip structure or CRC, an unknown compression method or encryption
# flag (NotImplementedError, RuntimeError), a broken deflate stream, a short
# read, a malformed .npy header.
_ARCHIVE_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError,
                   NotImplementedError, RuntimeError)


class ModelFileError(ValueError):
    """A file that is not a valid fastbp model: truncated, corrupted, of
    another format or version, or with parameters or metadata the MLP
    constructor would refuse."""


def save(net, path, extra=None):
    """Write ``net`` to ``path`` (exactly that name; no ".npz" is added).

    The archive goes to a temporary file in the same directory, which then
    replaces ``path`` in one atomic rename: a crash or error mid-save leaves
    any earlier file at ``path`` intact, and the temporary file is removed.

    Parameters
    ----------
    net : MLP
    path : str, bytes or os.PathLike
    extra : dict, optional
        Anything the caller wants kept with the model, as a JSON object:
        str keys, and values made of dicts, lists, str, finite numbers,
        bool and None. ``load_with_extra`` returns it.

    Raises
    ------
    TypeError, ValueError
        If ``extra`` is not a dict or not JSON-serialisable (NaN and
        infinity included); nothing is written then.
    """
    path = os.fsdecode(path)
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION,
            "fastbp_version": __version__, "layer_sizes": list(net.layer_sizes),
            "activations": list(net.activations), "loss": net.loss_name,
            "bias": net.bias, "dtype": net.dtype.name}
    if extra is not None:
        meta["extra"] = extra
    text = _meta_json(meta)
    # A short name, not path + a suffix: a file name may already be as long
    # as the file system allows (255 bytes on most).
    tmp = os.path.join(os.path.dirname(path), f".fastbp-{secrets.token_hex(8)}.tmp")
    try:
        # Through a file object, so numpy does not append ".npz" to the name.
        # open() rather than mkstemp: the file gets the umask's permissions, not 0600.
        with open(tmp, "xb") as f, net._lock:
            # Under the model's lock (MLP.save holds it already; it is
            # re-entrant): a fit in another thread must not change params
            # while they are written.
            np.savez(f, params=net.params, meta=np.array(text))
            f.flush()
            # On disk before the rename, or a power cut could leave an empty file.
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _meta_json(meta):
    """The metadata as JSON text; refuses a bad ``extra`` before any file is opened."""
    extra = meta.get("extra")
    if extra is not None and not isinstance(extra, dict):
        raise TypeError(f"extra must be a dict (a JSON object), got {type(extra).__name__}")
    try:
        # allow_nan=False: NaN and Infinity are not JSON, and other readers refuse them.
        text = json.dumps(meta, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise type(e)(f"extra is not JSON-serialisable: {e}") from None
    # json.dumps turns int keys into str and tuples into lists without a word;
    # load would then return something else than was saved.
    if extra is not None and json.loads(text)["extra"] != extra:
        raise TypeError("extra must hold only dicts with str keys, lists, str, numbers, "
                        "bool and None: it does not survive a JSON round trip unchanged")
    return text


def load(path):
    """Read a model written by ``MLP.save`` or ``save``.

    Parameters
    ----------
    path : str, bytes or os.PathLike

    Returns
    -------
    MLP
        With the saved parameters, bit for bit, and the saved dtype.

    Raises
    ------
    ModelFileError
        If the file is not a valid fastbp model file (see the module
        docstring for the format). A missing or unreadable file raises the
        usual OSError.
    """
    return load_with_extra(path)[0]


def load_with_extra(path):
    """Read a model and the ``extra`` dict saved with it.

    Returns
    -------
    net : MLP
        As ``load`` returns it.
    extra : dict or None
        What ``save(net, path, extra=...)`` stored; None when nothing was.

    Raises
    ------
    ModelFileError, OSError
        As ``load`` raises them; also when ``extra`` is not a JSON object.
    """
    path = os.fsdecode(path)
    with open(path, "rb") as f:
        # np.load would read a .npy file as one array, sized by its header.
        if f.read(4) != b"PK\x03\x04":
            raise ModelFileError(f"{path}: not a fastbp model file (not an .npz archive)")
        f.seek(0)
        size = os.fstat(f.fileno()).st_size
        try:
            npz = np.load(f, allow_pickle=False)
        except _ARCHIVE_ERRORS as e:
            raise ModelFileError(f"{path}: the archive is corrupted ({e})") from None
        with npz:
            return _read(npz, path, size)


def _array(npz, name, path, size, problem_with):
    """The array ``name``, read once its header passed ``problem_with(shape,
    dtype)`` (which returns a problem or None) and claims no more bytes than
    the file's ``size``: numpy allocates what the header says before it
    finds the data missing, and a hand-edited header may say anything."""
    try:
        if npz.zip.getinfo(name + ".npy").compress_type != zipfile.ZIP_STORED:
            # Also, a compressed member could inflate far beyond the file's size.
            problem = "stored compressed; the format stores arrays as numpy.savez does"
        else:
            with npz.zip.open(name + ".npy") as m:
                if np.lib.format.read_magic(m) != (1, 0):
                    raise ValueError("not in .npy format 1.0")
                shape, _, dtype = np.lib.format.read_array_header_1_0(m)
            problem = (f"its header claims {shape} {dtype} values, more than the file holds"
                       if math.prod(shape) * dtype.itemsize > size
                       else problem_with(shape, dtype))
        if problem is None:
            return npz[name]
    except _ARCHIVE_ERRORS as e:
        problem = f"the archive is corrupted ({e})"
    raise ModelFileError(f"{path}: {name}: {problem}")


def _read(npz, path, size):
    def fail(problem):
        return ModelFileError(f"{path}: {problem}")

    if sorted(npz.files) != ["meta", "params"]:
        raise fail(f"expected the arrays ['meta', 'params'], found {sorted(npz.files)}")
    text = _array(npz, "meta", path, size, lambda shape, dtype: (
        None if shape == () and dtype.kind == "U" else "not a 0-D unicode string"))
    try:
        meta = json.loads(str(text[()]))
    except (ValueError, RecursionError) as e:   # deep nesting: RecursionError
        raise fail(f"meta is not valid JSON ({e})") from None
    if not (isinstance(meta, dict)
            and META_KEYS <= meta.keys() <= META_KEYS | OPTIONAL_META_KEYS):
        found = sorted(meta) if isinstance(meta, dict) else type(meta).__name__
        raise fail(f"meta must be a JSON object with the keys {sorted(META_KEYS)} "
                   f"(and optionally {sorted(OPTIONAL_META_KEYS)}), got {found}")
    if meta["format"] != FORMAT:
        raise fail(f"format is {meta['format']!r}, not {FORMAT!r}")
    version = meta["format_version"]
    if type(version) is not int or version != FORMAT_VERSION:
        raise fail(f"format_version {version!r} is not supported (fastbp {__version__} "
                   f"reads version {FORMAT_VERSION})")
    extra = meta.get("extra")
    if "extra" in meta and not isinstance(extra, dict):
        raise fail(f"extra must be a JSON object, got {json.dumps(extra)[:60]}")
    # The constructor's checks: a hand-edited file is refused as the same
    # arguments to MLP would be, with the same message.
    try:
        sizes = check.check_layer_sizes(meta["layer_sizes"])
        activations = check.check_activations(meta["activations"], None, len(sizes) - 1)
        loss = check.check_loss(meta["loss"], activations[-1])
        bias = check.check_bool(meta["bias"], "bias")
        dtype = check.check_dtype(meta["dtype"])
    except (TypeError, ValueError) as e:
        raise fail(e) from None
    layout = make_layout(sizes, bias)

    def params_problem(shape, dt):
        if shape != (layout.n_params,):
            return (f"shape {shape}, but layer_sizes {list(sizes)} with bias={bias} "
                    f"need ({layout.n_params},)")
        if dt.newbyteorder("=") != dtype:     # ">f8" from a big-endian writer is fine
            return f"dtype {dt}, but meta says {dtype}"
        return None

    weights, biases = views(_array(npz, "params", path, size, params_problem), layout)
    try:
        # from_weights refuses NaN and infinity, naming the layer and index.
        net = MLP.from_weights(weights, biases, activation=activations, loss=loss,
                               dtype=dtype)
    except ValueError as e:
        raise fail(e) from None
    return net, extra
