"""Generate the API reference pages from ``mlrbayes.__all__`` and the documented submodules.

Nothing in the reference is a hand-written list: at ``config-inited`` this extension imports
:mod:`mlrbayes`, reads ``__all__`` of the package and of every public top-level submodule or
subpackage (one whose name has no leading underscore and that defines ``__all__``; the command
line, :mod:`mlrbayes.cli`, is documented by its ``--help`` and the guide instead), and writes
``api/index.rst`` and one ``api/<module>.rst`` per submodule with ``autosummary`` tables. Sphinx's
autosummary then writes one page per object (``api/generated/``).

Each object is documented once, at its *home*: the package itself when it is in
``mlrbayes.__all__``, else the first documented module (in the order of :data:`MODULE_ORDER`, then
alphabetical) that lists it. Other modules that re-export it list it under "Also available here"
with a link to the home page, so a name re-exported in three places is still one page.

:func:`public_names` is also what ``tests/test_docs_thresholds.py`` checks the built reference
against: every public name must have a page.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

#: Modules shown first in the reference (the order a reader meets them); the rest follow
#: alphabetically. A module missing from this list is still documented.
MODULE_ORDER = (
    "em",
    "estimator",
    "selection",
    "uncertainty",
    "intervals",
    "bayes",
    "priors",
    "posterior",
    "relabel",
    "diagnostics",
    "modes",
    "findings",
    "compare",
    "workflow",
    "plots",
    "report",
)

#: Not documented as API modules (the CLI's options are its ``--help``).
EXCLUDED = ("cli",)


def documented_modules() -> list[str]:
    """Names (without ``mlrbayes.``) of the public top-level modules that define ``__all__``."""
    import mlrbayes

    found = []
    for info in pkgutil.iter_modules(mlrbayes.__path__):
        if info.name.startswith("_") or info.name in EXCLUDED:
            continue
        module = importlib.import_module(f"mlrbayes.{info.name}")
        if getattr(module, "__all__", None) is not None:
            found.append(info.name)
    rank = {name: i for i, name in enumerate(MODULE_ORDER)}
    return sorted(found, key=lambda n: (rank.get(n, len(rank)), n))


def _kind(obj) -> str:
    if inspect.isclass(obj):
        return "exceptions" if issubclass(obj, BaseException) else "classes"
    if callable(obj):
        return "functions"
    if inspect.ismodule(obj):
        return "modules"
    return "data"


_TITLES = {
    "classes": "Classes",
    "functions": "Functions",
    "exceptions": "Warnings and exceptions",
    "data": "Constants",
    "modules": "Modules",
}


def public_names() -> dict[str, list[tuple[str, str, str]]]:
    """``{module: [(name, home, home_name), ...]}`` for the package ("") and each documented module.

    ``home`` is the dotted module (without ``mlrbayes``; "" for the package) whose page documents
    the object, under ``home_name`` (another name when the module exports an alias).
    """
    modules = ["", *documented_modules()]
    exports: dict[str, list[tuple[str, object]]] = {}
    places: dict[tuple, list[tuple[str, str]]] = {}  # object key -> [(module, name), ...]
    for mod in modules:
        module = importlib.import_module("mlrbayes" + (f".{mod}" if mod else ""))
        exports[mod] = [(n, getattr(module, n)) for n in module.__all__ if not n.startswith("__")]
        for name, obj in exports[mod]:
            places.setdefault(_key(mod, name, obj), []).append((mod, name))
    return {
        mod: [(name, *_home(obj, places[_key(mod, name, obj)])) for name, obj in rows]
        for mod, rows in exports.items()
    }


def _key(mod: str, name: str, obj) -> tuple:
    """Identity of an exported object. Constants (numbers, strings, tuples) are documented
    where they are listed: equal small values in two modules are not one object."""
    if inspect.isclass(obj) or inspect.isroutine(obj) or inspect.ismodule(obj):
        return ("object", id(obj))
    return ("constant", mod, name)


def _home(obj, places: list[tuple[str, str]]) -> tuple[str, str]:
    """The page that documents ``obj``: the package's when it lists it, else the documented
    module that defines it, else the first that lists it."""
    for mod, name in places:
        if mod == "":
            return mod, name
    defining = getattr(obj, "__module__", "") or ""
    for mod, name in places:
        if defining == f"mlrbayes.{mod}" or defining.startswith(f"mlrbayes.{mod}."):
            return mod, name
    return places[0]


def _top_level_names() -> set[str]:
    import mlrbayes

    return set(mlrbayes.__all__)


def _table(module: str, names: list[str]) -> list[str]:
    return [
        f".. currentmodule:: {module}",
        "",
        ".. autosummary::",
        "   :toctree: generated/",
        "   :nosignatures:",
        "",
        *[f"   {n}" for n in names],
        "",
    ]


def _page(mod: str, rows: list[tuple[str, str, str]]) -> str:
    full = "mlrbayes" + (f".{mod}" if mod else "")
    module = importlib.import_module(full)
    title = f"``{full}``"
    lines = [
        ".. This page is generated by docs/_ext/apigen.py from __all__; do not edit.",
        "",
        title,
        "=" * len(title),
        "",
        f".. automodule:: {full}",
        "   :no-members:",
        # A module named like a function of the package (mlrbayes.compare, mlrbayes.simulate) is
        # not indexed: the name links to the function, which is what users call.
        *(["   :no-index:"] if mod in _top_level_names() else []),
        "",
    ]
    own = [(n, getattr(module, n)) for n, home, _ in rows if home == mod]
    for kind in ("functions", "classes", "exceptions", "data", "modules"):
        names = [n for n, obj in own if _kind(obj) == kind]
        if names:
            lines += [_TITLES[kind], "-" * len(_TITLES[kind]), "", *_table(full, names)]
    elsewhere = [(n, home, hn) for n, home, hn in rows if home != mod]
    if elsewhere:
        lines += [
            "Also available here",
            "-------------------",
            "",
            "Re-exported from the module where they are documented:",
            "",
        ]
        for n, home, home_name in elsewhere:
            target = "mlrbayes" + (f".{home}" if home else "") + f".{home_name}"
            lines.append(f"* :obj:`{full}.{n} <{target}>`")
        lines.append("")
    return "\n".join(lines)


def write_pages(srcdir: Path) -> list[str]:
    """Write ``api/index.rst`` and one page per documented module; return the module names."""
    out = srcdir / "api"
    out.mkdir(exist_ok=True)
    listing = public_names()
    mods = [m for m in listing if m]
    index = _page("", listing[""]).replace("``mlrbayes``\n", "API reference\n", 1)
    index = index.replace("=" * len("``mlrbayes``"), "=" * len("API reference"), 1)
    index += "\n".join(
        [
            "",
            "Modules",
            "-------",
            "",
            ".. toctree::",
            "   :maxdepth: 1",
            "",
            *[f"   mlrbayes.{m}" for m in mods],
            "",
        ]
    )
    pages = {"index.rst": index}
    pages.update({f"mlrbayes.{m}.rst": _page(m, listing[m]) for m in mods})
    for name, text in pages.items():
        path = out / name
        if not path.exists() or path.read_text() != text:  # unchanged pages keep their mtime
            path.write_text(text)
    return mods


def _config_inited(app, config) -> None:
    write_pages(Path(app.srcdir))


# ----------------------------------------------------------------------------- references
#: Pages written by hand: an unresolved reference there is a stale reference and a warning
#: (``nitpicky`` stays off for the generated API pages, whose docstrings also name private
#: helpers and third-party internals that no inventory has).
CHECKED_PAGES = ("index", "guide/", "howto/", "notebooks/index")


def _homes() -> dict[int, str]:
    """``id(object) -> full documented name`` for every class, function and module documented."""
    homes: dict[int, str] = {}
    for mod, rows in public_names().items():
        module = importlib.import_module("mlrbayes" + (f".{mod}" if mod else ""))
        for name, home, home_name in rows:
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isroutine(obj):
                where = "mlrbayes" + (f".{home}" if home else "")
                homes.setdefault(id(obj), f"{where}.{home_name}")
        homes.setdefault(id(module), module.__name__)
    return homes


def _lookup(dotted: str):
    """The object named by ``dotted`` (module prefix imported, the rest by getattr) or None."""
    try:
        return pkgutil.resolve_name(dotted)
    except (ImportError, AttributeError, ValueError):
        return None


def documented_name(dotted: str, homes: dict[int, str]) -> str | None:
    """Where ``dotted`` (e.g. ``mlrbayes.em.fit_em``, a re-export) is documented, or None.

    Walks up the dotted name to the longest prefix that is a documented object and appends the
    rest (``mlrbayes.estimator.MixtureRegressionEM.aic`` -> the class's page + ``.aic``).
    """
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        obj = _lookup(".".join(parts[:i]))
        if obj is not None and id(obj) in homes:
            return ".".join([homes[id(obj)], *parts[i:]])
    return None


def _missing_reference(app, env, node, contnode):
    """Resolve references to re-exported names at their documented home; warn about a
    reference on a hand-written page that resolves nowhere."""
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "").lstrip("~.")
    if not hasattr(app, "_mlrbayes_homes"):
        app._mlrbayes_homes = _homes()
    candidates = [target]
    if node.get("py:module"):
        candidates.append(f"{node['py:module']}.{target}")
    if not target.startswith("mlrbayes"):
        candidates.append(f"mlrbayes.{target}")
    domain = env.get_domain("py")
    for cand in candidates:
        home = documented_name(cand, app._mlrbayes_homes) if cand.startswith("mlrbayes") else None
        if home and home != target:
            found = domain.resolve_xref(
                env, node["refdoc"], app.builder, "obj", home, node, contnode
            )
            if found is not None:
                return found
    # MyST may ask before intersphinx has: let intersphinx answer first.
    from sphinx.ext.intersphinx import missing_reference as intersphinx_reference

    found = intersphinx_reference(app, env, node, contnode)
    if found is not None:
        return found
    refdoc = node.get("refdoc", "")
    if any(refdoc == p or (p.endswith("/") and refdoc.startswith(p)) for p in CHECKED_PAGES):
        logger.warning(
            f"stale reference: {node.get('reftype')} {target!r} resolves to nothing",
            location=node,
        )
    return None


def setup(app):
    # At config-inited, before Sphinx lists the source files and autosummary reads the tables.
    app.connect("config-inited", _config_inited)
    # After intersphinx (priority 500) had its chance to resolve the reference.
    app.connect("missing-reference", _missing_reference, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
