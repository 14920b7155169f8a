"""The hooks a plugin may implement.

Every hook receives a ``register`` callback and calls it once per class it contributes, so a
plugin can register several classes, conditionally, without the core knowing its module layout.
"""

from __future__ import annotations

from typing import Callable

import pluggy

hookspec = pluggy.HookspecMarker("harness")
hookimpl = pluggy.HookimplMarker("harness")

Register = Callable[[type], None]


@hookspec
def register_capabilities(register: Register) -> None:
    """Register Capability subclasses: datasets posed as generation, with a scorer."""


@hookspec
def register_selectors(register: Register) -> None:
    """Register Selector subclasses: choose (and weight) weakly labelled items to train on."""


@hookspec
def register_trainers(register: Register) -> None:
    """Register Trainer subclasses: turn a base model and data into a fine-tuned model."""


@hookspec
def register_backends(register: Register) -> None:
    """Register Backend subclasses: greedy decoding engines."""


@hookspec
def register_supervisors(register: Register) -> None:
    """Register Supervisor subclasses: the weak side that labels the unlabeled split."""
