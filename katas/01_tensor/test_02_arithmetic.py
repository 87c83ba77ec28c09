"""Step 2: arithmetic — + - * / neg pow exp log, broadcasting, reflected operators, recording."""

import operator

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from dojo.testing import arrays, assert_close, broadcastable_pairs, nonzero_floats
from tinytorch.tensor import Tensor

# Hypothesis's "explain" phase re-runs a failing test many times to annotate the example; on a
# stub that raises at once it costs seconds and says nothing, so these tests skip it.

BINARY = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}


def _pair():
    rng = np.random.default_rng(0)
    return rng.uniform(-3, 3, size=(2, 3)), rng.uniform(0.5, 3, size=(2, 3))


@pytest.mark.parametrize("symbol", list(BINARY))
def test_binary_ops_match_numpy(symbol):
    """a + b, a - b, a * b and a / b are elementwise and equal NumPy's result (same shape).

    Hint: __add__, __sub__, __mul__ and __truediv__ each return a NumPy array from self.data and other.data
    (other is already a Tensor): check each uses its own ufunc (np.subtract, np.true_divide, not floor
    division) with the operands in the order self, other.
    """
    a, b = _pair()
    f = BINARY[symbol]
    assert_close(f(Tensor(a), Tensor(b)), f(a, b), dtype=np.float64, what=f"a {symbol} b")


def test_neg_matches_numpy():
    """-t negates every element.

    Hint: __neg__ returns a new array with every sign flipped (np.negative of self.data); returning self.data,
    or flipping it in place, fails.
    """
    a, _ = _pair()
    assert_close(-Tensor(a), -a, dtype=np.float64, what="-t")


def test_pow_matches_numpy():
    """t ** 2, t ** 3 and t ** 0.5 (on positive values) equal NumPy's power.

    Hint: __pow__ receives a plain number exponent: np.power(self.data, exponent); for a float tensor cast the
    exponent to its dtype (self.data.dtype.type(exponent)) rather than squaring by hand or using exp/log.
    """
    _, b = _pair()
    for exponent in (2, 3, 0.5):
        assert_close(Tensor(b) ** exponent, b**exponent, dtype=np.float64, what=f"t ** {exponent}")


def test_exp_and_log_match_numpy():
    """t.exp() and t.log() (on positive values) are elementwise e**x and ln x.

    Hint: exp and log are np.exp and np.log of self.data: check they are not swapped and that log is not
    np.log10 or np.log1p.
    """
    a, b = _pair()
    assert_close(Tensor(a).exp(), np.exp(a), dtype=np.float64, what="t.exp()")
    assert_close(Tensor(b).log(), np.log(b), dtype=np.float64, what="t.log()")


@st.composite
def broadcast_operands(draw):
    """Two arrays whose shapes broadcast together (the divisor b kept away from 0)."""
    shape_a, shape_b, _ = draw(broadcastable_pairs(), label="shapes")
    return draw(arrays(shape_a), label="a"), draw(arrays(shape_b, elements=nonzero_floats()), label="b")


# The edge cases the property is about: rank extension, a 0-d operand, size-1 axes on both
# sides, same shapes; asymmetric ops (- and /) so that swapped operands show.
@given(operands=broadcast_operands(), symbol=st.sampled_from(list(BINARY)))
@example(operands=(np.array([[0.0], [1.0], [2.0]]), np.array([1.0, -2.0, 3.0, 0.5])), symbol="-")
@example(operands=(np.array([[0.0], [1.0], [2.0]]), np.array([1.0, -2.0, 3.0, 0.5])), symbol="/")
@example(operands=(np.array(2.5), np.array([[1.0, -2.0], [0.5, 3.0]])), symbol="-")
@example(operands=(np.array([[1.0, -2.0]]), np.array([[0.5], [2.0], [-3.0]])), symbol="/")
@example(operands=(np.array([[1.0, -2.0], [0.5, 3.0]]), np.array(-1.5)), symbol="+")
@example(operands=(np.array([[1.0, 2.0, 3.0]]), np.array([[2.0, 2.0, 2.0]])), symbol="*")
def test_binary_ops_broadcast_like_numpy(operands, symbol):
    """Binary ops broadcast: shapes are aligned from the right, sizes must match or be 1, and a
    missing leading dimension counts as 1 ((3, 1) + (4,) gives (3, 4)).

    Hint: NumPy's ufuncs already broadcast (a 0-d operand, size-1 axes on both sides, missing leading dims):
    do not compare shapes yourself, only translate NumPy's ValueError; and keep the operand order for - and /.
    """
    a, b = operands
    f = BINARY[symbol]
    out = f(Tensor(a), Tensor(b))
    assert_close(out, f(a, b), what=f"{a.shape} {symbol} {b.shape}")
    assert out.shape == np.broadcast_shapes(a.shape, b.shape)


