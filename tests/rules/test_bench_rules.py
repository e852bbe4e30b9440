"""bench/rules.py's hot-topic workload compiles: its variants of the shipped rules keep
their `rule:` references to each other (a bench that fails is one nobody reads)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from monitors.rules import RuleSet

BENCH = Path(__file__).resolve().parents[2] / "bench" / "rules.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_rules", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_hot_topic_variants_refer_to_their_own_rounds_variants(bench: ModuleType) -> None:
    shipped, aliases = bench.shipped_queries()
    count = 2 * len(shipped)
    variants = bench.hot_topic_queries(shipped, count, bench.SEED)
    ids = [rule_id for rule_id, _ in variants]
    assert ids == [f"{rule_id}-{i}" for i, (rule_id, _) in enumerate(shipped * 2)]
    second_round = set(ids[len(shipped) :])
    for rule_id, query in variants[len(shipped) :]:
        assert set(re.findall(r"rule:([\w-]+)", query)) <= second_round, rule_id
    assert "rule:security-guarantees-3" in dict(variants)["senate-ratification-5"]
    compiled = RuleSet.compile(variants, aliases=aliases)
    assert len(compiled) == count
