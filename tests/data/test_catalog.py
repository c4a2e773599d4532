"""The catalog: names, families, sources in order, errors that list what was tried, the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from image_writers import write_mnist_like
from nnatlas.cli import app
from nnatlas.data import DataNotFoundError, DatasetError, fetch, get_spec, list_datasets
from nnatlas.data.catalog import DatasetSpec, cache_source, register_dataset, url_source

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture
def bare(tmp_path, monkeypatch):
    """A machine with an empty home and cache, system locations disabled, downloads pointed at a
    port where nothing listens (the discard port 9)."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NNATLAS_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("NNATLAS_NO_SYSTEM_DATA", "1")
    monkeypatch.setenv("NNATLAS_DOWNLOAD_MIRROR", "http://127.0.0.1:9/x")
    monkeypatch.delenv("NNATLAS_OFFLINE", raising=False)
    return tmp_path


def _cli():
    from nnatlas.cli import _register

    _register()
    return CliRunner()


def test_list_has_the_image_datasets_and_families():
    names = list_datasets()
    for expected in (
        "digits",
        "mnist",
        "fashion-mnist",
        "cifar10",
        "medmnist:FLAG",
        "imagefolder:PATH",
        "opencv-digits:PATH",
        "moons",
        "spirals",
    ):
        assert expected in names
    assert set(list_datasets(kind="tabular")) >= {"moons", "circles", "spirals", "xor"}
    assert "mnist" not in list_datasets(kind="tabular")


def test_unknown_name_suggests_close_matches():
    with pytest.raises(DatasetError) as err:
        get_spec("fashon-mnist")
    message = str(err.value)
    assert "Did you mean 'fashion-mnist'" in message and "Valid names:" in message
    assert "cifar10" in message
    with pytest.raises(DatasetError, match="medmnist:breastmnist"):
        get_spec("medmnist:breastmnst")
    with pytest.raises(DatasetError, match="give the FLAG"):
        get_spec("medmnist:")


def test_families_and_case_insensitive_names(tmp_path):
    spec = get_spec(f"imagefolder:{tmp_path}")
    assert spec.kind == "image" and spec.argument == str(tmp_path)
    assert get_spec("MNIST").name == "mnist"
    assert get_spec("medmnist:breastmnist").folder == "medmnist"


def test_duplicate_registration_refused():
    spec = get_spec("mnist")
    clone = DatasetSpec(name="mnist", kind="image", description="x", sources=[], loader=spec.loader)
    with pytest.raises(DatasetError, match="already registered"):
        register_dataset(clone)


def test_cache_comes_first(bare):
    write_mnist_like(bare / "cache" / "mnist", n_train=20, n_test=10)
    assert fetch("mnist") == bare / "cache" / "mnist"


def test_no_source_error_names_each_source_and_reason(bare):
    with pytest.raises(DataNotFoundError) as err:
        fetch("fashion-mnist")
    e = err.value
    kinds = [where.split()[0] for where, _ in e.attempts]
    assert kinds == ["cache", "system", "download"]
    reasons = dict(e.attempts)
    assert any("folder does not exist" in r for r in reasons.values())
    assert any("NNATLAS_NO_SYSTEM_DATA" in r for r in reasons.values())
    assert any("127.0.0.1:9" in r and "refused" in r.lower() for r in reasons.values())
    message = str(e)
    assert "To get it by hand" in message and "apt install dataset-fashion-mnist" in message
    assert "--data-root" in message


def test_offline_and_partial_copies_are_explained(bare, monkeypatch):
    monkeypatch.setenv("NNATLAS_OFFLINE", "1")
    folder = bare / "cache" / "mnist"
    write_mnist_like(folder, n_train=20, n_test=10)
    (folder / "train-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DataNotFoundError) as err:
        fetch("mnist")
    cache_reason = err.value.attempts[0][1]
    assert "is missing train-images-idx3-ubyte.gz" in cache_reason
    assert cache_reason.startswith("has ") and "t10k-images-idx3-ubyte.gz," in cache_reason
    assert "offline" in err.value.attempts[-1][1]


def test_root_is_the_only_place_looked_at(bare):
    with pytest.raises(DataNotFoundError, match="--data-root"):
        fetch("mnist", root=bare / "nowhere")


def test_registered_spec_with_unreachable_url(bare):
    from nnatlas.data.catalog import RemoteFile

    spec = DatasetSpec(
        name="h5-test-unreachable",
        kind="text",
        description="test only",
        sources=[cache_source(), url_source(RemoteFile("a.txt", "http://127.0.0.1:9/a.txt"))],
        files=("a.txt",),
        loader=lambda spec, root: None,
        manual="write a.txt",
    )
    with (
        pytest.raises(DataNotFoundError, match="a.txt") as err,
        pytest.warns(UserWarning, match="a.txt: no published checksum"),
    ):
        fetch(spec)
    assert len(err.value.attempts) == 2 and "write a.txt" in str(err.value)


@pytest.mark.skipif(
    not DEBIAN_FASHION.is_dir(), reason="Debian dataset-fashion-mnist not installed"
)
def test_cli_get_finds_debian_fashion_mnist(tmp_path, monkeypatch):
    monkeypatch.setenv("NNATLAS_DATA", str(tmp_path / "cache"))
    monkeypatch.delenv("NNATLAS_NO_SYSTEM_DATA", raising=False)
    result = _cli().invoke(app, ["data", "get", "fashion-mnist"])
    assert result.exit_code == 0, result.output
    assert str(DEBIAN_FASHION) in result.output


def test_cli_get_with_no_source(bare):
    result = _cli().invoke(app, ["data", "get", "fashion-mnist"])
    assert result.exit_code == 1
    out = result.output
    assert "cache" in out and "system location" in out and "download" in out
    assert "Connection refused" in out or "refused" in out.lower()


def test_cli_get_root_list_and_info(bare):
    write_mnist_like(bare / "local", n_train=20, n_test=10)
    runner = _cli()
    result = runner.invoke(app, ["data", "get", "mnist", "--root", str(bare / "local")])
    assert result.exit_code == 0 and str(bare / "local") in result.output
    result = runner.invoke(app, ["data", "list", "--kind", "image"])
    assert (
        result.exit_code == 0 and "fashion-mnist" in result.output and "moons" not in result.output
    )
    result = runner.invoke(app, ["data", "info", "cifar10"])
    assert result.exit_code == 0 and "cifar-10-python.tar.gz" in result.output
    assert "Krizhevsky" in result.output
    result = runner.invoke(app, ["data", "info", "cifar"])
    assert result.exit_code == 2 and "Did you mean" in result.output
