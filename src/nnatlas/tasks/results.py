"""What :func:`nnatlas.tasks.predict` returns: one structured result per kind of task.

Each result is plain data (names, numbers, strings) that a caller prints, sends to a web page
or asserts on; ``str(result)`` is a short human reading.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ClassPrediction:
    """The most likely classes of one input.

    Attributes:
        input: what was classified (a file path, a text, or ``SPLIT:INDEX``).
        top: ``(class name, probability)`` pairs, most likely first.
        true_class: the label, when the input is an example of the run's own data.
    """

    input: str
    top: list[tuple[str, float]]
    true_class: str | None = None

    @property
    def label(self) -> str:
        """The predicted class."""
        return self.top[0][0]

    @property
    def correct(self) -> bool | None:
        """Whether the prediction is the true class (``None`` when that is unknown)."""
        return None if self.true_class is None else self.label == self.true_class

    def __str__(self) -> str:
        lines = [f"{name}: {prob:.4f}" for name, prob in self.top]
        if self.true_class is not None:
            lines.append(
                f"true class: {self.true_class} ({'correct' if self.correct else 'wrong'})"
            )
        return "\n".join(lines)


@dataclass
class Generation:
    """A language model's continuation of a prompt.

    Attributes:
        prompt: the text it continued.
        text: the sampled continuation (the prompt not repeated).
        settings: how it was sampled (length, temperature, seed).
    """

    prompt: str
    text: str
    settings: dict[str, float] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.prompt + self.text


@dataclass
class Translation:
    """An encoder-decoder's output for one source sentence.

    Attributes:
        source: the input sentence (as written, or the example's source for ``SPLIT:INDEX``).
        output: the decoded target sentence.
        reference: the dataset's target, for ``SPLIT:INDEX`` inputs.
        correct: whether ``output`` equals the tokenized reference exactly.
    """

    source: str
    output: str
    reference: str | None = None
    correct: bool | None = None

    def __str__(self) -> str:
        if self.reference is None:
            return self.output
        verdict = "correct" if self.correct else "wrong"
        return f"{self.source}\n{self.output}\nreference: {self.reference} ({verdict})"
