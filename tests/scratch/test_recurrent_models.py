"""The scratch CharLSTM: equal to its PyTorch twin (outputs, gradients, optimizer steps), state
carrying, sampling, and a real training run on Tiny Shakespeare whose loss must fall."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nnatlas.scratch.losses import CrossEntropyLoss
from nnatlas.scratch.models.char_lstm import CharLSTM
from nnatlas.scratch.module import ShapeError
from nnatlas.scratch.optim import Adam

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY_SHAKESPEARE = REPO_ROOT.parent / "shared" / "data" / "tinyshakespeare" / "input.txt"
V, E, HID, LAYERS = 11, 6, 5, 2


class TorchCharLSTM(torch.nn.Module):
    """The twin written out in torch, with the docs/LAYOUTS.md module tree."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = torch.nn.Embedding(V, E)
        self.rnn = torch.nn.LSTM(E, HID, LAYERS, batch_first=True)
        self.head = torch.nn.Linear(HID, V)

    def forward(self, x, state=None):
        out, state = self.rnn(self.embedding(x), state)
        return self.head(out), state


def _pair(seed: int = 0) -> tuple[CharLSTM, TorchCharLSTM]:
    model = CharLSTM(V, E, HID, LAYERS, dtype=np.float64, rng=np.random.default_rng(seed))
    twin = TorchCharLSTM().double()
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})
    return model, twin


def test_state_dict_keys_equal_torch_twin():
    model = CharLSTM(V, E, HID, LAYERS)
    assert list(model.state_dict()) == list(TorchCharLSTM().state_dict())


def test_outputs_gradients_and_adam_steps_match_torch():
    model, twin = _pair()
    rng = np.random.default_rng(1)
    opt, opt_t = Adam(model.parameters(), lr=0.05), torch.optim.Adam(twin.parameters(), lr=0.05)
    loss_fn, loss_t = CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    for _ in range(3):
        x = rng.integers(0, V, (3, 7))
        y = rng.integers(0, V, (3, 7))
        logits, (h, c) = model(x)
        loss = loss_fn(logits.reshape(-1, V), y.reshape(-1))
        opt.zero_grad()
        model.backward(loss_fn.backward().reshape(logits.shape))

        logits_t, (h_t, c_t) = twin(torch.from_numpy(x))
        opt_t.zero_grad()
        lt = loss_t(logits_t.reshape(-1, V), torch.from_numpy(y).reshape(-1))
        lt.backward()
        assert abs(float(loss) - lt.item()) < 1e-12
        assert np.abs(logits - logits_t.detach().numpy()).max() < 1e-12
        assert np.abs(c - c_t.detach().numpy()).max() < 1e-12
        torch_params = dict(twin.named_parameters())
        for name, p in model.named_parameters():
            assert np.abs(p.grad - torch_params[name].grad.numpy()).max() < 1e-12, name
        opt.step()
        opt_t.step()
    for name, value in twin.state_dict().items():
        assert np.abs(model.state_dict()[name] - value.numpy()).max() < 1e-10, name


def test_carried_state_equals_one_long_pass():
    model = CharLSTM(V, E, HID, LAYERS, dtype=np.float64, rng=np.random.default_rng(0))
    x = np.random.default_rng(1).integers(0, V, (2, 9))
    whole, _ = model(x)
    first, state = model(x[:, :4])
    second, _ = model(x[:, 4:], state)
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole, atol=1e-13)


def test_generate_is_reproducible_and_greedy_follows_argmax():
    model = CharLSTM(V, E, HID, LAYERS, rng=np.random.default_rng(0))
    a = model.generate([1, 2], 12, temperature=1.0, rng=np.random.default_rng(5))
    b = model.generate([1, 2], 12, temperature=1.0, rng=np.random.default_rng(5))
    assert a.shape == (14,) and np.array_equal(a, b) and list(a[:2]) == [1, 2]
    assert a.min() >= 0 and a.max() < V
    greedy = model.generate([3], 5, temperature=0)
    # the greedy continuation is, step by step, the argmax of the model run on the text so far
    for t in range(1, greedy.size):
        logits, _ = model(greedy[None, :t])
        assert greedy[t] == logits[0, -1].argmax()
    top1 = model.generate([3], 5, temperature=2.0, top_k=1, rng=np.random.default_rng(0))
    assert np.array_equal(top1, greedy)


def test_bad_inputs_name_the_model_part():
    model = CharLSTM(V, E, HID)
    with pytest.raises(ShapeError, match=r"\(N, T\)"):
        model(np.array([1, 2, 3]))
    with pytest.raises(IndexError, match=r"Embedding \(embedding\): token id 11 .* 0 \.\. 10"):
        model(np.array([[1, 11]]))
    with pytest.raises(ValueError, match="at least one id"):
        model.generate([], 3)


@pytest.mark.shared
@pytest.mark.skipif(not TINY_SHAKESPEARE.is_file(), reason=f"{TINY_SHAKESPEARE} not present")
def test_training_loss_falls_on_tiny_shakespeare():
    """60 Adam steps on random 32-character windows: the loss leaves ln(65) ~ 4.17 far behind."""
    text = TINY_SHAKESPEARE.read_text()
    chars = sorted(set(text))
    lookup = {ch: i for i, ch in enumerate(chars)}
    data = np.fromiter((lookup[ch] for ch in text), dtype=np.int64, count=len(text))
    rng = np.random.default_rng(0)
    model = CharLSTM(len(chars), 32, 128, num_layers=2, rng=rng)
    opt, loss_fn = Adam(model.parameters(), lr=1e-2), CrossEntropyLoss()
    batch, steps_t, losses = 32, 32, []
    for _ in range(60):
        starts = rng.integers(0, data.size - steps_t - 1, batch)
        x = np.stack([data[s : s + steps_t] for s in starts])  # (N, T)
        y = np.stack([data[s + 1 : s + steps_t + 1] for s in starts])  # next characters
        logits, _ = model(x)  # (N, T, V)
        losses.append(float(loss_fn(logits.reshape(-1, len(chars)), y.reshape(-1))))
        opt.zero_grad()
        model.backward(loss_fn.backward().reshape(logits.shape))
        opt.step()
    assert len(chars) == 65 and abs(losses[0] - np.log(65)) < 0.1
    assert np.mean(losses[-10:]) < 3.0, losses