def test_rank_extension_example():
    """(3, 1) + (4,) gives a (3, 4) tensor: out[i, j] = a[i, 0] + b[j].

    Hint: (3, 1) + (4,) is legal (shapes align from the right, a missing leading dim counts as 1): a check
    that wants equal shapes or equal ndim rejects it; let np.add decide and only reword its ValueError.
    """
    a = np.array([[0.0], [10.0], [20.0]])
    b = np.array([1.0, 2.0, 3.0, 4.0])
    assert_close(Tensor(a) + Tensor(b), a + b, what="(3, 1) + (4,)")


@pytest.mark.parametrize("symbol", list(BINARY))
def test_incompatible_shapes_name_both_shapes(symbol):
    """(2, 3) and (4, 5) do not broadcast: a ValueError whose message names both shapes
    written as Python tuples, "(2, 3)" and "(4, 5)" (NumPy's own message does not).

    Hint: NumPy's broadcast error does not write '(2, 3)': wrap each ufunc call in try/except ValueError and
    raise your own ValueError with self.shape and other.shape in it (a helper shared by + - * / avoids
    repeating).
    """
    f = BINARY[symbol]
    with pytest.raises(ValueError) as error:
        f(Tensor(np.ones((2, 3))), Tensor(np.ones((4, 5))))
    message = str(error.value)
    assert "(2, 3)" in message and "(4, 5)" in message, f"the message should name both shapes, got: {message}"


def test_reflected_operators():
    """A number on the left works and keeps the order: 2 + t, 2 - t (not t - 2), 2 * t, 2 / t
    (not t / 2), and a NumPy scalar: np.float64(2) * t.

    Hint: 2 - t calls t.__rsub__(2), which must compute 2 - t: lift the number (self.lift(other)) and put it
    on the left; __rtruediv__ likewise. np.float64(2) * t lands in __rmul__, which must return a Tensor.
    """
    values = np.array([1.0, 2.0, 4.0])
    t = Tensor(values)
    assert_close(2 + t, 2 + values, what="2 + t")
    assert_close(2 - t, 2 - values, what="2 - t")
    assert_close(2 * t, 2 * values, what="2 * t")
    assert_close(2 / t, 2 / values, what="2 / t")
    out = np.float64(2) * t
    assert isinstance(out, Tensor), f"np.float64(2) * t should be a Tensor, got {type(out).__name__}"
    assert_close(out, 2 * values, what="np.float64(2) * t")


def test_tensor_and_python_number():
    """A Python number on the right works too: t + 1, t - 1, t * 3, t / 2, t ** 2.

    Hint: The scaffolding lifts a Python number to a Tensor before a binary op runs: use other.data, never
    other, in every op; t ** 2 goes to __pow__, whose exponent stays a plain number.
    """
    values = np.array([1.0, 2.0, 4.0])
    t = Tensor(values)
    for name, got, want in [("t + 1", t + 1, values + 1), ("t - 1", t - 1, values - 1), ("t * 3", t * 3, values * 3),
                            ("t / 2", t / 2, values / 2), ("t ** 2", t**2, values**2)]:
        assert_close(got, want, what=name)


def test_float32_with_python_number_stays_float32():
    """float32 tensor op Python scalar stays float32, as in PyTorch (2.5 is not a float64 array).

    Hint: Every op must return the dtype its operands arrive in: look for float64 sneaking in (astype(float),
    np.array(..., dtype=float), np.float64 constants) and, in __pow__, cast the exponent to the tensor's
    dtype; reflected ops should go through self.lift(other).
    """
    t = Tensor([1.0, 2.0, 4.0])
    for name, out in [("t + 2.5", t + 2.5), ("t * 2", t * 2), ("2 - t", 2 - t), ("t / 3", t / 3), ("2.0 / t", 2.0 / t),
                      ("t ** 2", t**2), ("-t", -t), ("t.exp()", t.exp()), ("np.float64(2) * t", np.float64(2) * t)]:
        assert out.dtype == np.float32, f"{name} has dtype {out.dtype}, expected float32"


