"""Probes for kata 01 (Tensor): creation and dtypes, arithmetic, matmul, shapes, reductions, indexing."""

import numpy as np

from dojo.classroom.probes import probe


def _tensor():
    from tinytorch.tensor import Tensor

    return Tensor


@probe("creation")
def creation_dtypes(rng):
    Tensor = _tensor()
    values = rng.normal(size=(2, 3))
    floats, ints = Tensor(values.tolist()), Tensor(rng.integers(-5, 5, size=4).tolist())
    kept = Tensor(values)  # a float64 array keeps float64
    return {"floats": floats, "floats.dtype": str(floats.dtype), "ints": ints, "ints.dtype": str(ints.dtype),
            "kept.dtype": str(kept.dtype), "shape": list(kept.shape)}


@probe("creation")
def creation_copies(rng):
    Tensor = _tensor()
    source = rng.normal(size=(3,)).astype(np.float32)
    t = Tensor(source)
    source[0] = 1e6
    return t


@probe("arithmetic")
def broadcast_arithmetic(rng):
    Tensor = _tensor()
    a, b = Tensor(rng.normal(size=(3, 1)).astype(np.float32)), Tensor(rng.normal(size=(4,)).astype(np.float32))
    return {"add": a + b, "sub": a - b, "mul": a * b, "div": a / (b * b + 1.0), "neg": -a}


@probe("arithmetic")
def reflected_and_unary(rng):
    Tensor = _tensor()
    x = Tensor(rng.uniform(0.5, 2.0, size=(2, 3)).astype(np.float32))
    k = float(rng.integers(2, 9))
    return {"rsub": k - x, "rdiv": k / x, "radd": k + x, "rmul": k * x, "pow": x ** 3, "exp": x.exp(), "log": x.log()}


@probe("arithmetic")
def broadcast_error(rng):
    Tensor = _tensor()
    return Tensor(np.zeros((2, 3))) + Tensor(np.zeros((int(rng.integers(4, 7)),)))


@probe("arithmetic")
def promotion_and_rpow(rng):
    Tensor = _tensor()
    ints = Tensor(rng.integers(1, 9, size=(2, 3)))
    x32 = Tensor(rng.normal(size=(3,)).astype(np.float32))
    half = float(rng.uniform(0.1, 2.0))
    return {"int+float": ints + half, "int/int": ints / Tensor(rng.integers(1, 5, size=(3,))),
            "f32+0d64": x32 * Tensor(np.float64(half)), "int+0d64": ints - Tensor(np.float64(half)),
            "int**0.5": ints ** 0.5, "2**f32": 2 ** x32, "2**int": 2 ** ints, "base**int": half ** ints}


@probe("matmul")
def matmul_shapes(rng):
    Tensor = _tensor()
    n = int(rng.integers(2, 5))
    a = Tensor(rng.normal(size=(2, 3, n)))
    b = Tensor(rng.normal(size=(n, 4)))
    v = Tensor(rng.normal(size=(n,)))
    return {"batched": a @ b, "vector": v @ v, "matrix_vector": b.transpose(0, 1) @ v}


@probe("matmul")
def matmul_mismatch(rng):
    Tensor = _tensor()
    return Tensor(np.ones((2, 3))) @ Tensor(np.ones((int(rng.integers(4, 7)), 2)))


@probe("shape")
def reshape_transpose_permute(rng):
    Tensor = _tensor()
    x = Tensor(rng.normal(size=(2, 3, 4)))
    return {"reshape": x.reshape(4, -1), "transpose": x.transpose(0, 2), "permute": x.permute(2, 0, 1), "T": x.T}


@probe("shape")
def reshape_error(rng):
    Tensor = _tensor()
    return Tensor(np.zeros((2, 3))).reshape(int(rng.integers(4, 6)), -1)


@probe("reductions")
def reductions(rng):
    Tensor = _tensor()
    x = Tensor(rng.normal(size=(2, 3, 4)))
    return {
        "sum": x.sum(), "sum0": x.sum(axis=0), "sum-1k": x.sum(axis=-1, keepdims=True), "sum_tuple": x.sum(axis=(0, -1)),
        "mean": x.mean(axis=1), "mean_k": x.mean(axis=(0, 2), keepdims=True), "max": x.max(axis=-2), "max_all": x.max(),
    }


@probe("reductions")
def reductions_with_pytorch_names(rng):
    Tensor = _tensor()
    x = Tensor(rng.normal(size=(2, 3, 4)), requires_grad=True)
    d = int(rng.integers(-3, 3))
    out = x.sum(dim=d, keepdim=True)
    return {"sum": out, "args": sorted(out.node.args.items()), "mean": x.mean(dim=(0, -1)), "max": x.max(dim=d),
            "argmax": x.argmax(dim=d, keepdim=True)}


@probe("reductions")
def reduction_with_both_spellings(rng):
    Tensor = _tensor()
    return Tensor(rng.normal(size=(2, 3))).mean(dim=1, axis=1)


@probe("reductions")
def reduction_axis_error(rng):
    Tensor = _tensor()
    return Tensor(np.zeros((2, 3))).sum(axis=int(rng.integers(2, 5)))


@probe("indexing")
def indexing_and_comparisons(rng):
    Tensor = _tensor()
    x = Tensor(rng.normal(size=(4, 5)))
    rows = Tensor(np.array([2, 0, 3]))
    mask = x > 0.0
    return {"row": x[1], "slice": x[1:3, ::2], "fancy": x[rows], "mask": x[mask], "lt": x < 0.5, "eq": x == x, "ge": x >= 0.0}
