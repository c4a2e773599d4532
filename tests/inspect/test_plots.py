"""Every plot kind renders on a tiny model: a valid PNG, and JSON numbers that equal what the
test computes on its own (plain autograd, the layer itself, NumPy's equations, scikit-learn)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import nnatlas.inspect as inspect
from nnatlas.bridge import scratch_twin
from nnatlas.inspect.figures import InspectError
from nnatlas.models import create_model

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def check_png(figure: inspect.Figure) -> dict:
    """The PNG exists and decodes; the JSON beside it holds the figure's numbers."""
    assert figure.png.is_file() and figure.png.read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(figure.png) as image:
        image.verify()
    with Image.open(figure.png) as image:
        assert image.size[0] > 100 and image.size[1] > 100
    assert figure.json == figure.png.with_suffix(".json")
    data = json.loads(figure.json.read_text())
    assert data == figure.data
    return data


def test_training_curves(tmp_path: Path) -> None:
    history = [
        {
            "epoch": e,
            "step": 10 * e,
            "lr": 0.1 / e,
            "train_loss": 2.0 / e,
            "val_loss": 2.2 / e,
            "train_accuracy": 0.5 + 0.1 * e,
            "val_accuracy": 0.45 + 0.1 * e,
            "time_s": 1.0,
        }
        for e in (1, 2, 3)
    ]
    data = check_png(inspect.plot_curves(history, tmp_path / "curves.png"))
    assert data["epochs"] == [1, 2, 3]
    assert data["series"]["val_accuracy"] == [row["val_accuracy"] for row in history]
    assert data["series"]["lr"] == [row["lr"] for row in history]
    other = [dict(row, train_loss=row["train_loss"] / 2) for row in history]
    data = check_png(inspect.plot_curve_comparison({"a": history, "b": other}, tmp_path / "c.png"))
    assert data["b"]["train_loss"] == [row["train_loss"] / 2 for row in history]


def test_decision_boundary_of_a_2d_classifier(tmp_path: Path) -> None:
    from nnatlas.data import load_tabular_dataset

    torch.manual_seed(0)
    splits = load_tabular_dataset("moons", seed=0)
    x, y = splits.test.x, splits.test.y
    model = create_model("mlp", num_classes=2, in_features=2, hidden_sizes=[16])
    data = check_png(inspect.plot_decision_boundary(model, x, y, tmp_path / "b.png", resolution=40))
    xs, ys = np.asarray(data["x"]), np.asarray(data["y"])
    assert xs[0] == pytest.approx(float(x[:, 0].min()) - 0.5)
    gx, gy = np.meshgrid(xs, ys)
    grid = torch.tensor(np.stack([gx.ravel(), gy.ravel()], 1), dtype=torch.float32)
    with torch.no_grad():
        expected = model(grid).argmax(1).reshape(40, 40).numpy()
        accuracy = float((model(x).argmax(1) == y).float().mean())
    assert np.array_equal(np.asarray(data["predicted"]), expected)
    assert data["accuracy"] == pytest.approx(accuracy)
    with pytest.raises(InspectError, match="2-D points"):
        inspect.plot_decision_boundary(model, torch.zeros(3, 4), torch.zeros(3), tmp_path / "x.png")


