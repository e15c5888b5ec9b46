from __future__ import annotations

from pathlib import Path

import pytest

from cdp_cli.errors import InputError
from cdp_cli.plan.loader import discover
from tests.conftest import write_files


def test_plan_roots_split_a_tree_into_plans(tmp_path: Path) -> None:
    write_files(tmp_path, {
        "shop/plan.yaml": "name: shop\n",
        "shop/events/a.yaml": "events: {}\n",
        "shop/events/b.yml": "events: {}\n",
        "saas/plan.yml": "name: saas\n",
        "saas/nested/plan.yaml": "name: nested\n",
        "saas/nested/x.yaml": "events: {}\n",
        "loose.yaml": "events: {}\n",
        ".hidden/plan.yaml": "name: hidden\n",
        "shop/.draft.yaml": "events: {}\n",
        "shop/notes.txt": "not yaml",
    })
    sources = discover([tmp_path])
    got = {Path(s.root).name: sorted(p.relative_to(tmp_path).as_posix() for p in s.files) for s in sources}
    assert got == {
        "nested": ["saas/nested/plan.yaml", "saas/nested/x.yaml"],
        "saas": ["saas/plan.yml"],
        "shop": ["shop/events/a.yaml", "shop/events/b.yml", "shop/plan.yaml"],
        "loose.yaml": ["loose.yaml"],
    }


def test_directory_without_plan_yaml_is_one_plan_in_sorted_order(tmp_path: Path) -> None:
    write_files(tmp_path, {"b.yaml": "events: {}\n", "a/z.yaml": "events: {}\n", "a/b.yaml": "events: {}\n"})
    (source,) = discover([tmp_path])
    assert [p.relative_to(tmp_path).as_posix() for p in source.files] == ["a/b.yaml", "a/z.yaml", "b.yaml"]


def test_same_plan_given_twice_is_validated_once(tmp_path: Path) -> None:
    write_files(tmp_path, {"p/plan.yaml": "name: p\n"})
    assert len(discover([tmp_path / "p", tmp_path / "p", tmp_path])) == 1


def test_missing_path_raises_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or directory"):
        discover([tmp_path / "missing"])
