"""How the process pool splits the work: chunks of about equal weight, heaviest first."""

from optimlint.parallel import _chunks


def test_the_heaviest_files_go_one_or_a_few_at_a_time():
    weights = [1000, 900, 50] + [1] * 200
    order = sorted(range(len(weights)), key=lambda i: -weights[i])
    chunks = _chunks(order, weights, jobs=2)
    assert chunks[0] == [0] and chunks[1] == [1]  # each alone outweighs a chunk's share
    assert [i for chunk in chunks for i in chunk] == order  # every file once, in order
    assert max(len(c) for c in chunks) <= 64


def test_light_files_share_chunks_of_at_most_64():
    weights = [1] * 1000
    chunks = _chunks(list(range(1000)), weights, jobs=2)
    assert sum(len(c) for c in chunks) == 1000
    assert 16 <= len(chunks) <= 40
    assert all(len(c) <= 64 for c in chunks)


def test_no_files_no_chunks_and_zero_weights_are_fine():
    assert _chunks([], [], jobs=2) == []
    assert _chunks([0, 1, 2], [0, 0, 0], jobs=2) == [[0, 1, 2]]  # unreadable files weigh nothing
