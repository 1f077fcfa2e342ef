"""Dependencies: what is imported is declared, what is declared is used, and no runtime
dependency (direct or transitive) is under the GPL or AGPL (supportbot is Apache-2.0).

Reads the installed distributions' metadata (``importlib.metadata``), so it checks what a
``pip install supportbot`` really brings in, not what a lock file says.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
OUR_PACKAGES = ("bot", "channels", "config", "handoff", "knowledge")
# GPL or AGPL in any form except the Lesser GPL, which permits use as a library.
_COPYLEFT = re.compile(r"\b(A?GPL|GNU (Affero )?General Public License)", re.IGNORECASE)
_LESSER = re.compile(r"\bLGPL|Lesser General Public License|Library General Public", re.I)


def _runtime_requirements(dist: metadata.Distribution, extras: set[str]) -> list[Requirement]:
    env = default_environment()
    wanted = []
    for line in dist.requires or []:
        req = Requirement(line)
        if req.marker is None:
            wanted.append(req)
            continue
        # A requirement marked with an extra applies only when that extra was asked for.
        if any(req.marker.evaluate({**env, "extra": extra}) for extra in extras or {""}):
            wanted.append(req)
    return wanted


def _runtime_closure() -> dict[str, metadata.Distribution]:
    """Every installed distribution supportbot needs at run time (dev extras excluded)."""
    found: dict[str, metadata.Distribution] = {}
    todo: list[tuple[str, set[str]]] = [("supportbot", set())]
    while todo:
        name, extras = todo.pop()
        dist = metadata.distribution(name)
        key = canonicalize_name(dist.metadata["Name"])
        if key in found and not extras:
            continue
        found[key] = dist
        for req in _runtime_requirements(dist, extras):
            if canonicalize_name(req.name) != key:
                todo.append((req.name, set(req.extras)))
    found.pop("supportbot")
    return found


def _licence_texts(dist: metadata.Distribution) -> list[str]:
    meta = dist.metadata
    texts = [meta.get("License-Expression") or ""]
    licence = meta.get("License") or ""
    # Some projects paste the whole licence into License; its first line names it.
    texts.append(licence.splitlines()[0] if licence.strip() else "")
    texts += [c for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    return [t for t in texts if t]


def copyleft_terms(texts: list[str]) -> list[str]:
    """The licence statements that put a dependency under the GPL or AGPL."""
    bad = []
    for text in texts:
        # "MIT OR GPL-2.0" lets us choose MIT: only an expression without a way out binds us.
        alternatives = re.split(r"\s+OR\s+", text) if "License ::" not in text else [text]
        if all(_COPYLEFT.search(alt) and not _LESSER.search(alt) for alt in alternatives):
            bad.append(text)
    return bad


def test_copyleft_detection() -> None:
    assert copyleft_terms(["GPL-3.0-or-later"])
    assert copyleft_terms(["License :: OSI Approved :: GNU General Public License v3 (GPLv3)"])
    assert copyleft_terms(["AGPL-3.0-only"])
    assert not copyleft_terms(["LGPL-2.1-or-later"])
    assert not copyleft_terms(["License :: OSI Approved :: GNU Lesser General Public License v3"])
    assert not copyleft_terms(["MIT OR GPL-2.0-or-later", "Apache-2.0", "BSD-3-Clause"])


def test_no_runtime_dependency_is_gpl_or_agpl() -> None:
    closure = _runtime_closure()
    assert "slack-bolt" in closure and "markdownify" in closure  # the walk really walked
    licences = {name: copyleft_terms(_licence_texts(dist)) for name, dist in closure.items()}
    offenders = {name: terms for name, terms in licences.items() if terms}
    assert offenders == {}, f"GPL/AGPL runtime dependencies: {offenders}"


def test_the_project_declares_its_licence() -> None:
    meta = metadata.distribution("supportbot").metadata
    declared = meta.get("License-Expression") or meta.get("License") or ""
    assert "Apache-2.0" in declared
    licence = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence
    assert "END OF TERMS AND CONDITIONS" in licence


def _imported_top_levels() -> set[str]:
    names: set[str] = set()
    for package in OUR_PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - set(OUR_PACKAGES) - {"__future__"}


def test_what_is_imported_is_declared_and_what_is_declared_is_imported() -> None:
    declared = {
        canonicalize_name(req.name)
        for req in _runtime_requirements(metadata.distribution("supportbot"), set())
    }
    providers = metadata.packages_distributions()
    imported: set[str] = set()
    for module in _imported_top_levels():
        dists = {canonicalize_name(d) for d in providers.get(module, [])}
        assert dists, f"{module} is imported but no installed distribution provides it"
        assert dists & declared, f"{module} is imported but {sorted(dists)} is not declared"
        imported |= dists & declared
    assert declared - imported == set(), "declared but never imported"
