from __future__ import annotations

from pathlib import Path

import pytest

from cdp_cli.errors import InputError
from cdp_cli.plan.loader import discover
from tests.conftest import write_files


def test_plan_roots_split_a_tree_into_plans(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
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
        },
    )
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


def test_a_path_inside_a_plan_validates_the_whole_plan(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            ".git/HEAD": "ref: refs/heads/main\n",
            "plans/shop/plan.yaml": "name: shop\nproperties:\n  order_id: {type: string, description: d}\n",
            "plans/shop/events/orders.yaml": (
                "events:\n  Order Completed:\n    description: d\n    properties:\n      order_id: {ref: order_id}\n"
            ),
        },
    )
    for target in (tmp_path / "plans/shop/events/orders.yaml", tmp_path / "plans/shop/events"):
        (source,) = discover([target])
        assert Path(source.root).name == "shop"
        assert sorted(p.name for p in source.files) == ["orders.yaml", "plan.yaml"]
    # the same plan named twice, once through one of its files, is validated once
    assert len(discover([tmp_path / "plans", tmp_path / "plans/shop/events/orders.yaml"])) == 1


def test_root_plan_yaml_is_read_first(tmp_path: Path) -> None:
    write_files(tmp_path, {"p/plan.yaml": "name: p\n", "p/a/b.yaml": "events: {}\n", "p/a.yaml": "events: {}\n"})
    (source,) = discover([tmp_path / "p"])
    assert [f.relative_to(tmp_path / "p").as_posix() for f in source.files] == ["plan.yaml", "a/b.yaml", "a.yaml"]


def test_search_for_an_enclosing_plan_stops_at_the_repository(tmp_path: Path) -> None:
    write_files(tmp_path, {"plan.yaml": "name: outside\n", "repo/.git/HEAD": "x\n", "repo/loose.yaml": "events: {}\n"})
    (source,) = discover([tmp_path / "repo" / "loose.yaml"])
    assert [p.name for p in source.files] == ["loose.yaml"]
