"""``nnatlas predict RUN_OR_CHECKPOINT INPUT``: the top classes for one image or text.

INPUT is an image file (PNG, JPEG ...: converted to the run's channels and size, scaled to
[0, 1] and normalized as in training), a sentence for a text classifier (tokenized with the
run's vocabulary), or ``SPLIT:INDEX`` (e.g. ``test:0``) for an example of the run's own
dataset, which also shows the true label. For a language model (a run on tinyshakespeare or
text:PATH) INPUT is a prompt and the command prints a sampled continuation; for an
encoder-decoder (a run on dates, multi30k or pairs:PATH) INPUT is a source sentence (or
SPLIT:INDEX) and the command prints its greedy translation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from nnatlas.cli import app
from nnatlas.cli.errors import UsageError, exit_on_usage_error
from nnatlas.cli.evaluate import load_run, split_for_run
from nnatlas.cli.prepare import load_data, normalizer


def generate_text(trainer: Any, classes: list[str], prompt: str, length: int, seed: int) -> str:
    """Sample ``length`` characters after ``prompt`` from a character language model run.

    ``classes`` is the run's vocabulary (index -> token, the 4 reserved tokens first); characters
    the model never saw map to ``<unk>``.
    """
    import numpy as np
    import torch

    if not prompt:
        raise UsageError("the prompt is empty: give at least one character, e.g. 'ROMEO:'")
    index = {token: i for i, token in enumerate(classes)}
    ids = [index.get(ch, index.get("<unk>", 1)) for ch in prompt]
    model = trainer.model
    if isinstance(model, torch.nn.Module):
        generator = torch.Generator().manual_seed(seed)
        out = model.generate(torch.tensor(ids), length, temperature=0.8, generator=generator)
        out = out.tolist()
    else:  # the NumPy CharLSTM
        out = model.generate(ids, length, temperature=0.8, rng=np.random.default_rng(seed)).tolist()
    specials = {"<pad>", "<unk>", "<bos>", "<eos>"}
    return "".join(classes[i] for i in out if classes[i] not in specials)


def translate_input(trainer: Any, extra: dict[str, Any], text: str) -> str:
    """The greedy translation of ``text`` (or of the source of ``SPLIT:INDEX``, followed by
    its reference) by a sentence-pair run; the vocabularies are rebuilt from the dataset."""
    from nnatlas.cli.pairs import translate

    splits = load_data(extra["dataset"], seed=trainer.config.seed,
                       val_fraction=extra.get("val_fraction", 0.1))  # fmt: skip
    reference = None
    if ":" in text and text.split(":", 1)[0] in ("train", "val", "test"):
        split, index = text.split(":", 1)
        part = getattr(splits.encoded, split)
        if not index.isdigit() or int(index) >= len(part):
            raise UsageError(f"{text}: index must be in [0, {len(part) - 1}]")
        (text, reference), target = part.pairs[int(index)], part.tgt[int(index)]
    max_len = extra["input_shape"][0] - extra["src_len"] + 10  # the longest target, and some
    output = translate(trainer.model, splits.encoded, text, max_len)
    if reference is None:
        return output
    # Compared as tokenized (word-level runs lower-case and split off punctuation).
    verdict = "correct" if output == splits.encoded.decode_target(target) else "wrong"
    return f"{text}\n{output}\nreference: {reference} ({verdict})"


def read_image(path: Path, shape: list[int], invert: bool = False) -> Any:
    """An image file as a (1, C, H, W) float tensor in [0, 1] of the run's input shape."""
    import numpy as np
    import torch
    from PIL import Image, UnidentifiedImageError

    if len(shape) != 3:
        raise UsageError(f"this run takes inputs of shape {tuple(shape)}, not images")
    channels, height, width = shape
    if not path.is_file():
        raise UsageError(f"{path}: no such image file (or use SPLIT:INDEX, e.g. test:0)")
    try:
        image = Image.open(path).convert("L" if channels == 1 else "RGB")
    except (UnidentifiedImageError, OSError) as err:
        raise UsageError(f"{path}: not an image PIL can read ({err})") from err
    image = image.resize((width, height), Image.BILINEAR)
    x = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0)
    x = x.view(1, height, width, -1).permute(0, 3, 1, 2)[:, :channels]  # (1, C, H, W)
    return 1.0 - x if invert else x


@app.command(name="predict")
def predict(
    run: Path = typer.Argument(..., help="a run folder (uses best.pt) or a checkpoint file"),  # noqa: B008
    input: str = typer.Argument(..., help="an image file, a text (text runs), or SPLIT:INDEX"),  # noqa: B008
    top: int = typer.Option(3, help="how many classes to show"),  # noqa: B008
    invert: bool = typer.Option(False, help="invert the image (dark strokes on light paper)"),  # noqa: B008
    length: int = typer.Option(300, help="language models: characters to sample"),  # noqa: B008
    seed: int = typer.Option(0, help="language models: seed of the sampling"),  # noqa: B008
) -> None:
    """Predict the class of one image (or text, for a text classifier) with a trained model;
    for a language model, continue the text INPUT; for a sentence-pair run, translate it."""
    import torch
    from rich.console import Console
    from rich.table import Table

    with exit_on_usage_error():
        trainer, ckpt, file = load_run(run, device="cpu")
        extra = ckpt["extra"]
        if extra.get("language_model"):
            print(generate_text(trainer, extra["classes"], input, length, seed))
            return
        if extra.get("seq2seq"):
            print(translate_input(trainer, extra, input))
            return
        label = None
        if ":" in input and input.split(":", 1)[0] in ("train", "val", "test"):
            split, index = input.split(":", 1)
            x_all, y_all = split_for_run(extra, None, split, trainer.config.seed)
            if not index.isdigit() or int(index) >= len(y_all):
                raise UsageError(f"{input}: index must be in [0, {len(y_all) - 1}]")
            x, label = x_all[int(index)].unsqueeze(0), int(y_all[int(index)])
        elif "vocab_size" in extra:  # a text classifier: INPUT is the text itself
            splits = load_data(extra["dataset"], seed=trainer.config.seed,
                               val_fraction=extra.get("val_fraction", 0.1))  # fmt: skip
            ids = splits.encoded.encode(input)  # (L,), tokenized as in training
            length = extra["input_shape"][0]
            x = torch.full((1, length), extra.get("pad_id") or 0, dtype=torch.int64)
            x[0, length - len(ids) :] = ids  # front padding, as in training
        else:
            x = read_image(Path(input), extra["input_shape"], invert)
            x = normalizer(extra.get("mean"), extra.get("std"))(x)
        probs = trainer.predict(x)[0]  # (C,)
    classes = extra["classes"]
    order = probs.argsort(descending=True)[: max(1, top)]
    print(f"{file}: {input}")
    table = Table()
    table.add_column("class")
    table.add_column("probability", justify="right")
    for i in order.tolist():
        table.add_row(str(classes[i]), f"{float(probs[i]):.4f}")
    Console().print(table)
    if label is not None:
        verdict = "correct" if int(order[0]) == label else "wrong"
        print(f"true class: {classes[label]} ({verdict})")
