"""Replay a notebook's slow cells when grading, instead of training the quick runs again.

A teacher who grades forty submissions of a chapter does not want forty copies of its quick runs:
the graded cells (the exercises' checkers) never read what the quick runs trained. This IPython
extension lets a kernel either

- **record**: after a cell that took at least ``MIN_SECONDS`` (and raised nothing), save the values
  of the names it bound or rebound and of every other name its code mentions (an object changed in
  place, ``scores[key] = …`` or ``model.eval()``, is reached through a name in the cell), with the
  random generators' states (Python, NumPy, torch) as they were after the cell, keyed by the sha256
  of the cell's source; or
- **replay**: when a cell's source has a recording, run ``restore(key)`` in its place, which puts
  those values and generator states back — the cells after it see what the real cell left.

What a recording cannot hold it does not try to. A function or class defined in the notebook
(``__main__``) would not exist when a recording is loaded, so a ``def``, ``class`` or
``name = lambda …`` of the cell is kept as source and run again after the values are restored; a
notebook function the cell only calls is left where it is; modules are imported again. A cell whose
values reach a notebook function any other way is not recorded, and simply runs again. An object
the cell changed without naming it (through another object) is not restored: the course test
checks that no cell of a replayed instructor edition raises.

The kernel is told by two environment variables, which :func:`kernel_environment` writes:
``IPYTHONDIR`` (a profile that loads this extension) and ``LESSONS_REPLAY`` = ``record:<folder>``
or ``replay:<folder>``. Without ``LESSONS_REPLAY`` the extension does nothing.

    python -m lessons_src.course.replay env record <folder>   # prints the two variables for `env`
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import io
import os
import pickle
import random
import sys
import time
import types
from pathlib import Path

import numpy as np
import torch

MIN_SECONDS = 5.0  # a cell faster than this is cheaper to run than to record (LESSONS_REPLAY_MIN_SECONDS)
_IPYTHON_NAMES = {"In", "Out", "exit", "quit", "get_ipython"}
_PROFILE = """\
# written by lessons_src.course.replay: the kernel records or replays slow cells (LESSONS_REPLAY)
c = get_config()
c.InteractiveShellApp.extensions = ["lessons_src.course.replay"]
"""


def cell_key(source: str) -> str:
    """The recording's name: sha256 of the cell's source (trailing newlines aside: IPython adds one)."""
    return hashlib.sha256(source.rstrip("\n").encode("utf-8")).hexdigest()


def kernel_environment(mode: str, folder: Path) -> dict[str, str]:
    """Environment variables under which a kernel records (``mode="record"``) or replays slow cells."""
    if mode not in ("record", "replay"):
        raise ValueError(f"replay mode {mode!r}: expected 'record' or 'replay'")
    folder = Path(folder).resolve()
    profile = folder / "ipython" / "profile_default"
    profile.mkdir(parents=True, exist_ok=True)
    (profile / "ipython_kernel_config.py").write_text(_PROFILE, encoding="utf-8")
    return {"IPYTHONDIR": str(folder / "ipython"), "LESSONS_REPLAY": f"{mode}:{folder / 'cells'}"}


class _NotebookReference(pickle.PicklingError):
    pass


def _defined_in_notebook(obj) -> bool:
    """A function, class or instance whose code lives in the notebook (module ``__main__``)."""
    module = getattr(obj, "__module__", None) if isinstance(obj, type) or callable(obj) else None
    return module == "__main__" or type(obj).__module__ == "__main__"


class _Pickler(pickle.Pickler):
    """Refuses values that reach a function, class or instance defined in the notebook."""

    def reducer_override(self, obj):
        if _defined_in_notebook(obj):
            raise _NotebookReference(f"{obj!r} is defined in the notebook")
        return NotImplemented


def _generator_states() -> dict:
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def _set_generator_states(states: dict) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])


class Recorder:
    """The kernel side: ``pre_run_cell`` / ``post_run_cell`` hooks (record), an input transformer (replay)."""

    def __init__(self, shell, folder: Path):
        self.shell, self.folder = shell, Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._before: dict[str, int] = {}
        self._began = 0.0
        self._source = ""

    # ------------------------------------------------------------------ record
    def _bound(self) -> dict[str, int]:
        return {name: id(value) for name, value in self.shell.user_ns.items()
                if not name.startswith("_") and name not in _IPYTHON_NAMES}

    def pre_run_cell(self, info) -> None:
        self._source, self._before, self._began = info.raw_cell, self._bound(), time.perf_counter()

    def _definitions(self, code: str, tree: ast.Module, names: set[str]) -> list[str] | None:
        """The source of the cell's top-level statements that define ``names`` (def, class, lambda);
        None when one of them is bound some other way."""
        found = set()
        statements = []
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defined = {node.name}
            elif (isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda)
                  and all(isinstance(t, ast.Name) for t in node.targets)):
                defined = {t.id for t in node.targets}
            else:
                continue
            if defined & names:
                statements.append(ast.get_source_segment(code, node, padded=False))
                found |= defined
        return statements if names <= found else None

    def post_run_cell(self, result) -> None:
        elapsed = time.perf_counter() - self._began
        if elapsed < float(os.environ.get("LESSONS_REPLAY_MIN_SECONDS", MIN_SECONDS)) or not result.success:
            return
        code = self.shell.transform_cell(self._source)
        try:
            tree = ast.parse(code)
        except SyntaxError:
            return  # not plain Python (a magic, say): the cell runs again
        mentioned = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        after = self._bound()
        rebound = {name for name, ident in after.items() if self._before.get(name) != ident}
        values, modules, defined = {}, {}, set()
        for name in sorted(rebound | (mentioned & after.keys())):
            value = self.shell.user_ns[name]
            if isinstance(value, types.ModuleType):
                modules[name] = value.__name__
            elif _defined_in_notebook(value):
                if name in rebound:
                    defined.add(name)
            else:
                values[name] = value
        definitions = self._definitions(code, tree, defined)
        if definitions is None:
            return  # this cell runs again when replayed
        payload = {"values": values, "modules": modules, "definitions": definitions,
                   "random": _generator_states(), "seconds": elapsed}
        buffer = io.BytesIO()
        try:
            _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(payload)
        except (pickle.PicklingError, TypeError, AttributeError):
            return  # this cell runs again when replayed
        target = self.folder / f"{cell_key(self._source)}.pkl"
        partial = target.with_suffix(".partial")
        partial.write_bytes(buffer.getvalue())
        partial.replace(target)  # two kernels may record at once: never leave half a file

    # ------------------------------------------------------------------ replay
    def transform(self, lines: list[str]) -> list[str]:
        key = cell_key("".join(lines))
        if not (self.folder / f"{key}.pkl").is_file():
            return lines
        return [f"__import__('lessons_src.course.replay').course.replay.restore({key!r})\n"]

    def restore(self, key: str) -> None:
        payload = pickle.loads((self.folder / f"{key}.pkl").read_bytes())
        self.shell.user_ns.update(payload["values"])
        self.shell.user_ns.update({name: importlib.import_module(module) for name, module in payload["modules"].items()})
        for statement in payload.get("definitions", []):  # the cell's own functions, defined again
            exec(compile(statement, "<replayed cell>", "exec"), self.shell.user_ns)
        _set_generator_states(payload["random"])
        names = ", ".join([*payload["values"], *payload["modules"]]) or "no names"
        print(f"[replayed a recorded cell ({payload['seconds']:.0f} s when recorded): {names}]")


_recorder: Recorder | None = None


def restore(key: str) -> None:
    """Put a recorded cell's names and generator states back (the replacement source of that cell)."""
    if _recorder is None:
        raise RuntimeError("no replay is active in this kernel (LESSONS_REPLAY is not set)")
    _recorder.restore(key)


def load_ipython_extension(shell) -> None:
    global _recorder
    setting = os.environ.get("LESSONS_REPLAY", "")
    if not setting:
        return
    mode, _, folder = setting.partition(":")
    if mode not in ("record", "replay") or not folder:
        raise ValueError(f"LESSONS_REPLAY={setting!r}: expected 'record:<folder>' or 'replay:<folder>'")
    _recorder = Recorder(shell, Path(folder))
    if mode == "record":
        shell.events.register("pre_run_cell", _recorder.pre_run_cell)
        shell.events.register("post_run_cell", _recorder.post_run_cell)
    else:
        shell.input_transformers_cleanup.append(_recorder.transform)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or args[0] != "env":
        raise SystemExit("usage: python -m lessons_src.course.replay env record|replay <folder>")
    for name, value in kernel_environment(args[1], Path(args[2])).items():
        print(f"{name}={value}")


if __name__ == "__main__":
    main()
