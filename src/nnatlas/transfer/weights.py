"""Weight files that did not come from nnatlas, evaluated as they are on a catalog dataset.

A pretrained file (the akamaster CIFAR-10 ResNets, a plain state_dict, torchvision's own
file) says nothing of how its images were normalized; the model's known source does
(:mod:`nnatlas.models.pretrained`), or the user names one (:data:`NORMALIZATIONS`).

    run = evaluate_weights("resnet20", "resnet20-12fca82f.th", "imagefolder:cifar10-test")
    nnatlas.tasks.evaluate(run)          # an in-memory run: evaluate and report work on it
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CIFAR10 = ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))  # the training set's statistics
NORMALIZATIONS: dict[str, tuple[tuple[float, ...], tuple[float, ...]] | None] = {
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "tf-lite": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    "cifar10": CIFAR10,
    "data": None,  # the dataset's own training-split statistics
}


def evaluate_weights(
    model: str,
    weights: str | Path,
    data: str,
    *,
    normalize: str | None = None,
    image_size: int | None = None,
    root: str | None = None,
    device: str = "auto",
    threads: int = 0,
) -> Any:
    """An in-memory run of zoo ``model`` with the tensors of ``weights``, for ``data``.

    Args:
        model: the zoo architecture the file belongs to (``resnet20``, ``resnet18`` ...).
        weights: the file (a state_dict, or a dict holding one under ``state_dict``).
        data: a catalog image dataset with as many classes as the file's head.
        normalize: a name of :data:`NORMALIZATIONS`; default the model's known source's
            (ImageNet's mean/std for the akamaster files and torchvision's), else ``data``.
        image_size: resize the images (default: the dataset's own size).
        threads: CPU threads (0 = automatic, by the model's size).

    Returns:
        A :class:`nnatlas.tasks.Run` without a folder.
    """
    import nnatlas.tasks as tasks
    from nnatlas.models import create_model
    from nnatlas.models.pretrained import SOURCES, load_weights, read_state_dict
    from nnatlas.tasks.models import model_entry, model_kwargs
    from nnatlas.tasks.run import Run, data_options, task_for
    from nnatlas.train import TrainConfig, create_trainer

    task = task_for(data)
    if task.name != "image_classification":
        raise tasks.TaskError(f"weight files are evaluated on image datasets; {data!r} is not one")
    entry = model_entry(model, task)
    if normalize is None:
        normalize = "imagenet" if model in SOURCES else "data"
    if normalize not in NORMALIZATIONS:
        raise tasks.TaskError(f"--normalize {normalize!r}: choose from {', '.join(NORMALIZATIONS)}")
    stats = NORMALIZATIONS[normalize]
    normalization = [list(s) for s in stats] if stats else None
    options = data_options(data, root=root, image_size=image_size, normalize=normalization)
    prepared = task.load(options, entry)
    state = read_state_dict(weights)
    kwargs = model_kwargs(entry, prepared.facts)
    net = create_model(model, **kwargs)
    head = f"{net.head_name}.weight" if hasattr(net, "head_name") else None
    if head in state and state[head].shape[0] != kwargs.get("num_classes"):
        raise tasks.TaskError(
            f"{weights}: its head predicts {state[head].shape[0]} classes and {data} has "
            f"{kwargs.get('num_classes')}: fine-tune it instead (nnatlas transfer --backbone "
            f"{model} --weights {weights})"
        )
    load_weights(net, weights, source=model)
    config = TrainConfig(quiet=True, tensorboard=False, device=device, threads=threads)
    trainer = create_trainer(net, config, model_info={"name": model, "kwargs": kwargs})
    return Run(None, task, options, prepared.record, model, trainer, checkpoint=Path(weights))