def test_integer_division_gives_floats():
    """/ is true division: Tensor([1, 2]) / 2 gives [0.5, 1.0], not [0, 1].

    Hint: __truediv__ is @op('div', floating=True), so integer operands already arrive as float32: use
    np.true_divide (or /), never np.floor_divide or //, and do not cast the result back to self.dtype.
    """
    out = Tensor([1, 2]) / 2
    assert out.dtype.kind == "f", f"int tensor / 2 has dtype {out.dtype}, expected a float dtype"
    assert_close(out, [0.5, 1.0])


def test_result_records_op_and_inputs():
    """c = a + b with a.requires_grad records c.node: op "add", inputs (a, b) — the very same
    objects, in order — and c.requires_grad is True. The @op decorator does this for you: return
    a NumPy array from the op.

    Hint: Each operator must compute its result in its own @op method and return a NumPy array: a - b written
    as a + (-b), or a / b as a * b ** -1, records 'add' or 'mul' instead of 'sub' or 'div'.
    """
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0, 4.0])
    c = a + b
    assert isinstance(c, Tensor) and c.requires_grad
    assert c.node is not None and c.node.op == "add", f"c.node is {c.node!r}"
    assert len(c.node.inputs) == 2 and c.node.inputs[0] is a and c.node.inputs[1] is b
    for symbol, name in [("-", "sub"), ("*", "mul"), ("/", "div")]:
        out = BINARY[symbol](a, b)
        assert out.node.op == name, f"a {symbol} b records op {out.node.op!r}, expected {name!r}"
    assert (-a).node.op == "neg" and a.exp().node.op == "exp" and a.log().node.op == "log"


def test_no_node_when_nothing_requires_grad():
    """When no input requires a gradient, the result has node None and requires_grad False.

    Hint: The decorator records nothing when no input requires grad: return a plain NumPy array and never set
    .node or requires_grad=True yourself.
    """
    c = Tensor([1.0, 2.0]) * Tensor([3.0, 4.0])
    assert isinstance(c, Tensor)
    assert c.node is None and c.requires_grad is False


def test_pow_records_exponent():
    """t ** 2 records op "pow" with args {"exponent": 2} (the backward needs the exponent).

    Hint: args are recorded by parameter name: keep the signature __pow__(self, exponent) and compute the
    power inside it with np.power; routing t ** 2 through t * t or exp/log records another op.
    """
    t = Tensor([1.0, 2.0], requires_grad=True)
    out = t**2
    assert out.node.op == "pow" and out.node.args == {"exponent": 2}, f"t ** 2 recorded {out.node!r}"
    assert out.node.inputs[0] is t


# (case, left operand, right operand, the dtype PyTorch gives) for +, - and * (and for / unless it
# is an integer dtype: / then gives float32), checked against torch 2.13. A NumPy array becomes a Tensor (np.array(0.5) a 0-d one); a bare Python number stays one.
PROMOTION = [
    ("int64 vector + Python float", np.array([1, 2]), 0.5, np.float32),
    ("Python float * int64 vector", 2.5, np.array([1, 2]), np.float32),
    ("float32 vector + 0-d float64", np.array([1.0, 2.0], np.float32), np.array(0.5), np.float32),
    ("0-d float64 - float32 matrix", np.array(0.5), np.ones((2, 2), np.float32), np.float32),
    ("0-d float32 + 0-d float64", np.array(1.0, np.float32), np.array(0.5), np.float64),
    ("int64 vector + 0-d float64", np.array([1, 2]), np.array(0.5), np.float64),
    ("int32 vector + 0-d int64", np.array([1, 2], np.int32), np.array(3), np.int32),
    ("int32 vector + Python int", np.array([1, 2], np.int32), 3, np.int32),
    ("float16 vector * Python float", np.array([1.0, 2.0], np.float16), 0.5, np.float16),
    ("float32 vector * float64 vector", np.array([1.0, 2.0], np.float32), np.array([3.0, 4.0]), np.float64),
    ("int64 vector + float16 vector", np.array([1, 2]), np.array([0.5, 0.25], np.float16), np.float16),
]


