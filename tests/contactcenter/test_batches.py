"""Work deferred to the end of a batch, once per key (contactcenter.batches)."""

from contactcenter.batches import after_batch, within_batch


def test_work_asked_for_in_a_batch_runs_once_per_key_at_its_end():
    done = []
    with within_batch():
        assert after_batch("a", lambda: done.append("a1"))
        assert after_batch("b", lambda: done.append("b"))
        assert after_batch("a", lambda: done.append("a2"))  # the latest wins
        with within_batch():  # a nested block joins the outer one
            assert after_batch("c", lambda: done.append("c"))
        assert done == []
    assert done == ["b", "a2", "c"]


def test_outside_a_batch_the_caller_does_the_work():
    assert after_batch("a", lambda: None) is False


def test_one_failing_piece_of_work_does_not_stop_the_others(caplog):
    done = []

    def fail():
        raise RuntimeError("database gone")

    with within_batch():
        after_batch("fails", fail)
        after_batch("works", lambda: done.append("works"))
    assert done == ["works"]
    assert "fails" in caplog.text
