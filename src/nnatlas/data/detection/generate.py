"""A generated detection set on real pixels: real objects pasted onto real photographs.

Each image is a random crop of one of scikit-image's bundled photographs (astronaut, coffee,
chelsea, rocket, the Hubble deep field, a stereo motorcycle ...), resized to ``size`` x ``size``
and flipped at random, with 1 to ``max_objects`` objects pasted on it: Fashion-MNIST items (or
scikit-learn's 8x8 digits, upscaled) at random scales and positions, each drawn in a random
colour with its own grey levels as opacity, overlapping earlier ones by at most
``MAX_OVERLAP`` (IoU). A box is the tight extent of the item's visible pixels.

The training images take their objects from the object set's training split and the test
images from its test split, so the test objects were never seen; the backgrounds are other
random crops of the same photographs. Everything is drawn from one ``numpy`` generator seeded
with ``seed``: the same arguments write the same files. The set is written as a COCO folder
(:mod:`nnatlas.data.detection.coco`), read back like any other.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnatlas.data.detection.coco import write_coco
from nnatlas.data.errors import DatasetError

MAX_OVERLAP = 0.15  # IoU above which a placement is drawn again (heavy occlusion hides items)
VISIBLE = 0.25  # opacity above which an item's pixel counts towards its box

# Fashion-MNIST classes (index: name) whose shapes differ most from one another: shirts,
# pullovers and coats look alike at 28 px (LeNet-5 confuses them most), as do the shoes.
FASHION_CLASSES = {0: "t-shirt", 1: "trouser", 3: "dress", 7: "sneaker", 8: "bag"}
DIGIT_CLASSES = {d: str(d) for d in range(10)}


@dataclass(frozen=True)
class GeneratorConfig:
    """What the generated set is made of (all sizes in pixels).

    Attributes:
        objects: ``"fashion-mnist"`` or ``"digits"`` (scikit-learn's, always installed).
        train, test: images per split.
        size: the images' side.
        min_objects, max_objects: objects per image, drawn uniformly.
        min_scale, max_scale: an object's side as a share of the image's side.
        seed: of everything drawn.
    """

    objects: str = "fashion-mnist"
    train: int = 2000
    test: int = 400
    size: int = 256
    min_objects: int = 1
    max_objects: int = 5
    min_scale: float = 0.15
    max_scale: float = 0.4
    seed: int = 0


def backgrounds() -> list[np.ndarray]:
    """scikit-image's bundled photographs, as (H, W, 3) uint8 (grey ones repeated)."""
    from skimage import data

    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(),
              data.hubble_deep_field(), data.immunohistochemistry(), data.stereo_motorcycle()[0],
              data.camera(), data.coins(), data.brick(), data.grass(), data.gravel()]  # fmt: skip
    return [p if p.ndim == 3 else np.repeat(p[..., None], 3, axis=2) for p in photos]


def object_images(objects: str) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], list[str]]:
    """``({"train": (items (N, h, w) float in [0, 1], labels (N,) 1-based), "test": ...},
    class names)`` of the object set."""
    if objects == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        items, labels = digits.images / 16.0, digits.target  # (1797, 8, 8)
        cut = int(0.8 * len(items))
        keep, names = DIGIT_CLASSES, list(DIGIT_CLASSES.values())
        parts = {"train": (items[:cut], labels[:cut]), "test": (items[cut:], labels[cut:])}
    elif objects == "fashion-mnist":
        from nnatlas.data.images.splits import load_image_split

        keep, names = FASHION_CLASSES, list(FASHION_CLASSES.values())
        parts = {}
        for split in ("train", "test"):
            part = load_image_split("fashion-mnist", split)  # offline: Debian's package
            parts[split] = (part.x[:, 0].numpy(), part.y.numpy())
    else:
        raise DatasetError(f"objects {objects!r}: choose fashion-mnist or digits")
    index = {source: i + 1 for i, source in enumerate(keep)}
    out = {}
    for split, (items, labels) in parts.items():
        mask = np.isin(labels, list(keep))
        out[split] = (items[mask].astype(np.float32), np.array([index[v] for v in labels[mask]]))
    return out, names


