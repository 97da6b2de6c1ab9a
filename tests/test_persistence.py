"""MLP.save and fastbp.load: round trips bit for bit, files refused with a
ModelFileError that names the file and the problem (the constructor's own
message where the constructor would refuse the same arguments), a fuzz of
damaged files, and saves that replace the old file atomically.
"""
import io
import json
import os
import zipfile

import numpy as np
import pytest

import fastbp
from fastbp._layout import make_layout
from fastbp.persistence import ModelFileError

X = np.random.default_rng(0).random((5, 3))

# (hidden activations, output activation, loss): every activation and loss.
CONFIGS = [
    (["identity", "relu"], "identity", "squared_error"),
    (["leaky_relu", "tanh"], "sigmoid", "binary_cross_entropy"),
    (["sigmoid", "tanh"], "softmax", "cross_entropy"),
]


def make_net(dtype="float64", bias=True, config=CONFIGS[2], seed=0):
    hidden, out, loss = config
    net = fastbp.MLP([3, 4, 3, 2], activation=hidden + [out], loss=loss, bias=bias,
                     dtype=dtype, seed=seed)
    # Biases start at zero; make every parameter count.
    net.params[...] = np.random.default_rng(seed).normal(size=net.params.size)
    return net


def meta_of(net):
    return {"format": "fastbp.mlp", "format_version": 1, "fastbp_version": fastbp.__version__,
            "layer_sizes": list(net.layer_sizes), "activations": list(net.activations),
            "loss": net.loss_name, "bias": net.bias, "dtype": net.dtype.name}


def npy(array):
    """The .npy bytes of an array, as numpy.savez stores them."""
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asanyarray(array), allow_pickle=True)
    return buf.getvalue()


def write_archive(path, members):
    """An .npz of raw members: {name: .npy bytes}."""
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name + ".npy", data)


DROP = object()


def hand_edited(path, net, params=None, **changes):
    """net's file with meta keys changed (DROP removes one) and params replaced."""
    meta = meta_of(net)
    meta.update(changes)
    meta = {k: v for k, v in meta.items() if v is not DROP}
    params = net.params if params is None else params
    write_archive(path, {"meta": npy(np.array(json.dumps(meta))), "params": npy(params)})


# -- round trips -------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("config", CONFIGS, ids=[c[2] for c in CONFIGS])
def test_round_trip_is_bit_identical(tmp_path, dtype, bias, config):
    net = make_net(dtype, bias, config)
    net.save(tmp_path / "model.npz")
    back = fastbp.load(tmp_path / "model.npz")
    assert type(back) is fastbp.MLP
    assert back.params.dtype == net.params.dtype == np.dtype(dtype)
    assert back.params.tobytes() == net.params.tobytes()
    assert (back.layer_sizes, back.activations, back.loss_name, back.bias, back.dtype) == \
        (net.layer_sizes, net.activations, net.loss_name, net.bias, net.dtype)
    assert (back.biases is None) == (not bias)
    assert back.predict(X).tobytes() == net.predict(X).tobytes()
    # the documented format, read with numpy alone
    with np.load(tmp_path / "model.npz", allow_pickle=False) as npz:
        assert sorted(npz.files) == ["meta", "params"]
        assert json.loads(str(npz["meta"][()])) == meta_of(net)
        assert npz["params"].tobytes() == net.params.tobytes()


def test_save_writes_exactly_the_name_given(tmp_path):
    net = make_net()
    net.save(tmp_path / "model.npz")
    net.save(str(tmp_path / "m"))
    assert sorted(os.listdir(tmp_path)) == ["m", "model.npz"]
    assert fastbp.load(str(tmp_path / "m")).params.tobytes() == net.params.tobytes()


