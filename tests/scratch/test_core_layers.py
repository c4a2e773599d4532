"""Core scratch layers against PyTorch: activations, Dropout, BatchNorm1d, Sequential, MLP, init."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nnatlas.bridge.checks_basic import ACTIVATION_CASES
from nnatlas.scratch import activations as act
from nnatlas.scratch import init
from nnatlas.scratch.batchnorm import BatchNorm1d
from nnatlas.scratch.dropout import Dropout
from nnatlas.scratch.linear import Linear
from nnatlas.scratch.models.mlp import MLP
from nnatlas.scratch.module import ShapeError
from nnatlas.scratch.sequential import Sequential

# The activation checks' own table (nnatlas.bridge.checks_basic.ACTIVATION_CASES).
ACTIVATION_PAIRS = list(ACTIVATION_CASES.values())


def _torch_forward_backward(module, x, g):
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    out = module(xt)
    out.backward(torch.from_numpy(g))
    return out.detach().numpy(), xt.grad.numpy()


@pytest.mark.parametrize("make_s, make_t", ACTIVATION_PAIRS, ids=ACTIVATION_CASES)
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_activation_matches_torch(make_s, make_t, dtype, tol):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((4, 3, 5)) * 3).astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    layer = make_s()
    out = layer(x)
    grad = layer.backward(g)
    assert out.dtype == dtype and grad.dtype == dtype
    out_t, grad_t = _torch_forward_backward(make_t(), x, g)
    np.testing.assert_allclose(out, out_t, atol=tol, rtol=tol)
    np.testing.assert_allclose(grad, grad_t, atol=tol, rtol=tol)


def test_sigmoid_and_softmax_are_stable_for_huge_inputs():
    x = np.array([[-1000.0, 0.0, 1000.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        assert np.all(np.isfinite(act.Sigmoid()(x)))
        probs = act.Softmax()(x)
    np.testing.assert_allclose(probs, [[0.0, 0.0, 1.0]])


def test_relu_gradient_at_zero_is_zero_like_torch():
    layer = act.ReLU()
    layer(np.zeros((1, 3)))
    np.testing.assert_array_equal(layer.backward(np.ones((1, 3))), np.zeros((1, 3)))


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate"):
        act.GELU("fast")


def test_backward_before_forward_names_the_layer():
    with pytest.raises(RuntimeError, match="Tanh: backward called before forward"):
        act.Tanh().backward(np.ones(3))


# -- Dropout --------------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_validates_p(p):
    with pytest.raises(ValueError, match="Dropout: p must be a probability"):
        Dropout(p)


def test_dropout_train_scales_kept_units_and_eval_is_identity():
    rng = np.random.default_rng(0)
    layer = Dropout(0.3, rng=rng)
    x = np.ones((200, 100))
    out = layer(x)
    kept = out != 0
    assert abs(kept.mean() - 0.7) < 0.01  # 20,000 draws: the std of the fraction is 0.003
    np.testing.assert_allclose(out[kept], 1 / 0.7)
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), out)  # same mask, same scale
    layer.eval()
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer.backward(x), x)


def test_dropout_p1_gives_zeros_and_fixed_mask_checks_shape():
    np.testing.assert_array_equal(Dropout(1.0)(np.ones((2, 3))), np.zeros((2, 3)))
    layer = Dropout(0.5)
    layer.fixed_mask = np.ones((2, 2), dtype=bool)
    with pytest.raises(ShapeError, match="fixed_mask has shape"):
        layer(np.ones((2, 3)))


def test_dropout_same_seed_same_mask():
    x = np.ones((5, 5))
    a = Dropout(0.5, rng=np.random.default_rng(3))(x)
    b = Dropout(0.5, rng=np.random.default_rng(3))(x)
    np.testing.assert_array_equal(a, b)


# -- BatchNorm1d ----------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(8, 4), (5, 4, 3)])
@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
def test_batchnorm1d_running_stats_follow_torch_over_steps(shape, momentum):
    rng = np.random.default_rng(0)
    layer = BatchNorm1d(4, momentum=momentum, dtype=np.float64)
    twin = torch.nn.BatchNorm1d(4, momentum=momentum).double()
    for _ in range(3):
        x = rng.standard_normal(shape) * 2 + 1
        g = rng.standard_normal(shape)
        out = layer(x)
        grad = layer.backward(g)
        out_t, grad_t = _torch_forward_backward(twin, x, g)
        np.testing.assert_allclose(out, out_t, atol=1e-12)
        np.testing.assert_allclose(grad, grad_t, atol=1e-12)
    np.testing.assert_allclose(layer.running_mean, twin.running_mean.numpy(), atol=1e-12)
    np.testing.assert_allclose(layer.running_var, twin.running_var.numpy(), atol=1e-12)
    assert int(layer.num_batches_tracked) == int(twin.num_batches_tracked) == 3
    layer.eval()
    twin.eval()
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(layer(x), twin(torch.from_numpy(x)).detach().numpy(), atol=1e-12)


def test_batchnorm1d_eval_uses_running_stats_not_batch_stats():
    layer = BatchNorm1d(2, dtype=np.float64).eval()
    layer.running_mean = np.array([1.0, -1.0])
    layer.running_var = np.array([4.0, 1.0])
    out = layer(np.array([[1.0, -1.0], [3.0, 0.0]]))
    np.testing.assert_allclose(
        out, [[0.0, 0.0], [2 / math.sqrt(4 + 1e-5), 1 / math.sqrt(1 + 1e-5)]]
    )


def test_batchnorm1d_state_dict_keys_match_torch():
    assert set(BatchNorm1d(3).state_dict()) == set(torch.nn.BatchNorm1d(3).state_dict())


def test_batchnorm1d_errors_name_the_layer_and_shape():
    with pytest.raises(ShapeError, match=r"BatchNorm1d: expected 4 channels .* got shape \(2, 3\)"):
        BatchNorm1d(4)(np.ones((2, 3)))
    with pytest.raises(ShapeError, match=r"expected input of shape \(N, C\) or \(N, C, L\)"):
        BatchNorm1d(4)(np.ones((2, 4, 3, 3)))
    with pytest.raises(ShapeError, match="more than 1 value per channel"):
        BatchNorm1d(4)(np.ones((1, 4)))


# -- Sequential -----------------------------------------------------------------------------------
def test_sequential_names_children_like_torch_and_indexes():
    model = Sequential(Linear(3, 4), act.ReLU(), Linear(4, 2))
    names = [name for name, _ in model.named_parameters()]
    twin = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    assert names == [name for name, _ in twin.named_parameters()]
    assert len(model) == 3 and isinstance(model[1], act.ReLU) and isinstance(model[-1], Linear)
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear"]
    with pytest.raises(IndexError, match="out of range for 3 layers"):
        model[5]
    with pytest.raises(TypeError, match="argument 0 must be a scratch Module"):
        Sequential(torch.nn.ReLU())


def test_sequential_backward_chains_in_reverse_and_error_names_the_path():
    rng = np.random.default_rng(0)
    model = Sequential(Linear(3, 4, rng=rng), act.Tanh(), Linear(4, 2, rng=rng))
    x = rng.standard_normal((5, 3))
    grad = model.backward(np.ones((5, 2))) if model(x) is not None else None
    manual = model[0].backward(model[1].backward(model[2].backward(np.ones((5, 2)))))
    np.testing.assert_allclose(grad, manual)
    broken = Sequential(Linear(3, 4), act.ReLU(), Linear(5, 2))
    with pytest.raises(ShapeError, match=r"Linear \(2\): expected input of shape \(N, \*, 5\)"):
        broken(x)


# -- MLP ------------------------------------------------------------------------------------------
def test_mlp_state_dict_keys_follow_layouts():
    assert list(MLP(784, 10).state_dict()) == [
        "features.0.weight",
        "features.0.bias",
        "features.2.weight",
        "features.2.bias",
        "head.weight",
        "head.bias",
    ]
    keys = MLP(20, 3, hidden_sizes=(8,), batchnorm=True, dropout=0.2).state_dict()
    assert set(keys) == {
        "features.0.weight",
        "features.0.bias",
        "features.1.weight",
        "features.1.bias",
        "features.1.running_mean",
        "features.1.running_var",
        "features.1.num_batches_tracked",
        "head.weight",
        "head.bias",
    }


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mlp_flattens_images_keeps_dtype_and_round_trips_npz(tmp_path, dtype):
    rng = np.random.default_rng(0)
    model = MLP(12, 3, hidden_sizes=(8, 6), batchnorm=True, dtype=dtype, rng=rng).eval()
    x = rng.standard_normal((4, 3, 4)).astype(dtype)
    out = model(x)
    assert out.shape == (4, 3) and out.dtype == dtype
    assert model.backward(np.ones_like(out)).shape == x.shape
    path = model.save(tmp_path / "mlp.npz")
    clone = MLP(12, 3, hidden_sizes=(8, 6), batchnorm=True, dtype=dtype).eval()
    clone.load(path)
    np.testing.assert_array_equal(clone(x), out)


def test_mlp_bad_input_and_arguments_are_explained():
    with pytest.raises(ShapeError, match=r"MLP: expected \(N, \*\) with 12 values per example"):
        MLP(12, 3, hidden_sizes=(4,))(np.ones((2, 5)))
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        MLP(12, 3, activation="swish")
    with pytest.raises(ValueError, match="hidden_sizes"):
        MLP(12, 3, hidden_sizes=())


# -- init -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(6, 4), (8, 3, 5, 5), (2, 7, 3)])
def test_fan_in_fan_out_match_torch(shape):
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init.calculate_fan_in_and_fan_out(np.empty(shape)) == expected
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.calculate_fan_in_and_fan_out(np.empty(5))


@pytest.mark.parametrize(
    "nonlinearity, param",
    [
        ("linear", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.2),
        ("selu", None),
        ("conv2d", None),
    ],
)
def test_gain_table_matches_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param)
    )


def _torch_bound_std(fn, shape, **kwargs):
    t = torch.empty(shape, dtype=torch.float64)
    torch.manual_seed(0)
    fn(t, **kwargs)
    return t.abs().max().item(), t.std().item()


@pytest.mark.parametrize(
    "ours, theirs, kwargs",
    [
        (init.xavier_uniform_, torch.nn.init.xavier_uniform_, {"gain": 2.0}),
        (init.xavier_normal_, torch.nn.init.xavier_normal_, {}),
        (init.kaiming_uniform_, torch.nn.init.kaiming_uniform_, {"a": math.sqrt(5)}),
        (
            init.kaiming_uniform_,
            torch.nn.init.kaiming_uniform_,
            {"mode": "fan_out", "nonlinearity": "relu"},
        ),
        (init.kaiming_normal_, torch.nn.init.kaiming_normal_, {"nonlinearity": "relu"}),
    ],
)
def test_init_distributions_match_torch(ours, theirs, kwargs):
    shape = (300, 200, 3)
    array = np.empty(shape)
    returned = ours(array, rng=np.random.default_rng(0), **kwargs)
    assert returned is array
    _, std_t = _torch_bound_std(theirs, shape, **kwargs)
    assert array.std() == pytest.approx(std_t, rel=0.01)  # 180,000 draws: std error ~0.2 %
    if "uniform" in ours.__name__:
        bound = math.sqrt(3) * std_t
        assert array.max() <= bound * 1.01 and array.max() > bound * 0.99


def test_init_fills_parameters_in_place_and_linear_default_is_kaiming_a_sqrt5():
    layer = Linear(400, 300, dtype=np.float64, rng=np.random.default_rng(0))
    bound = math.sqrt(3) * init.calculate_gain("leaky_relu", math.sqrt(5)) / math.sqrt(400)
    assert bound == pytest.approx(1 / math.sqrt(400))
    assert np.abs(layer.weight.data).max() <= bound
    init.zeros_(layer.bias)
    init.ones_(layer.weight)
    assert not layer.bias.data.any() and (layer.weight.data == 1).all()
    assert layer.weight.data.dtype == np.float64


def test_sequential_slice_keeps_names_like_torch():
    model = Sequential(Linear(3, 4), act.ReLU(), Linear(4, 2), act.Tanh())
    twin = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    assert list(model[2:].state_dict()) == list(twin[2:].state_dict()) == ["2.weight", "2.bias"]
    assert len(model[:2]) == 2
