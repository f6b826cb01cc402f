"""The dependency rules (core/dependencies.py): who suppresses whom, and cycles."""

from __future__ import annotations

import pytest

from medic.core.dependencies import (
    MAX_DEPTH, DependencyError, OpenAlert, affected_by, ancestors, check_depends_on, cycle_path, plan_openings,
    suppressor,
)

# db(1) <- api(2) <- web(3)
CHAIN = {2: [1], 3: [2]}
# a(1) <- b(2), a <- c(3), b,c <- d(4)
DIAMOND = {2: [1], 3: [1], 4: [2, 3]}
PAGED, HELD = OpenAlert(10, False), OpenAlert(20, True)


def test_ancestors_are_nearest_first_and_bounded():
    assert ancestors(3, CHAIN) == [2, 1]
    assert ancestors(4, DIAMOND) == [2, 3, 1]
    assert ancestors(1, DIAMOND) == []
    long = {n + 1: [n] for n in range(100)}
    assert len(ancestors(100, long)) == MAX_DEPTH
    assert ancestors(1, {1: [2], 2: [1]}) == [2]  # a cycle (refused on write) cannot loop


def test_a_service_below_an_open_alert_is_suppressed_by_the_nearest_that_paged():
    assert suppressor(3, CHAIN, {}) is None
    assert suppressor(3, CHAIN, {1: PAGED}) == 1
    assert suppressor(3, CHAIN, {1: PAGED, 2: HELD}) == 1  # the one that paged, not the suppressed api
    assert suppressor(3, CHAIN, {2: HELD}) == 2  # api's parent recovered, its grace still runs
    assert suppressor(3, CHAIN, {2: PAGED, 1: PAGED}) == 2
    assert suppressor(1, CHAIN, {2: PAGED, 3: PAGED}) is None  # children never suppress parents


def test_services_opening_together_page_only_for_the_top():
    assert plan_openings([1, 2, 3], CHAIN, {}) == {1: None, 2: 1, 3: 1}
    assert plan_openings([2, 3], CHAIN, {}) == {2: None, 3: 2}
    assert plan_openings([4, 3, 2, 1], DIAMOND, {}) == {1: None, 2: 1, 3: 1, 4: 1}
    assert plan_openings([2, 3, 4], DIAMOND, {}) == {2: None, 3: None, 4: 2}
    assert plan_openings([3], CHAIN, {1: PAGED}) == {3: 1}


def test_affected_are_grouped_under_the_service_that_pages():
    assert affected_by({1: None, 2: 1, 3: 1}) == {1: [2, 3]}
    assert affected_by({2: 1, 3: 2}) == {1: [2, 3]}
    assert affected_by({1: None}) == {}


def test_cycle_paths_are_named_in_order():
    assert cycle_path(1, [2], CHAIN) == [1, 2, 1]
    assert cycle_path(1, [3], CHAIN) == [1, 3, 2, 1]
    assert cycle_path(1, [4], DIAMOND) == [1, 4, 2, 1]
    assert cycle_path(4, [1], DIAMOND) is None
    assert cycle_path(5, [4], DIAMOND) is None


NAMES = {1: "db", 2: "api", 3: "web"}


@pytest.mark.parametrize(("service", "parents", "message"), [
    (1, [1], "'db' cannot depend on itself"),
    (1, [3], "would make a cycle: db -> web -> api -> db"),
    (1, list(range(100, 151)), "at most 50 services"),
])
def test_refused_depends_on(service, parents, message):
    with pytest.raises(DependencyError, match=message):
        check_depends_on(service, parents, CHAIN, truncated=False, names=NAMES)


def test_accepted_depends_on():
    check_depends_on(3, [1, 2], CHAIN, truncated=False, names=NAMES)
    check_depends_on(None, [3], CHAIN, truncated=False, names=NAMES)  # a new service
    with pytest.raises(DependencyError, match="ancestors"):
        check_depends_on(3, [1], CHAIN, truncated=True, names=NAMES)
