"""How the process pool splits the work: chunks of about equal weight, heaviest first."""

from optimlint.parallel import _chunks, plan_chunks


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


def test_a_folders_files_share_a_chunk_and_the_heaviest_chunks_go_first():
    paths = ["a/train.py", "b/train.py", "a/eval.py", "c/big.py", "b/utils.py", "a/main.py"]
    weights = [300, 200, 100, 1000, 100, 50]
    chunks = plan_chunks(paths, weights, jobs=1)  # a sixteenth of the weight: 109 a chunk
    # c/ (1000), then a/ (450: 300, then 100 + 50 together), then b/ (300); heaviest first
    assert chunks == [[3], [0], [1], [2, 5], [4]]
    # light files of one folder go together, not interleaved with another folder's
    paths = [f"{folder}/f{k}.py" for k in range(40) for folder in ("x", "y")]
    chunks = plan_chunks(paths, [1] * len(paths), jobs=2)
    assert all(len({p.split("/")[0] for p in (paths[i] for i in c)}) == 1 for c in chunks)
    assert sorted(i for c in chunks for i in c) == list(range(80))
