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


def test_late_work_runs_after_the_rest_of_the_batches_work():
    done = []
    with within_batch():
        assert after_batch("outcome 1", lambda: done.append("outcome 1"), late=True)
        assert after_batch("refill", lambda: done.append("refill 1"))
        assert after_batch("outcome 2", lambda: done.append("outcome 2"), late=True)
        assert after_batch("refill", lambda: done.append("refill 2"))
    assert done == ["refill 2", "outcome 1", "outcome 2"]


def test_outside_a_batch_the_caller_does_the_work():
    assert after_batch("a", lambda: None) is False
    assert after_batch("a", lambda: None, late=True) is False


def test_one_failing_piece_of_work_does_not_stop_the_others(caplog):
    done = []

    def fail():
        raise RuntimeError("database gone")

    with within_batch():
        after_batch("fails", fail)
        after_batch("works", lambda: done.append("works"))
    assert done == ["works"]
    assert "fails" in caplog.text
