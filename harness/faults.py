"""Plugin code failing inside the harness: one line naming the plugin, never a bare traceback.

A researcher running someone else's plugin needs to know whose code failed, where, and what
to tell its author; the traceback still goes to the stage's log for the author.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from harness.bases import KINDS, SINGULAR, Plugin, Selector, WeakItem
from harness.errors import HarnessError, PluginFault

ABOVE = "the lines above"
"""Where the traceback of a fault in this process (planning, collecting) goes."""


def origin(plugin: Plugin) -> str:
    """``selector faulty (from bad-plugin 1.0)``: the plugin and the distribution the registry
    that made it recorded (none for one built outside a registry, as a unit test may)."""
    from harness.registry import DIST

    kind = next(k for k, base in KINDS.items() if isinstance(plugin, base))
    dist = getattr(plugin, DIST, "")
    return f"{SINGULAR[kind]} {plugin.name}{f' (from {dist})' if dist else ''}"


@contextmanager
def blame(plugin: Plugin, where: str, what: str = "",
          log: str = "the stage's log") -> Iterator[None]:
    """Any exception from ``plugin``'s code becomes one line naming the plugin, its
    distribution, ``what`` it was doing and ``where`` (a stage and its capabilities, or the
    planning of a suite); the traceback is printed first, into ``log``."""
    try:
        yield
    except HarnessError:
        raise
    except Exception as exc:
        traceback.print_exc()
        text = str(exc).splitlines()[0] if str(exc) else ""
        raise PluginFault(f"{origin(plugin)} raised {type(exc).__name__}: {text}"
                          f"{' in ' + what if what else ''} [{where}]; "
                          f"the traceback is in {log}") from None


def copies(pool: list[WeakItem]) -> list[WeakItem]:
    """What a selector is given: deep copies, so nothing it does to them reaches the pool the
    harness keeps and trains from."""
    return [i.model_copy(deep=True) for i in pool]


def edits(pool: list[WeakItem], given: list[WeakItem], chosen: Any = (),
          relabels: bool = False) -> list[str]:
    """The ids of the items a selector changed: in the copies it was given, or in the items
    it returned (an edited copy of an item: the harness takes the pool's by id, so the edit
    would be lost without a word). A relabelling selector's new labels are not edits."""
    by_id = {i.id: i for i in pool}
    returned = [c for c in chosen if isinstance(c, WeakItem)] \
        if isinstance(chosen, (list, tuple)) else []
    changed = [a.id for a, b in zip(pool, given) if a != b]
    if relabels:  # a new label is the selection itself (checked in checked_selection)
        returned = [c.model_copy(update={"label": by_id[c.id].label,
                                         "answer": by_id[c.id].answer})
                    if c.id in by_id else c for c in returned]
    changed += [c.id for c in returned if c.id in by_id and c != by_id[c.id]]
    return list(dict.fromkeys(changed))


def checked_selection(selector: Selector, where: str, pool: list[WeakItem],
                      chosen: Any) -> list[WeakItem]:
    """The pool's own items that ``chosen`` names, after checking it is a selection: a list of
    the pool's items, each once, at least one. Taking the pool's items (not the returned
    objects) means a selector can choose labels but never change them."""
    who = f"selector {selector.name} [{where}]"
    if not isinstance(chosen, (list, tuple)):
        raise PluginFault(f"{who} returned {type(chosen).__name__}, not a list of the pool's "
                          "items; return the WeakItems it keeps")
    by_id = {i.id: i for i in pool}
    ids = [getattr(c, "id", c) for c in chosen]
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise PluginFault(f"{who} returned {len(unknown)} ids not in the pool of {len(pool)} "
                          f"(e.g. {unknown[0]!r}); return items of the pool it was given")
    seen: set = set()
    repeated = [i for i in ids if i in seen or seen.add(i)]
    if repeated:
        raise PluginFault(f"{who} returned {len(repeated)} items more than once (e.g. "
                          f"{repeated[0]!r}); return each item at most once")
    if not ids:
        raise PluginFault(f"{who} kept none of the {len(pool)} weak labels; a selection "
                          "keeps at least one (check the selector's params in the suite)")
    if not selector.relabels:
        return [by_id[i] for i in ids]
    return [_relabelled(who, pool, by_id[i], c) for i, c in zip(ids, chosen)]


def _relabelled(who: str, pool: list[WeakItem], item: WeakItem, returned: Any) -> WeakItem:
    """A relabelling selector's item: the pool's, with the label it returned, which must be
    the label of a pool item of the same capability (with that item's answer)."""
    label = getattr(returned, "label", item.label)
    if label == item.label:
        return item
    donor = next((i for i in pool if i.capability == item.capability and i.label == label),
                 None)
    if donor is None:
        raise PluginFault(f"{who} relabelled {item.id!r} as {label!r}, which no weak label of "
                          f"{item.capability} is; relabel only to the pool's own labels")
    return item.model_copy(update={"label": label, "answer": donor.answer})
