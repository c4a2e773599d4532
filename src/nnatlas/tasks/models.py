"""Zoo models fitted to a task's data, built for either engine.

The registry says what each model is (its ``kind``), which constructor arguments it fits to data
(``fits``) and whether it has a NumPy twin (``scratch_twin``); a task says what its data offers
(:attr:`~nnatlas.tasks.base.Prepared.facts`). :func:`model_kwargs` joins the two;
:func:`build_model` builds the zoo model, seeded, and for the NumPy engine turns it into its
twin with the bridge, so both engines start from the same initial weights.
"""

from __future__ import annotations

from typing import Any

from nnatlas.tasks.base import Task, TaskError


def model_entry(name: str, task: Task) -> Any:
    """The registry entry of ``name``, checked to be a model ``task`` trains.

    Raises:
        TaskError: unknown model (with close matches), or a model of another kind (naming the
            models of the right kind).
    """
    import nnatlas.models as zoo

    try:
        entry = zoo.get_model_entry(name)
    except zoo.UnknownModelError as err:
        raise TaskError(str(err)) from None
    if not task.accepts(entry):
        fitting = [m for m in zoo.list_models() if task.accepts(zoo.get_model_entry(m))]
        raise TaskError(
            f"model {name!r} takes {zoo.KINDS[entry.kind]}; {task.title} trains "
            f"{', '.join(fitting) or 'no zoo model yet'} (default {task.default_model})"
        )
    return entry


def model_kwargs(
    entry: Any, facts: dict[str, Any], overrides: dict[str, Any] | None = None
) -> dict:
    """The constructor arguments of ``entry`` fitted to the data, then the user's ``overrides``.

    Only the arguments the entry ``fits`` are taken from ``facts`` (an MLP takes ``input_size``,
    a ResNet does not); ``None`` facts (e.g. no padding id) are left out.
    """
    kwargs = {k: facts[k] for k in entry.fits if facts.get(k) is not None}
    return {**kwargs, **(overrides or {})}


def build_model(name: str, engine: str, kwargs: dict[str, Any], seed: int = 0) -> Any:
    """The zoo model ``name`` (torch) or its NumPy twin (scratch), seeded, built with ``kwargs``.

    The NumPy twin is made from the seeded zoo model by :func:`nnatlas.bridge.scratch_twin`, so
    the same seed gives both engines the same initial weights.

    Raises:
        TaskError: for arguments the model does not take, or no twin for ``engine="scratch"``.
    """
    import nnatlas.models as zoo
    from nnatlas.train.checkpoint import seed_everything

    entry = zoo.get_model_entry(name)
    if engine == "scratch" and entry.scratch_twin is None:
        from nnatlas.bridge.zoo import models_with_twins

        raise TaskError(
            f"model {name!r} has no NumPy twin yet; --engine scratch trains "
            f"{', '.join(models_with_twins())}"
        )
    seed_everything(seed)
    try:
        model = zoo.create_model(name, **kwargs)
    except (TypeError, ValueError) as err:
        raise TaskError(f"model {name!r} does not fit this data or these options: {err}") from err
    if engine == "torch":
        return model
    from nnatlas.bridge import scratch_twin

    try:
        twin = scratch_twin(model)
    except TypeError as err:  # e.g. an option the twin does not have (dropout in an LM)
        raise TaskError(f"model {name!r} with these options has no NumPy twin: {err}") from err
    built = f"{type(twin).__module__}:{type(twin).__qualname__}"
    if built != entry.scratch_twin:  # the registry and the bridge must tell the same story
        raise RuntimeError(
            f"the registry names {entry.scratch_twin} as {name}'s twin, the bridge built "
            f"{type(twin).__name__}"
        )
    # A twin computes the same function; to *train* the same way it must also learn the same
    # numbers (a tied embedding/head is one parameter in torch, two in the twin).
    learned = sum(p.numel() for p in model.parameters())
    if twin.num_parameters() != learned:
        raise TaskError(
            f"model {name!r} with these options learns {learned:,} numbers under torch but its "
            f"NumPy twin {twin.num_parameters():,} (shared weights, e.g. tie_weights=True, are "
            "not shared by the twin); train it with --engine torch"
        )
    return twin
