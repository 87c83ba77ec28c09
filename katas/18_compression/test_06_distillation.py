"""Step 6: distillation — alpha · T² · KL(softmax(t/T) ‖ softmax(s/T)) + (1 − alpha) · cross-entropy."""

import numpy as np
import pytest

from dojo.testing import assert_close, gradcheck, raises
from tinytorch.compression import distillation_loss
from tinytorch.losses import cross_entropy
from tinytorch.tensor import Tensor

G = np.random.default_rng(0)
STUDENT = G.uniform(-3, 3, size=(4, 5))
TEACHER = G.uniform(-3, 3, size=(4, 5))
TARGETS = np.array([0, 3, 1, 4])


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def reference(s, t, y, T, alpha):
    p, q = softmax(t / T), softmax(s / T)
    kl = (p * (np.log(p) - np.log(q))).sum(axis=-1).mean()
    ce = -np.log(softmax(s)[np.arange(len(y)), y]).mean()
    return alpha * T * T * kl + (1 - alpha) * ce


@pytest.mark.parametrize("T", [1.0, 4.0])
def test_alpha_zero_is_cross_entropy(T):
    """alpha = 0 leaves only the hard labels: the loss equals cross_entropy(student, targets), whatever T.

    Hint: the hard term is (1 - alpha) · cross_entropy(student_logits, targets) at temperature 1 (do not
    divide the student by T there); with alpha = 0 nothing else remains.
    """
    got = distillation_loss(Tensor(STUDENT), Tensor(TEACHER), Tensor(TARGETS), temperature=T, alpha=0.0)
    assert_close(got, cross_entropy(Tensor(STUDENT), Tensor(TARGETS)), rtol=1e-12, atol=1e-12, what="loss at alpha 0")


@pytest.mark.parametrize("T,alpha", [(1.0, 1.0), (2.0, 0.5), (4.0, 0.9), (0.5, 0.3)])
def test_matches_the_definition(T, alpha):
    """alpha · T² · mean over rows of Σ p (log p − log q) + (1 − alpha) · CE, in float64.

    Hint: soft term: alpha · T² · mean over rows of Σ_c p_c (log p_c - log q_c), p = softmax(teacher / T) and
    log q = log_softmax(student / T, axis=-1); keep the result a 0-d Tensor in the student's dtype.
    """
    got = distillation_loss(Tensor(STUDENT), Tensor(TEACHER), Tensor(TARGETS), temperature=T, alpha=alpha)
    assert got.shape == () and got.dtype == np.float64, f"got shape {got.shape}, dtype {got.dtype}"
    assert_close(got, reference(STUDENT, TEACHER, TARGETS, T, alpha), rtol=1e-10, what=f"loss at T={T}, alpha={alpha}")


def test_a_student_equal_to_its_teacher_has_no_soft_loss():
    """alpha = 1 and identical logits: KL(p ‖ p) = 0.

    Hint: KL(p ‖ p) is 0 only if the teacher and student sides use the same formula and temperature: compute
    log p stably (z - max - log Σ exp) and log q with log_softmax on student / T.
    """
    got = distillation_loss(Tensor(STUDENT), Tensor(STUDENT), Tensor(TARGETS), temperature=3.0, alpha=1.0)
    assert_close(got, 0.0, atol=1e-12, what="distillation loss of a perfect student")


@pytest.mark.parametrize("T", [2.0, 5.0])
def test_soft_gradient_is_T_times_q_minus_p_over_N(T):
    """With alpha = 1 the gradient with respect to the student's logits is T · (q − p) / N (the reason for T²).

    Hint: the gradient T·(q - p)/N needs the factor T² on the soft term, the mean over rows (not the sum), and
    log q from log_softmax(student / T) as a recorded op.
    """
    s = Tensor(STUDENT, requires_grad=True)
    distillation_loss(s, Tensor(TEACHER), Tensor(TARGETS), temperature=T, alpha=1.0).backward()
    expected = T * (softmax(STUDENT / T) - softmax(TEACHER / T)) / len(STUDENT)
    assert_close(s.grad, expected, rtol=1e-9, atol=1e-12, what="gradient of the soft term")


@pytest.mark.parametrize("T,alpha", [(2.0, 0.5), (0.7, 0.25), (3.0, 0.9)])
def test_gradcheck(T, alpha):
    """Autograd's gradient with respect to the student's logits equals central differences (float64), on every
    coordinate of 3 rows of 5 logits.

    Hint: build the loss only from Tensor ops on the student (log_softmax, *, sum, mean, cross_entropy); the
    teacher's p and log p are NumPy constants wrapped in Tensor, and never use log(softmax(...)).
    """
    gradcheck(lambda s, t: distillation_loss(s, t, Tensor(TARGETS[:3]), temperature=T, alpha=alpha),
              [STUDENT[:3], TEACHER[:3]], wrt=[0])


def test_the_teacher_is_a_constant():
    """No gradient flows to the teacher, even when its logits require one.

    Hint: use the teacher's values (teacher_logits.data) to compute p in NumPy, so no graph edge leads to the
    teacher Tensor even when it requires grad.
    """
    t = Tensor(TEACHER, requires_grad=True)
    s = Tensor(STUDENT, requires_grad=True)
    distillation_loss(s, t, TARGETS, temperature=2.0, alpha=0.5).backward()
    assert t.grad is None, "the teacher got a gradient: use its values as constants"
    assert s.grad is not None


def test_float32_stays_float32_and_large_logits_stay_finite():
    """float32 logits of ±1000 give a finite float32 loss.

    Hint: compute the teacher's log p stably by subtracting the row max, cast the teacher to the student's
    dtype, and use log_softmax for the student: log(softmax) of ±1000 gives log 0 = -inf.
    """
    s = Tensor(np.array([[1000.0, -1000.0, 0.0]], dtype=np.float32))
    t = Tensor(np.array([[-1000.0, 1000.0, 0.0]], dtype=np.float32))
    got = distillation_loss(s, t, Tensor([0]), temperature=2.0, alpha=0.5)
    assert got.dtype == np.float32 and np.isfinite(got.item()), f"got {got.item()} ({got.dtype})"
    assert got.item() > 100, f"got {got.item()}: a teacher that disagrees this much costs a lot"


def test_bad_temperature_or_alpha_is_an_error():
    """temperature <= 0 and alpha outside [0, 1] are ValueErrors.

    Hint: raise ValueError at the top of distillation_loss when temperature <= 0 or alpha is outside [0, 1].
    """
    for kwargs in ({"temperature": 0.0}, {"temperature": -1.0}, {"alpha": 1.5}, {"alpha": -0.1}):
        with raises(ValueError):
            distillation_loss(Tensor(STUDENT), Tensor(TEACHER), Tensor(TARGETS), **kwargs)
