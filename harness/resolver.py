"""Where a model name lives: the one resolver every stage, plan and check goes through.

Tiny models (``tinymodels``) and models converted from a package's file (``converted``) are
built on first use under ``models_dir()``; hub ids and local paths are used as given. The name
with what it is built from (``model_identity``) is what goes into cache keys.
"""

from __future__ import annotations

import os
import sys
from typing import Literal
from pathlib import Path

from harness import converted
from harness.converted import DERIVED
from harness.errors import HarnessError
from harness.store import content_key, locked, models_dir
from harness.tinymodels import SEEDED, TINY, VOCAB_SIZE, build, sources, tiny_spec


def model_identity(name: str) -> str:
    """What goes into cache keys: hub ids and paths as given, tiny names with their spec,
    converted models with the digest of the file they come from."""
    spec = tiny_spec(name)
    if spec is not None:
        dump = spec.model_dump(exclude={"per_seed"} if not spec.per_seed else set())
        return f"{name}@{content_key([dump, VOCAB_SIZE, sources(spec.corpus)])}"
    if name in DERIVED:
        return converted.identity(name)
    return name


def built_here(name: str) -> bool:
    """A model this project builds (tiny) or converts (from a registry's file) locally."""
    return tiny_spec(name) is not None or name in DERIVED


def check(name: str) -> None:
    """Fail before any compute when a model named by a local path is not there."""
    if name in DERIVED:
        converted.gguf_path(name)
    if not built_here(name) and name.startswith(("/", ".", "~")):
        if not Path(name).expanduser().exists():
            raise HarnessError(
                f"model path {name} does not exist; give an existing folder, a hub id, "
                f"or one of {', '.join(TINY)}"
            )


OFFLINE = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


def available(name: str) -> None:
    """Fail before any compute when a model cannot be had: a local path that is not there, a
    converted model without its package, or a hub id neither in the Hugging Face cache nor on
    a hub this machine reaches. Models built here (tiny, converted) always can be. Without
    this, a run computes its first stages and fails at the first model stage, minutes in."""
    check(name)
    if built_here(name) or Path(name).expanduser().exists():
        return
    from huggingface_hub import constants, try_to_load_from_cache

    if isinstance(try_to_load_from_cache(name, "config.json"), str):
        return
    fix = (f"download it where the hub is reachable (`hf download {name}`) into the cache this "
           f"machine reads (HF_HOME, here {constants.HF_HOME}), or give a local folder "
           "(--weak/--strong or the suite's weak/strong)")
    offline = [v for v in OFFLINE if os.environ.get(v, "").upper() in ("1", "ON", "YES", "TRUE")]
    if offline:
        raise HarnessError(f"model {name} is not in the Hugging Face cache and the hub is off "
                           f"({offline[0]}=1): {fix}")
    from huggingface_hub import HfApi
    from huggingface_hub.errors import RepositoryNotFoundError

    try:
        HfApi().model_info(name, timeout=5)
    except RepositoryNotFoundError:
        raise HarnessError(f"model {name} is not a local folder, and the hub has no model of "
                           "that name (or it is gated: log in with `hf auth login`); check the "
                           "name") from None
    except Exception as exc:  # no network, DNS, a proxy: any way of not reaching the hub
        raise HarnessError(f"model {name} is not in the Hugging Face cache and the hub cannot "
                           f"be reached ({type(exc).__name__}): {fix}") from None


def _folder(name: str) -> Path:
    return models_dir() / model_identity(name).replace("@", "-").replace(SEEDED, "-seed")


def resolve(name: str) -> str:
    """A tiny or converted model's local folder (built on first use); a hub id or local path
    as given."""
    check(name)
    if built_here(name):
        path = _folder(name)
        if name in converted.TRUNCATED:  # its parent first, built on first use like it
            parent = resolve(converted.TRUNCATED[name].parent)
            _once(path, lambda: converted.truncate(name, parent, path))
        else:
            _once(path, lambda: (converted.build if name in DERIVED else build)(name, path))
        return str(path)
    return str(Path(name).expanduser()) if name.startswith("~") else name


def skeleton(name: str) -> str:
    """A folder with ``name``'s config and tokenizer, for sizing and token counts: a tiny
    model's own folder when built, else its skeleton (no weights, seconds to make, kept
    beside the models); any other model as ``resolve`` gives it."""
    if tiny_spec(name) is None:
        return resolve(name)
    full = _folder(name)
    if (full / "config.json").exists():
        return str(full)
    path = full.with_name(f".skeleton-{full.name}")
    if (path / "config.json").exists() or "torch" in sys.modules:
        return _skeleton_here(name)
    # Making one imports torch and transformers: apart, so the harness process (which sizes
    # and checks the data before any stage) never does.
    return resolve_apart(name, "skeleton")


def _skeleton_here(name: str) -> str:
    path = _folder(name).with_name(f".skeleton-{_folder(name).name}")
    _once(path, lambda: build(name, path, weights=False))
    return str(path)


def _once(path: Path, make) -> None:
    """``make()`` the model folder ``path`` unless it is there, under its build lock: runs and
    tests sharing ``$HARNESS_MODELS`` build each model once, and none replaces a folder another
    is reading."""
    if (path / "config.json").exists():
        return
    with locked(path.with_name(f".{path.name}.lock")):
        if not (path / "config.json").exists():  # another process built it meanwhile
            make()


def resolve_apart(name: str, what: Literal["model", "skeleton"] = "model") -> str:
    """``resolve(name)`` (or its skeleton) in a process of its own: the harness process
    imports no torch, and Ctrl-C or SIGTERM stops a build within a second, where a long
    native call in this process (training a tokenizer, a torch kernel) would hold the signal
    off; a stopped build leaves no half-written folder."""
    import multiprocessing
    import shutil

    context = multiprocessing.get_context("spawn")
    here, there = context.Pipe(duplex=False)
    process = context.Process(target=_resolve_into, args=(name, what, there), daemon=True,
                              name=f"harness: build {name}")
    process.start()
    there.close()
    try:
        while not here.poll(0.2):
            if not process.is_alive() and not here.poll():
                raise HarnessError(f"building {name} failed (its worker exited with code "
                                   f"{process.exitcode}); see the lines above")
        status, value = here.recv()
    except BaseException:
        process.kill()
        process.join()
        for tmp in models_dir().glob(f".tmp-*-{process.pid}"):
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    process.join()
    if status != "ok":
        raise HarnessError(value)
    return value


def _resolve_into(name: str, what: str, conn) -> None:
    """The body of ``resolve_apart``'s process: Ctrl-C is its parent's to act on."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        conn.send(("ok", (_skeleton_here if what == "skeleton" else resolve)(name)))
    except HarnessError as exc:
        conn.send(("error", str(exc)))