def _iou(box: np.ndarray, others: list[np.ndarray]) -> float:
    if not others:
        return 0.0
    o = np.array(others)
    w = (np.minimum(box[2], o[:, 2]) - np.maximum(box[0], o[:, 0])).clip(0)
    h = (np.minimum(box[3], o[:, 3]) - np.maximum(box[1], o[:, 1])).clip(0)
    inter = w * h
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (o[:, 2] - o[:, 0]) * (o[:, 3] - o[:, 1])
    return float((inter / (area + areas - inter)).max())


def _background(photo: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    from PIL import Image

    height, width = photo.shape[:2]
    side = int(rng.uniform(0.4, 1.0) * min(height, width))
    top, left = rng.integers(0, height - side + 1), rng.integers(0, width - side + 1)
    crop = Image.fromarray(photo[top : top + side, left : left + side])
    image = np.asarray(crop.resize((size, size), Image.BILINEAR), dtype=np.float32)
    return image[:, ::-1] if rng.random() < 0.5 else image


def compose(
    photo: np.ndarray, items: np.ndarray, labels: np.ndarray, cfg: GeneratorConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """One image: ``(pixels (size, size, 3) uint8, boxes (K, 4), labels (K,))``."""
    from PIL import Image

    size = cfg.size
    image = _background(photo, size, rng)  # (size, size, 3) float 0..255
    boxes: list[np.ndarray] = []
    chosen: list[int] = []
    for _ in range(rng.integers(cfg.min_objects, cfg.max_objects + 1)):
        for _attempt in range(20):
            k = int(rng.integers(len(items)))
            side = int(rng.uniform(cfg.min_scale, cfg.max_scale) * size)
            alpha = np.asarray(Image.fromarray(items[k]).resize((side, side), Image.BILINEAR)).clip(
                0, 1
            )  # (side, side) opacity from the item's grey levels
            ys, xs = np.nonzero(alpha > VISIBLE)
            if len(xs) == 0:
                continue
            top, left = rng.integers(0, size - side + 1), rng.integers(0, size - side + 1)
            box = np.array(
                [left + xs.min(), top + ys.min(), left + xs.max() + 1, top + ys.max() + 1],
                dtype=np.float32,
            )
            if _iou(box, boxes) > MAX_OVERLAP:
                continue
            colour = rng.uniform(0, 255, size=3)
            if np.abs(colour - image[top : top + side, left : left + side].mean((0, 1))).max() < 60:
                colour = 255 - colour  # too close to the background under it: its opposite
            region = image[top : top + side, left : left + side]
            a = alpha[..., None]
            region[...] = (1 - a) * region + a * colour * (0.6 + 0.4 * a)
            boxes.append(box)
            chosen.append(int(labels[k]))
            break
    pixels = image.clip(0, 255).astype(np.uint8)
    return pixels, np.array(boxes, np.float32).reshape(-1, 4), np.array(chosen, np.int64)


def generate(folder: str | Path, cfg: GeneratorConfig = GeneratorConfig()) -> Path:
    """Write the generated set as a COCO folder (``train/``, ``test/``, ``annotations/``).

    The folder is built beside ``folder`` and moved into place when complete, so an
    interrupted run leaves no half-written set; an existing ``folder`` is refused.

    Returns:
        ``folder``.
    """
    from PIL import Image

    folder = Path(folder)
    if folder.exists():
        raise DatasetError(f"{folder} already exists; remove it to generate the set again")
    rng = np.random.default_rng(cfg.seed)
    photos = backgrounds()
    parts, classes = object_images(cfg.objects)
    work = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(work, ignore_errors=True)
    for split, count in (("train", cfg.train), ("test", cfg.test)):
        (work / split).mkdir(parents=True)
        items, labels = parts[split]
        rows = []
        for i in range(count):
            photo = photos[int(rng.integers(len(photos)))]
            pixels, boxes, chosen = compose(photo, items, labels, cfg, rng)
            name = f"{i:06d}.jpg"
            Image.fromarray(pixels).save(work / split / name, quality=92)
            rows.append((name, cfg.size, cfg.size, boxes, chosen))
        write_coco(work, split, rows, classes)
    work.rename(folder)
    return folder
