"""The edge announces each module in every batch holding it until one such batch is confirmed."""

from edge.can.announce import PENDING_BATCHES_KEPT, Announcements


def test_modules_are_announced_until_a_batch_announcing_them_is_confirmed() -> None:
    announcements = Announcements()
    first = announcements.due([(1, 2), (1, 1), (1, 2)])
    assert first == [(1, 1), (1, 2)]  # each once, in order
    announcements.sent(1, first)
    second = announcements.due([(1, 1), (1, 2), (2, 1)])
    assert second == [(1, 1), (1, 2), (2, 1)]  # batch 1 not confirmed yet: announce again
    announcements.sent(2, second)

    announcements.confirmed(2)  # the newer batch arrived first, as live data does

    assert announcements.due([(1, 1), (1, 2), (2, 1), (2, 2)]) == [(2, 2)]
    announcements.confirmed(1)  # late, and nothing new in it
    assert announcements.due([(1, 1)]) == []


def test_a_batch_that_never_arrives_leaves_its_modules_due() -> None:
    announcements = Announcements()
    announcements.sent(1, announcements.due([(1, 1)]))  # dropped by a full spool, say
    announcements.sent(2, [])  # nothing to announce: nothing kept
    announcements.confirmed(2)
    assert announcements.due([(1, 1)]) == [(1, 1)]


def test_what_is_kept_for_unconfirmed_batches_is_bounded() -> None:
    announcements = Announcements()
    for seq in range(1, PENDING_BATCHES_KEPT + 2):
        announcements.sent(seq, [(1, 1)] if seq == 1 else [(1, 2)])
    announcements.confirmed(1)  # forgotten as the oldest: its module stays due
    announcements.confirmed(PENDING_BATCHES_KEPT + 1)
    assert announcements.due([(1, 1), (1, 2)]) == [(1, 1)]
