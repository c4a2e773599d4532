"""The gradient checker itself: it passes correct layers and catches (and names) broken ones."""

from __future__ import annotations

import numpy as np
import pytest

from nnatlas.scratch import activations as act
from nnatlas.scratch.batchnorm import BatchNorm1d
from nnatlas.scratch.dropout import Dropout
from nnatlas.scratch.gradcheck import (
    gradcheck,
    gradcheck_directions,
    gradcheck_loss,
    numerical_gradient,
    rel_error,
)
from nnatlas.scratch.linear import Linear
from nnatlas.scratch.losses import CrossEntropyLoss
from nnatlas.scratch.models.mlp import MLP
from nnatlas.scratch.module import Parameter
from nnatlas.scratch.sequential import Sequential


class _BrokenWeightLinear(Linear):
    """A Linear whose weight gradient is wrong in one element, (1, 2)."""

    def backward(self, grad_out):
        grad_x = super().backward(grad_out)
        self.weight.grad[1, 2] *= 1.01
        return grad_x


class _BrokenInputTanh(act.Tanh):
    """Tanh that forgets the derivative (returns the upstream gradient unchanged)."""

    def backward(self, grad_out):
        return grad_out


def test_rel_error_is_cs231n_formula():
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert rel_error(np.array([1.0]), np.array([3.0])) == pytest.approx(0.5)
    assert rel_error(np.array([0.0]), np.array([1e-9])) == pytest.approx(0.1)  # 1e-8 floor


def test_numerical_gradient_of_a_known_function():
    x = np.array([[0.3, -1.2], [2.0, 0.5]])
    grad_out = np.array([[1.0, 2.0], [-1.0, 0.5]])
    numeric = numerical_gradient(lambda z: z**3, x, grad_out)
    np.testing.assert_allclose(numeric, 3 * x**2 * grad_out, rtol=1e-8)
    np.testing.assert_array_equal(x, [[0.3, -1.2], [2.0, 0.5]])  # restored after perturbing


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: Linear(4, 3), (5, 4)),
        (lambda: Sequential(Linear(4, 6), BatchNorm1d(6), act.GELU(), Linear(6, 2)), (5, 4)),
        (lambda: MLP(12, 3, hidden_sizes=(5,), activation="sigmoid", dropout=0.3), (4, 3, 4)),
        (lambda: act.Softmax(1), (3, 4, 2)),
    ],
)
def test_gradcheck_passes_correct_modules(make, shape):
    module = make()
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    report = gradcheck(module, x)
    assert report.passed, report
    assert "input" in report.per_tensor
    assert set(report.per_tensor) == {"input"} | {name for name, _ in module.named_parameters()}
    assert module.dtype in (np.float32, np.dtype(np.float32))  # checked on a float64 copy


def test_gradcheck_detects_a_broken_weight_gradient_and_names_it():
    report = gradcheck(_BrokenWeightLinear(4, 3), np.random.default_rng(0).standard_normal((5, 4)))
    assert not report.passed
    name, index, analytic, numeric = report.worst
    assert (name, index) == ("weight", (1, 2))
    assert analytic == pytest.approx(numeric * 1.01, rel=1e-6)
    assert report.per_tensor["bias"] < 1e-8 and report.per_tensor["input"] < 1e-8
    assert "weight" in str(report) and "FAIL" in str(report)


def test_gradcheck_detects_a_broken_input_gradient_inside_a_model():
    model = Sequential(Linear(4, 3), _BrokenInputTanh(), Linear(3, 2))
    report = gradcheck(model, np.random.default_rng(1).standard_normal((5, 4)))
    assert not report.passed
    assert report.per_tensor["input"] > 1e-3 and report.per_tensor["0.weight"] > 1e-3
    assert report.per_tensor["2.weight"] < 1e-8  # layers after the bug are still right


def test_directional_gradcheck_passes_a_model_and_catches_one_wrong_element():
    x = np.random.default_rng(2).standard_normal((6, 4))
    good = Sequential(Linear(4, 5), BatchNorm1d(5), act.Tanh(), Linear(5, 3))
    report = gradcheck_directions(good, x, directions=4)
    assert report.passed, report
    assert set(report.per_tensor) == {f"direction {k}" for k in range(4)}
    # A 1% error in one weight of the first layer shows along every direction.
    broken = Sequential(_BrokenWeightLinear(4, 5), act.Tanh(), Linear(5, 3))
    bad = gradcheck_directions(broken, x, directions=4)
    assert not bad.passed and min(bad.per_tensor.values()) > 1e-6
    # ... as does a broken input gradient in the middle of the model.
    assert not gradcheck_directions(
        Sequential(Linear(4, 3), _BrokenInputTanh(), Linear(3, 2)), x
    ).passed


def test_gradcheck_freezes_dropout_masks_and_keeps_the_callers_module():
    layer = Dropout(0.5, rng=np.random.default_rng(0))
    report = gradcheck(layer, np.random.default_rng(1).standard_normal((6, 5)))
    assert report.passed, report
    assert layer.fixed_mask is None


def test_gradcheck_callable_with_tuple_output_and_extra_arguments():
    """The generic form, as a recurrent cell uses it: forward(x) -> (y, state)."""
    rng = np.random.default_rng(2)
    w = Parameter(rng.standard_normal((3, 3)))
    h0 = rng.standard_normal((2, 3))
    cache = {}

    def forward(x):
        cache["pre"] = x @ w.data.T + h0
        y = np.tanh(cache["pre"])
        return y, (y * 2.0,)

    def backward(grads):
        g_y, (g_state,) = grads
        g_pre = (g_y + 2.0 * g_state) * (1 - np.tanh(cache["pre"]) ** 2)
        w.accumulate(g_pre.T @ cache["x"])
        return g_pre @ w.data

    def forward_with_cache(x):
        cache["x"] = x
        return forward(x)

    report = gradcheck(
        forward_with_cache, rng.standard_normal((2, 3)), backward=backward, params=[("w", w)]
    )
    assert report.passed, report
    with pytest.raises(TypeError, match="pass backward= and params="):
        gradcheck(forward, np.zeros((2, 3)))
    w32 = Parameter(np.zeros((3, 3), dtype=np.float32))
    with pytest.raises(TypeError, match="parameter 'w' is float32"):
        gradcheck(forward, np.zeros((2, 3)), backward=backward, params=[("w", w32)])


def test_gradcheck_loss_passes_and_detects_a_wrong_gradient():
    rng = np.random.default_rng(3)
    logits, target = rng.standard_normal((5, 4)), np.array([0, 3, 1, -100, 2])
    assert gradcheck_loss(CrossEntropyLoss(label_smoothing=0.1), logits, target).passed

    class _Wrong(CrossEntropyLoss):
        def backward(self, grad=1.0):
            return super().backward(grad) * 1.001

    report = gradcheck_loss(_Wrong(), logits, target)
    assert not report.passed and report.worst[0] == "input"


def test_gradcheck_handles_a_parameter_whose_true_gradient_is_zero():
    # A bias before BatchNorm cannot change the output: its gradient is exactly zero in theory and
    # round-off numerically; the scale-relative floor must not report that as a failure ...
    model = Sequential(Linear(4, 6), BatchNorm1d(6), act.Tanh())
    report = gradcheck(model, np.random.default_rng(4).standard_normal((5, 4)))
    assert report.passed, report
    # ... while a real error of the same small relative size elsewhere is still caught.
    broken = Sequential(_BrokenWeightLinear(4, 6), BatchNorm1d(6), act.Tanh())
    assert not gradcheck(broken, np.random.default_rng(4).standard_normal((5, 4))).passed
