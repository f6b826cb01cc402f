"""The soak's accounting (bench/soak.py): which second deliveries a worker kill explains,
which answered heartbeats count as lost, and who is silent when."""

from bench.soak import classify_duplicates, lost_heartbeats, make_plan, silenced


def kill(tag, at, *in_flight):
    return {"tag": tag, "at": at, "in_flight": set(in_flight)}


def test_a_copy_sent_by_the_killed_process_while_still_claimed_is_in_the_crash_window():
    deliveries = [(7, "b0", 100.0), (7, "a0", 170.0)]
    result = classify_duplicates(deliveries, [kill("b0", 101.0, 7)])
    assert result["extra_copies_in_crash_window"] == 1
    assert result["extra_copies_outside_crash_window"] == 0


def test_a_second_copy_from_live_processes_is_outside_any_crash_window():
    deliveries = [(7, "a0", 100.0), (7, "b0", 130.0), (8, "a0", 50.0)]
    result = classify_duplicates(deliveries, [kill("b0", 140.0, 9)])
    assert result["extra_copies_outside_crash_window"] == 1
    assert [d["notification_id"] for d in result["outside"]] == [7]


def test_the_kill_must_be_of_the_sender_after_it_sent_and_with_the_row_claimed():
    deliveries = [(7, "b0", 100.0), (7, "a0", 170.0)]
    assert classify_duplicates(deliveries, [kill("b1", 101.0, 7)])["extra_copies_outside_crash_window"] == 1
    assert classify_duplicates(deliveries, [kill("b0", 99.0, 7)])["extra_copies_outside_crash_window"] == 1
    assert classify_duplicates(deliveries, [kill("b0", 101.0)])["extra_copies_outside_crash_window"] == 1


def test_one_kill_explains_one_extra_copy():
    deliveries = [(7, "b0", 100.0), (7, "a0", 170.0), (7, "a0", 180.0)]
    result = classify_duplicates(deliveries, [kill("b0", 101.0, 7)])
    assert (result["extra_copies_in_crash_window"], result["extra_copies_outside_crash_window"]) == (1, 1)


def test_lost_heartbeats_are_answers_beyond_the_stored_rows_per_service():
    result = lost_heartbeats({"x": 3, "y": 2}, {"x": 3, "y": 1, "z": 1})
    assert result["lost"] == 1 and result["services_with_loss"] == ["y"]
    assert result["stored_without_201"] == 1  # z: stored, its answer never arrived


def test_waves_silence_a_rotating_block_and_kills_fall_inside_the_run():
    plan = make_plan(4, 1000, 100, 75)
    start, end, first, count = plan.waves[0]
    assert count == 10 and silenced(plan.waves, 1000, first, start) and not silenced(plan.waves, 1000, first, end)
    assert not silenced(plan.waves, 1000, first + count, start)
    assert all(90 <= k <= plan.seconds - 30 for k in plan.kills)
    assert all(end <= plan.seconds for _, end, _, _ in plan.waves)