@pytest.mark.parametrize("case", PROMOTION, ids=[case[0] for case in PROMOTION])
def test_dtype_promotion_follows_pytorch(case):
    """Result dtypes follow PyTorch, not NumPy: a Python number never widens a tensor (an int
    tensor plus 0.5 is float32, not float64); a tensor with dimensions wins over a 0-d tensor of
    the same kind (float32 matrix + 0-d float64 stays float32); a higher kind wins whatever the
    shapes (int + 0-d float64 is float64); and / of integers is float32. The @op scaffolding
    converts both operands to that dtype before your code runs, so plain NumPy arithmetic on
    self.data and other.data gives it.

    Hint: The scaffolding (result_dtype) already casts both operands to PyTorch's result dtype, so plain NumPy
    on self.data and other.data is right: this fails when an op casts (e.g. the result .astype(self.dtype)) or
    rebuilds an operand with Tensor(...), which re-applies the creation defaults.
    """
    name, left, right, dtype = case
    a, b = (Tensor(v) if isinstance(v, np.ndarray) else v for v in (left, right))
    for symbol, f in BINARY.items():
        want = f(np.asarray(left, dtype=np.float64), np.asarray(right, dtype=np.float64))
        expected = np.float32 if symbol == "/" and np.dtype(dtype).kind in "iu" else dtype
        assert_close(f(a, b), want, dtype=expected, rtol=1e-3, what=f"{name} ({symbol})")


def test_integer_division_and_powers_give_float32():
    """Like PyTorch: int / int is float32 ([1, 2] / [2, 2] is [0.5, 1.0]), an int tensor to a
    float power is float32 (Tensor([4, 9]) ** 0.5 is [2., 3.]) while an int power stays int64,
    and exp/log of an int tensor are float32.

    Hint: /, exp and log receive float32 for ints (they are floating ops), but ** does not: in __pow__ an int
    tensor stays int for an int exponent, and must be cast to float32 first for a float one (np.power of int64
    by 0.5 is float64).
    """
    ints = Tensor([4, 9])
    assert_close(ints / Tensor([2, 2]), [2.0, 4.5], dtype=np.float32, what="int / int")
    assert_close(ints ** 0.5, [2.0, 3.0], dtype=np.float32, what="Tensor([4, 9]) ** 0.5")
    assert_close(ints ** 2, [16, 81], dtype=np.int64, what="Tensor([4, 9]) ** 2")
    assert_close(Tensor([0, 1]).exp(), [1.0, np.e], dtype=np.float32, what="Tensor([0, 1]).exp()")


def test_number_to_the_power_of_a_tensor():
    """2 ** t works (__rpow__), with the dtype of 2 + t: 2 ** Tensor([0., 1., 3.]) is float32
    [1., 2., 8.] exactly; 2 ** Tensor([1, 2, 3]) is int64 [2, 4, 8]; 2.5 ** an int tensor is
    float32; a float64 tensor stays float64.

    Hint: __rpow__ takes the dtype base + self would have (result_dtype(self.lift(base).data, self.data)) and
    computes np.power in it; int results are a plain Tensor, and float results need the exact np.power values
    (exp(3 * ln 2) is 8 only up to rounding).
    """
    assert_close(2 ** Tensor([0.0, 1.0, 3.0, -1.0]), [1.0, 2.0, 8.0, 0.5], dtype=np.float32, rtol=0, atol=0,
                 what="2 ** Tensor([0., 1., 3., -1.])")
    assert_close(2 ** Tensor([1, 2, 3]), [2, 4, 8], dtype=np.int64, what="2 ** Tensor([1, 2, 3])")
    assert_close(2.5 ** Tensor([1, 2]), [2.5, 6.25], dtype=np.float32, what="2.5 ** Tensor([1, 2])")
    x = np.array([0.5, -1.25, 2.0])
    assert_close(3.0 ** Tensor(x), 3.0 ** x, dtype=np.float64, what="3.0 ** float64 tensor")


def test_number_to_the_power_of_a_tensor_is_recorded():
    """2 ** x with x.requires_grad gives a tensor that requires grad and has a node (kata 05
    differentiates it: build it from ops that are recorded, e.g. exp(x · ln 2)).

    Hint: A float 2 ** x must come out of recorded ops: build it as (self * math.log(base)).exp(), not
    Tensor(np.power(...)) which has no node; then write the exact values into that result's .data[...] in
    place.
    """
    x = Tensor([0.5, 1.0], requires_grad=True)
    out = 2 ** x
    assert out.requires_grad and out.node is not None, f"2 ** x recorded nothing: node {out.node!r}"
    assert_close(out, 2.0 ** np.array([0.5, 1.0]), dtype=np.float32, what="2 ** x")