def test_histograms_of_weights_activations_and_gradients(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = create_model("mlp", num_classes=3, in_features=10, hidden_sizes=[16, 8])
    x, y = torch.randn(32, 10), torch.randint(0, 3, (32,))
    data = check_png(inspect.plot_histograms(model, (x, y), tmp_path / "h.png", bins=10))
    model.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    assert data["loss"] == pytest.approx(float(loss.detach()))
    layers = {row["layer"]: row for row in data["layers"]}
    assert list(layers) == ["features.0.weight", "features.2.weight", "head.weight"]
    for name, p in model.named_parameters():
        if p.ndim < 2:
            continue
        row = layers[name]
        assert row["gradients"]["norm"] == pytest.approx(float(p.grad.norm()), rel=1e-5)
        counts, _ = np.histogram(p.detach().numpy().astype(np.float64), bins=10)
        assert row["weights"]["counts"] == counts.tolist()
    hidden = F.linear(x, model.features[0].weight, model.features[0].bias)
    assert layers["features.0.weight"]["activations"]["mean"] == pytest.approx(
        float(hidden.detach().mean()), rel=1e-5
    )


def test_first_layer_filters_and_feature_maps(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = create_model("lenet5", num_classes=10, in_chans=1)
    data = check_png(inspect.plot_filters(model, tmp_path / "f.png"))
    conv = model.features[0]
    assert data["layer"] == "features.0" and data["shape"] == [6, 1, 5, 5]
    np.testing.assert_allclose(data["weights"], conv.weight.detach().numpy(), rtol=1e-6)
    x = torch.randn(1, 1, 28, 28)
    data = check_png(inspect.plot_feature_maps(model, x, tmp_path / "m.png", max_maps=4))
    expected = F.conv2d(x, conv.weight, conv.bias, padding=conv.padding)[0, :4].detach()
    np.testing.assert_allclose(data["maps"], expected.numpy(), atol=1e-5)
    twin = scratch_twin(model)
    data = check_png(inspect.plot_feature_maps(twin, x.numpy(), tmp_path / "t.png", max_maps=4))
    np.testing.assert_allclose(data["maps"], expected.numpy(), atol=1e-5)
    with pytest.raises(InspectError, match="no convolution"):
        inspect.plot_filters(create_model("mlp", num_classes=2, in_features=4), tmp_path / "n.png")


def test_saliency_and_gradcam_of_a_cnn_in_both_engines(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = create_model("resnet20", num_classes=5).double().eval()
    x = torch.randn(1, 3, 16, 16, dtype=torch.float64)
    # Independently: the predicted class's logit, d/dx and d/d(forward_features) by autograd.
    pixels = x.clone().requires_grad_(True)
    features = model.forward_features(pixels)
    features.retain_grad()
    logits = model.forward_head(features)
    chosen = int(logits.argmax())
    logits[0, chosen].backward()
    saliency = pixels.grad[0].abs().amax(dim=0).numpy()
    alpha = features.grad[0].mean(dim=(1, 2))
    cam = torch.relu((alpha[:, None, None] * features[0]).sum(0)).detach().numpy()
    for engine_model, name in ((model, "torch"), (scratch_twin(model), "scratch")):
        data = check_png(inspect.plot_gradcam(engine_model, x.numpy(), tmp_path / f"{name}.png"))
        assert data["class"] == chosen and data["layer"] == "layer3"
        np.testing.assert_allclose(data["saliency"], saliency, rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(data["cam"], cam, rtol=1e-6, atol=1e-12)
        assert data["score"] == pytest.approx(float(logits[0, chosen].detach()))
    data = check_png(inspect.plot_saliency(model, x, tmp_path / "s.png", target=1))
    assert data["class"] == 1
    with pytest.raises(InspectError, match="not a CNN"):
        inspect.plot_gradcam(
            create_model("mlp", num_classes=2, in_features=12),
            torch.zeros(1, 3, 2, 2),
            tmp_path / "n.png",
        )


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-a))


def _lstm_gates(model: torch.nn.Module, ids: np.ndarray) -> dict[str, np.ndarray]:
    """The LSTM's equations in NumPy from the model's weights (layer 0). ids (T,) -> (T, H)."""
    p = {k: v.detach().double().numpy() for k, v in model.state_dict().items()}
    xs = p["embedding.weight"][ids]  # (T, E)
    H = p["rnn.weight_hh_l0"].shape[1]
    h, c, out = np.zeros(H), np.zeros(H), {k: [] for k in "ifgo"}
    for x in xs:
        a = p["rnn.weight_ih_l0"] @ x + p["rnn.bias_ih_l0"] + p["rnn.weight_hh_l0"] @ h
        a = a + p["rnn.bias_hh_l0"]
        i, f, g, o = (
            _sigmoid(a[:H]),
            _sigmoid(a[H : 2 * H]),
            np.tanh(a[2 * H : 3 * H]),
            _sigmoid(a[3 * H :]),
        )
        c = f * c + i * g
        h = o * np.tanh(c)
        for k, v in zip("ifgo", (i, f, g, o), strict=True):
            out[k].append(v)
    return {k: np.stack(v) for k, v in out.items()}


def test_lstm_gates_per_token_with_the_tokens_as_labels(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = create_model(
        "lstm_classifier", vocab_size=12, num_classes=2, embed_dim=4, hidden_size=6
    )
    ids = torch.tensor([[0, 0, 5, 7, 3, 9]])  # front padding, as the text task feeds a sentence
    tokens = ["<pad>", "<pad>", "not", "a", "good", "film"]
    valid = (ids != 0).numpy()
    data = check_png(inspect.plot_gates(model, (ids,), tokens, tmp_path / "g.png", valid=valid))
    assert data["tokens"] == ["not", "a", "good", "film"] and data["cell"] == "lstm"
    expected = _lstm_gates(model, ids[0].numpy())
    for gate in "ifgo":
        np.testing.assert_allclose(data["gates"][gate], expected[gate][2:], rtol=1e-5, atol=1e-6)
    twin = check_png(
        inspect.plot_gates(
            scratch_twin(model), (ids.numpy(),), tokens, tmp_path / "t.png", valid=valid
        )
    )
    for gate in "ifgo":
        np.testing.assert_allclose(twin["gates"][gate], data["gates"][gate], atol=1e-6)
    rnn = create_model("rnn_classifier", vocab_size=12, num_classes=2, embed_dim=4, hidden_size=6)
    with pytest.raises(InspectError, match="no gates"):
        inspect.plot_gates(rnn, (ids,), tokens, tmp_path / "r.png")
    with pytest.raises(InspectError, match="tokens for"):
        inspect.plot_gates(model, (ids,), tokens[:3], tmp_path / "x.png")


def test_gru_gates_and_hidden_state_trajectories(tmp_path: Path) -> None:
    from sklearn.decomposition import PCA

    torch.manual_seed(0)
    model = create_model("gru_lm", vocab_size=9, embed_dim=4, hidden_size=8, num_layers=2)
    ids = torch.randint(0, 9, (3, 10))
    data = check_png(inspect.plot_gates(model, (ids[:1],), list("abcdefghij"), tmp_path / "g.png"))
    assert sorted(data["gates"]) == ["n", "r", "z"] and data["layer"] == "rnn.l0"
    data = check_png(
        inspect.plot_state_trajectories(model, (ids,), tmp_path / "s.png", labels=["x", "y", "z"])
    )
    assert data["layer"] == "rnn.l1"  # the top layer by default
    with torch.no_grad():
        out, _ = model.rnn(model.embedding(ids))  # nn.GRU's own kernel: (3, 10, 8)
    states = out.reshape(-1, 8).double().numpy()
    pca = PCA(n_components=2).fit(states)
    np.testing.assert_allclose(
        data["explained_variance_ratio"], pca.explained_variance_ratio_, rtol=1e-4
    )
    projected = pca.transform(states).reshape(3, 10, 2)
    for n in range(3):
        # PCA's directions are defined up to their sign.
        for k in range(2):
            ours = np.asarray(data["paths"][n])[:, k]
            assert np.allclose(ours, projected[n, :, k], atol=1e-5) or np.allclose(
                ours, -projected[n, :, k], atol=1e-5
            )


def test_confusion_matrix_with_the_most_confused_examples(tmp_path: Path) -> None:
    from sklearn.metrics import confusion_matrix

    torch.manual_seed(0)
    model = create_model("lenet5", num_classes=3, in_chans=1)
    x, y = torch.randn(40, 1, 28, 28), torch.randint(0, 3, (40,))
    data = check_png(
        inspect.plot_confusion(model, (x,), y, ["a", "b", "c"], tmp_path / "c.png", batch_size=16)
    )
    with torch.no_grad():
        probs = torch.softmax(model(x), dim=1)
    predicted = probs.argmax(1).numpy()
    assert data["counts"] == confusion_matrix(y.numpy(), predicted, labels=[0, 1, 2]).tolist()
    assert data["accuracy"] == pytest.approx(float((predicted == y.numpy()).mean()))
    top = data["most_confused"][0]
    off = np.asarray(data["counts"]) - np.diag(np.diag(data["counts"]))
    assert top["count"] == off.max()
    for example in data["examples"]:
        row = example["index"]
        assert example["true"] == "abc"[y[row]] and example["predicted"] == "abc"[predicted[row]]
        assert example["true"] != example["predicted"]
        assert example["confidence"] == pytest.approx(float(probs[row].max()), rel=1e-5)
    texts = check_png(
        inspect.plot_confusion(
            model, (x,), y, ["a", "b", "c"], tmp_path / "t.png", describe=lambda row: f"row {row}"
        )
    )
    assert all(e["text"] == f"row {e['index']}" for e in texts["examples"])


def test_seq2seq_attention_matrix_in_both_engines(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = create_model(
        "seq2seq", src_vocab_size=10, tgt_vocab_size=8, embed_dim=4, hidden_size=6
    ).eval()
    src = torch.tensor([[5, 6, 7, 8, 9]])
    tokens, itos = list("vwxyz"), ["<pad>", "<unk>", "<bos>", "<eos>", "0", "1", "2", "3"]
    data = check_png(
        inspect.plot_attention(model, src, tokens, itos, tmp_path / "a.png", max_len=7)
    )
    expected = model.greedy_decode(src, max_len=7)[0].tolist()
    assert data["output_ids"] == expected[: len(data["output_ids"])]
    assert data["output"] == [itos[i] for i in data["output_ids"]]
    weights = np.asarray(data["weights"])
    assert weights.shape == (len(data["output_ids"]), 5)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-6)
    twin = check_png(
        inspect.plot_attention(
            scratch_twin(model), src.numpy(), tokens, itos, tmp_path / "t.png", max_len=7
        )
    )
    np.testing.assert_allclose(twin["weights"], weights, atol=1e-6)
    without = create_model("seq2seq", src_vocab_size=10, tgt_vocab_size=8, attention=None)
    with pytest.raises(InspectError, match="no attention"):
        inspect.plot_attention(without, src, tokens, itos, tmp_path / "n.png")


def test_gradient_flow_plot_holds_the_norms_autograd_gives(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = create_model("lstm_lm", vocab_size=7, embed_dim=4, hidden_size=5, num_layers=1)
    x, y = torch.randint(0, 7, (2, 8)), torch.randint(0, 7, (2, 8))
    start = {k: v.clone() for k, v in model.state_dict().items()}
    trained = inspect.measure_gradients(model, (x, y))
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1.5)
    later = inspect.measure_gradients(model, (x, y))
    figure = inspect.plot_gradient_flow({"start": trained, "scaled": later}, tmp_path / "g.png")
    data = check_png(figure)
    model.zero_grad()
    logits, _ = model(x)
    F.cross_entropy(logits.reshape(-1, 7), y.reshape(-1)).backward()
    rows = {row["name"]: row for row in data["scaled"]["layers"]}
    for name, p in model.named_parameters():
        assert rows[name]["grad_norm"] == pytest.approx(float(p.grad.norm()), rel=1e-5)
    assert len(data["start"]["recurrent"]["rnn.l0"]) == 8
    assert start.keys() == model.state_dict().keys()


def test_a_plot_must_be_a_png(tmp_path: Path) -> None:
    with pytest.raises(InspectError, match="PNG"):
        inspect.plot_curves([{"epoch": 1, "train_loss": 1.0}], tmp_path / "curves.jpg")
