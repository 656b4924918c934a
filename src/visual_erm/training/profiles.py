"""Training profiles: versioned YAML files loaded into a strict pydantic model (shared by the trainers).

Unknown keys anywhere are errors (the models forbid extras). Overrides are dotted keys
(``{"training.max_steps": 20}``) applied before validation, so a typo in an override fails the same way as a typo
in the file.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class ProfileError(ValueError):
    pass


def available_profiles(profile_dir: Path) -> list[str]:
    return sorted(p.stem for p in Path(profile_dir).glob("*.yaml"))


def apply_overrides(data: dict, overrides: dict[str, Any] | None) -> dict:
    """A deep copy of ``data`` with dotted-key overrides set (missing sections are created)."""
    data = copy.deepcopy(data)
    for dotted, value in (overrides or {}).items():
        node = data
        parts = dotted.split(".")
        for part in parts[:-1]:
            if node.get(part) is None:
                node[part] = {}
            node = node[part]
            if not isinstance(node, dict):
                raise ProfileError(f"override {dotted!r}: {part!r} is not a section")
        node[parts[-1]] = value
    return data


def validate_profile(model: type[M], data: dict, what: str) -> M:
    """``model.model_validate(data)``, its errors turned into one :class:`ProfileError` (``what: loc: msg; …``)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        msgs = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ProfileError(f"{what}: " + "; ".join(msgs)) from None


def load_yaml_profile(model: type[M], name_or_path: str | Path, profile_dir: Path,
                      overrides: dict[str, Any] | None = None, *, kind: str = "profile") -> M:
    """A profile by name (``profile_dir/<name>.yaml``) or YAML path, with dotted-key overrides applied.

    ``kind`` names it in errors (``no <kind> 'x'``, ``<kind> x.yaml: loc: msg``).
    """
    path = Path(name_or_path)
    if not path.suffix:
        path = Path(profile_dir) / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ProfileError(f"no {kind} {name_or_path!r}: use one of {', '.join(available_profiles(profile_dir))} "
                           "or a YAML path")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: a profile is a YAML mapping")
    data = apply_overrides(data, overrides)
    return validate_profile(model, data, f"{kind} {path.name}")


def profile_yaml(profile: BaseModel) -> str:
    return yaml.safe_dump(profile.model_dump(mode="json"), sort_keys=False)