def test_save_replaces_an_existing_file(tmp_path):
    make_net(seed=1).save(tmp_path / "m")
    net = fastbp.MLP([2, 1], seed=2)
    net.save(tmp_path / "m")
    assert fastbp.load(tmp_path / "m").params.tobytes() == net.params.tobytes()
    assert os.listdir(tmp_path) == ["m"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_loaded_model_trains_as_the_original(tmp_path, dtype):
    rng = np.random.default_rng(1)
    Y = np.eye(2)[rng.integers(0, 2, 5)]
    net = make_net(dtype)
    net.fit(X, Y, epochs=2, lr=0.1, seed=3)
    net.save(tmp_path / "m")
    back = fastbp.load(tmp_path / "m")
    h, hb = net.fit(X, Y, epochs=3, lr=0.1, seed=4), back.fit(X, Y, epochs=3, lr=0.1, seed=4)
    assert h.loss == hb.loss
    assert back.params.tobytes() == net.params.tobytes()


# -- refused files -----------------------------------------------------------------

def test_a_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        fastbp.load(tmp_path / "nothing")


# (id, changes to meta, params (None: the net's), regex the message must match)
META_CASES = [
    ("format", {"format": "keras"}, None, r"format is 'keras', not 'fastbp.mlp'"),
    ("newer version", {"format_version": 2}, None, r"format_version 2 is not supported"),
    ("version as text", {"format_version": "1"}, None, r"format_version '1' is not"),
    ("version as bool", {"format_version": True}, None, r"format_version True is not"),
    ("missing key", {"loss": DROP}, None, r"keys .*, got \['activations', 'bias', 'dtype'"),
    ("extra key", {"comment": "hi"}, None, r"got \['activations', 'bias', 'comment'"),
    ("sizes vs params", {"layer_sizes": [3, 5, 3, 2]}, None,
     r"params: shape \(39,\), but layer_sizes \[3, 5, 3, 2\] with bias=True need \(46,\)"),
    ("bias vs params", {"bias": False}, None, r"params: shape \(39,\), but .* need \(30,\)"),
    ("params 2-D", {}, np.zeros((39, 1)), r"params: shape \(39, 1\), but"),
    ("params dtype", {"dtype": "float32"}, None,
     r"params: dtype float64, but meta says float32"),
    ("int params", {}, np.arange(39), r"params: dtype int64, but meta says float64"),
    ("pickled params", {}, np.array([None] * 39), r"params: dtype object, but"),
    ("NaN", {}, np.where(np.arange(39) == 16, np.nan, 1.0),
     r"weights\[1\] contains NaN or infinity \(first at index \(0, 0\)\)"),
    ("inf bias", {}, np.where(np.arange(39) == 38, np.inf, 1.0), r"biases\[2\] contains NaN"),
]

# Metadata the constructor refuses: load must refuse it with the same message.
CONSTRUCTOR_CASES = [
    ("unknown activation", {"activations": ["swish", "sigmoid", "softmax"]}),
    ("softmax hidden", {"activations": ["softmax", "sigmoid", "softmax"]}),
    ("too few activations", {"activations": ["sigmoid", "softmax"]}),
    ("unknown loss", {"loss": "hinge"}),
    ("loss vs output", {"loss": "binary_cross_entropy"}),
    ("zero units", {"layer_sizes": [3, 0, 3, 2]}),
    ("float size", {"layer_sizes": [3, 4.0, 3, 2]}),
    ("sizes as text", {"layer_sizes": "3432"}),
    # A JSON object: its keys would be taken for the sizes and the names.
    ("sizes as an object", {"layer_sizes": {"3": 1, "4": 2, "3 ": 3, "2": 4}}),
    ("activations as an object", {"activations": {"sigmoid": 1, "tanh": 2, "softmax": 3}}),
    ("one layer", {"layer_sizes": [3]}),
    ("bias as text", {"bias": "yes"}),
    ("int dtype", {"dtype": "int32"}),
    ("unknown dtype", {"dtype": "quad"}),
]


@pytest.mark.parametrize("changes, params, match", [c[1:] for c in META_CASES],
                         ids=[c[0] for c in META_CASES])
def test_hand_edited_files_are_refused(tmp_path, changes, params, match):
    path = tmp_path / "m"
    hand_edited(path, make_net(), params, **changes)
    with pytest.raises(ModelFileError, match=match) as info:
        fastbp.load(path)
    assert isinstance(info.value, ValueError)
    assert str(info.value).startswith(f"{path}: ")


@pytest.mark.parametrize("changes", [c[1] for c in CONSTRUCTOR_CASES],
                         ids=[c[0] for c in CONSTRUCTOR_CASES])
def test_metadata_is_refused_as_the_constructor_refuses_it(tmp_path, changes):
    net = make_net()
    meta = {**meta_of(net), **changes}
    with pytest.raises((TypeError, ValueError)) as ctor:
        fastbp.MLP(meta["layer_sizes"], activation=meta["activations"], loss=meta["loss"],
                   bias=meta["bias"], dtype=meta["dtype"])
    hand_edited(tmp_path / "m", net, **changes)
    with pytest.raises(ModelFileError) as info:
        fastbp.load(tmp_path / "m")
    assert str(info.value) == f"{tmp_path / 'm'}: {ctor.value}"


def _meta_bytes(text):
    return npy(np.array(text))


def npy_header(descr, shape):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def compressed(net):
    buf = io.BytesIO()
    np.savez_compressed(buf, meta=np.array(json.dumps(meta_of(net))), params=net.params)
    return buf.getvalue()


ARCHIVE_CASES = [
    ("extra array", lambda p, n: write_archive(p, {
        "meta": _meta_bytes(json.dumps(meta_of(n))), "params": npy(n.params),
        "junk": npy(np.zeros(3))}),
     r"expected the arrays \['meta', 'params'\], found \['junk', 'meta', 'params'\]"),
    ("no params", lambda p, n: write_archive(p, {"meta": _meta_bytes(json.dumps(meta_of(n)))}),
     r"found \['meta'\]"),
    ("meta not JSON", lambda p, n: write_archive(p, {
        "meta": _meta_bytes("{"), "params": npy(n.params)}), r"meta is not valid JSON"),
    ("meta deeply nested", lambda p, n: write_archive(p, {
        "meta": _meta_bytes("[" * 100_000), "params": npy(n.params)}),
     r"meta is not valid JSON"),
    ("meta a list", lambda p, n: write_archive(p, {
        "meta": _meta_bytes("[1]"), "params": npy(n.params)}),
     r"meta must be a JSON object .*, got list"),
    ("meta not text", lambda p, n: write_archive(p, {
        "meta": npy(np.zeros(3)), "params": npy(n.params)}),
     r"meta: not a 0-D unicode string"),
    # headers claiming 8 TB and 400 MB (matching the metadata): refused before
    # numpy allocates them
    ("huge params", lambda p, n: write_archive(p, {
        "meta": _meta_bytes(json.dumps({**meta_of(n), "layer_sizes": [1, 10**12],
                                        "activations": ["softmax"], "bias": False})),
        "params": npy_header("<f8", (10**12,)) + n.params.tobytes()}),
     r"params: its header claims \(1000000000000,\) float64 values, more than the file"),
    ("huge meta", lambda p, n: write_archive(p, {
        "meta": npy_header("<U100000000", ()) + b"{}", "params": npy(n.params)}),
     r"meta: its header claims \(\) <U100000000 values, more than the file"),
    ("npy header v2", lambda p, n: write_archive(p, {
        "meta": _meta_bytes(json.dumps(meta_of(n))),
        "params": npy(n.params).replace(b"\x93NUMPY\x01\x00", b"\x93NUMPY\x02\x00", 1)}),
     r"params: the archive is corrupted \(not in .npy format 1.0\)"),
    ("compressed", lambda p, n: p.write_bytes(compressed(n)), r"meta: stored compressed"),
    ("truncated", lambda p, n: (n.save(p), p.write_bytes(p.read_bytes()[:700])),
     r"the archive is corrupted"),
    ("empty", lambda p, n: p.write_bytes(b""), r"not an \.npz archive"),
    ("text", lambda p, n: p.write_text("weights: 1 2 3\n"), r"not an \.npz archive"),
    ("npy file", lambda p, n: p.write_bytes(npy(n.params)), r"not an \.npz archive"),
]


@pytest.mark.parametrize("write, match", [c[1:] for c in ARCHIVE_CASES],
                         ids=[c[0] for c in ARCHIVE_CASES])
def test_damaged_archives_are_refused(tmp_path, write, match):
    path = tmp_path / "m"
    write(path, make_net())
    with pytest.raises(ModelFileError, match=match) as info:
        fastbp.load(path)
    assert str(info.value).startswith(f"{path}: ")


@pytest.mark.parametrize("dtype, bias", [("float64", True), ("float32", False)])
def test_fuzzed_files_load_whole_or_raise_model_file_error(tmp_path, dtype, bias):
    """Truncations and byte flips: every load gives a model consistent with
    its own metadata, or a ModelFileError; nothing else, nothing half-built."""
    make_net(dtype, bias).save(tmp_path / "good")
    good = (tmp_path / "good").read_bytes()
    rng = np.random.default_rng(42)
    mutants = [good[:n] for n in range(0, len(good), 3)]
    for _ in range(400):
        data = np.frombuffer(good, np.uint8).copy()
        data[rng.integers(0, len(good), rng.integers(1, 5))] = rng.integers(0, 256, 4)[0]
        mutants.append(data.tobytes())
    path, outcomes = tmp_path / "m", {"loaded": 0, "refused": 0}
    for data in mutants:
        path.write_bytes(data)
        try:
            net = fastbp.load(path)
        except ModelFileError:
            outcomes["refused"] += 1
            continue
        outcomes["loaded"] += 1
        assert np.isfinite(net.params).all()
        assert net.params.dtype == net.dtype
        assert net.params.shape == (make_layout(net.layer_sizes, net.bias).n_params,)
        assert [W.shape for W in net.weights] == \
            list(zip(net.layer_sizes[1:], net.layer_sizes[:-1]))
    assert outcomes["refused"] > len(mutants) / 2 and outcomes["loaded"] > 0


# -- atomic saves ------------------------------------------------------------------

@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
@pytest.mark.parametrize("existing", [True, False])
def test_a_failed_save_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch,
                                                                   error, existing):
    path = tmp_path / "model.npz"
    if existing:
        make_net(seed=1).save(path)
    before = os.listdir(tmp_path), path.read_bytes() if existing else None

    def write_half_then_fail(f, **arrays):
        f.write(b"PK\x03\x04" + bytes(500))
        raise error

    monkeypatch.setattr(np, "savez", write_half_then_fail)
    with pytest.raises(type(error)):
        make_net(seed=2).save(path)
    assert (os.listdir(tmp_path), path.read_bytes() if existing else None) == before


# -- file names (issue 14, finding 7) ---------------------------------------------------

def test_save_takes_a_file_name_of_the_longest_legal_length(tmp_path):
    """The temporary file is not named after the target: a 255-byte name
    plus a suffix would be too long for the file system."""
    path = tmp_path / ("m" * 251 + ".npz")
    net = make_net()
    net.save(path)
    assert fastbp.load(path).params.tobytes() == net.params.tobytes()
    assert os.listdir(tmp_path) == [path.name]


def test_save_and_load_take_a_bytes_path(tmp_path):
    path = os.fsencode(tmp_path / "model.npz")
    net = make_net()
    net.save(path)
    assert os.listdir(tmp_path) == ["model.npz"]
    assert fastbp.load(path).params.tobytes() == net.params.tobytes()
