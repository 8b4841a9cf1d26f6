"""Sphinx extension: resolve references to mfderive's public aliases.

Docstrings refer to ``mfderive.Measure`` or ``mfderive.run`` (the names users type), while
autodoc documents each object where it is defined (``mfderive.derive.measures.Measure``).
On a missing Python reference whose target is such an alias (or a bare public name such as
``Measure``), this looks the object up and retries the reference with its defining module
and qualified name, so that every link resolves under ``-n`` (nitpicky) without an ignore
list.  Nothing is resolved that does not exist.
"""

from __future__ import annotations

import importlib


def _canonical(target: str, module: str | None = None) -> str | None:
    if target.startswith("mfderive."):
        names = [target]
    else:  # a bare name: the referring module's own, then the package's public one
        names = ([f"{module}.{target}"] if module else []) + ["mfderive." + target]
    for name in names:
        module, _, attr = name.rpartition(".")
        if "." in attr or not module:
            continue
        try:
            obj = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError, ValueError):
            continue
        mod, qual = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
        if mod and qual and mod.startswith("mfderive") and not qual.startswith("_") \
                and f"{mod}.{qual}" != target:
            return f"{mod}.{qual}"
    return None


def _missing_reference(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    canonical = _canonical(target, node.get("py:module"))
    if canonical is None:
        return None
    domain = env.get_domain("py")
    builder = app.builder
    for role in ("obj", node.get("reftype", "obj")):
        found = domain.resolve_xref(env, node.get("refdoc"), builder, role, canonical, node, contnode)
        if found is not None:
            return found
    return None


def setup(app):
    app.connect("missing-reference", _missing_reference)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
