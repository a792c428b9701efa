"""The host port's build cache (issue 19 item 11): a library is loaded from it only when the folder
chain and the file are this user's and no one else can write them; new folders are 0700."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.virtual import host_port
from toolkit.virtual.host_port import HostPortError, cache_dir

ROOT = Path(__file__).resolve().parents[1]
NOBODY = 65534


def test_a_new_cache_folder_is_private(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ESPML_CACHE_DIR", str(tmp_path / "cache"))
    old = os.umask(0)  # even a permissive umask gives 0700
    try:
        folder = cache_dir()
    finally:
        os.umask(old)
    assert folder == tmp_path / "cache" / "espml" / "host-port"
    for path in (folder, folder.parent):
        assert path.stat().st_mode & 0o777 == 0o700, oct(path.stat().st_mode)


def _writable_by_others(folder: Path) -> None:
    folder.chmod(0o777)


def _group_writable(folder: Path) -> None:
    folder.chmod(0o770)


def _someone_elses(folder: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("giving a folder to another user needs root")
    os.chown(folder, NOBODY, NOBODY)


def _a_link(folder: Path) -> None:
    target = folder.with_name("elsewhere")
    folder.rename(target)
    folder.symlink_to(target)


# (case, which folder of the chain, what is done to it, words of the refusal)
FOLDERS = [
    ("the espml folder writable by others", "espml", _writable_by_others, "written by other users"),
    ("the host-port folder writable by its group", "espml/host-port", _group_writable, "written by other users"),
    ("the espml folder owned by another user", "espml", _someone_elses, "owned by uid 65534"),
    ("the host-port folder a symbolic link", "espml/host-port", _a_link, "symbolic link"),
    ("the base folder writable by others, not sticky", "", _writable_by_others, "written by other users"),
]


@pytest.mark.parametrize("case, which, spoil, words", FOLDERS, ids=[f[0] for f in FOLDERS])
def test_a_cache_folder_others_control_is_refused(case, which, spoil, words, tmp_path: Path, monkeypatch) -> None:
    base = tmp_path / "cache"
    (base / "espml" / "host-port").mkdir(parents=True, mode=0o700)
    spoil(base / which if which else base)
    monkeypatch.setenv("ESPML_CACHE_DIR", str(base))
    with pytest.raises(HostPortError, match=words):
        host_port.build()


def test_a_sticky_base_such_as_tmp_is_accepted(tmp_path: Path, monkeypatch) -> None:
    base = tmp_path / "shared"
    base.mkdir()
    base.chmod(0o1777)
    monkeypatch.setenv("ESPML_CACHE_DIR", str(base))
    assert cache_dir().is_dir()


PLANTED = [("a library writable by others", 0o777, None, "written by other users"),
           ("a library owned by another user", 0o700, NOBODY, "owned by uid 65534")]


@pytest.mark.parametrize("case, mode, owner, words", PLANTED, ids=[p[0] for p in PLANTED])
def test_a_planted_library_is_refused_not_loaded(case, mode, owner, words, tmp_path: Path, monkeypatch) -> None:
    """The library's path is predictable (the sources' hash): a file put there first by someone
    else is refused in one line by the CLI (exit 3), and never loaded."""
    if owner is not None and os.geteuid() != 0:
        pytest.skip("giving a file to another user needs root")
    base = tmp_path / "cache"
    monkeypatch.setenv("ESPML_CACHE_DIR", str(base))
    target = _target(base)
    cache_dir()
    target.parent.mkdir(mode=0o700)
    target.write_bytes(b"not a library: loading it would fail with an OSError")
    target.chmod(mode)
    if owner is not None:
        os.chown(target, owner, owner)
    env = dict(os.environ, ESPML_CACHE_DIR=str(base), PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-m", "toolkit.cli", "info", "--port", "vdev://esp32s3"],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 3, result.stderr
    assert len(lines) == 1 and lines[0].startswith("espml: error:") and words in lines[0], result.stderr


def _target(base: Path) -> Path:
    """Where build() looks for the library under ``base``: built once into a scratch cache to learn the hash."""
    scratch = base.with_name("scratch")
    os.environ["ESPML_CACHE_DIR"] = str(scratch)
    try:
        built = host_port.build()
    finally:
        os.environ["ESPML_CACHE_DIR"] = str(base)
    assert built.stat().st_mode & 0o077 == 0, oct(built.stat().st_mode)  # what build() writes is private
    return base / "espml" / "host-port" / built.parent.name / built.name
