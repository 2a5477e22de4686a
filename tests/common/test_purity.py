"""The purity rule, checked by importing: every module of plugins/mediaflow that pyproject.toml
does not list as Airflow-facing imports (with everything it imports in turn) while Airflow
cannot be imported at all. Ruff's TID251 sees only a module's own import lines; this sees
the whole chain."""

from __future__ import annotations

import fnmatch
import subprocess
import sys
import tomllib

from tests.helpers import ROOT

PACKAGE = ROOT / "plugins" / "mediaflow"

BLOCK_AIRFLOW = """
import importlib.abc, sys
class NoAirflow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "airflow" or name.startswith("airflow."):
            raise ImportError(f"pure module imported {{name}}")
        return None
sys.meta_path.insert(0, NoAirflow())
sys.path.insert(0, {plugins!r})
import importlib
failed = []
for module in {modules!r}:
    try:
        importlib.import_module(module)
    except ImportError as exc:
        failed.append(f"{{module}}: {{exc}}")
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def _expand(pattern: str) -> list[str]:
    """`a/{b,c}.py` -> [`a/b.py`, `a/c.py`] (the brace form ruff's globs accept)."""
    if "{" not in pattern:
        return [pattern]
    head, rest = pattern.split("{", 1)
    options, tail = rest.split("}", 1)
    return [p for option in options.split(",") for p in _expand(head + option + tail)]


def airflow_facing_patterns() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    ignores = config["tool"]["ruff"]["lint"]["per-file-ignores"]
    return [p for pattern, rules in ignores.items() if "TID251" in rules for p in _expand(pattern)]


def pure_modules() -> list[str]:
    patterns = airflow_facing_patterns()
    modules = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if any(fnmatch.fnmatch(relative, p) for p in patterns):
            continue
        module = path.relative_to(ROOT / "plugins").with_suffix("").as_posix().replace("/", ".")
        modules.append(module.removesuffix(".__init__"))
    return modules


def test_the_rule_lists_the_airflow_facing_modules_and_leaves_the_engines_pure():
    modules = pure_modules()
    for engine in ("mediaflow.s3copy.engine", "mediaflow.s3copy.planning", "mediaflow.frameio.http_to_s3",
                   "mediaflow.video.probe", "mediaflow.mediaconvert.jobs"):  # fmt: skip
        assert engine in modules
    for facing in ("mediaflow.s3copy.operators", "mediaflow.mediaconvert.trigger", "mediaflow.common.tasks"):
        assert facing not in modules


def test_every_pure_module_imports_without_airflow():
    script = BLOCK_AIRFLOW.format(plugins=str(ROOT / "plugins"), modules=pure_modules())
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
