"""Routing text: what gets embedded, and which earlier result a follow-up means."""

import pytest

from assistant.memory import SessionMemory, TurnRecord
from assistant.router import category_of, referenced_result, search_phrase


@pytest.mark.parametrize(
    ("question", "phrase"),
    [
        ("Do you have a picture of a badger?", "a badger"),
        ("Do you have a picture of a badger? I would like to see one.", "a badger"),
        ("Could you please show me some photos of red birds", "red birds"),
        ("Is there an image of the moon?", "the moon"),
        ("a frog", "a frog"),
        ("show me", "show me"),  # nothing left after the request: keep what was said
        ("What animals do you have?", "an animal"),
        ("Which kinds of berries are there?", "a berry"),
        ("What people do you have?", "a person"),
    ],
)
def test_search_phrase_drops_the_request_wording(question, phrase):
    assert search_phrase(question) == phrase


def test_follow_ups_point_at_earlier_results():
    shown = ["a", "b", "c"]
    assert referenced_result("more like the second one", shown) == "b"
    assert referenced_result("the last picture please", shown) == "c"
    assert referenced_result("number 3", shown) == "c"
    assert referenced_result("more like this", shown) == "a"
    assert referenced_result("the fifth one", shown) is None  # not that many results
    assert referenced_result("a red car", shown) is None
    assert referenced_result("more like this", []) is None


def test_memory_keeps_the_last_turns_per_session_and_forgets_old_sessions():
    memory = SessionMemory(turns=2, max_sessions=2)
    for n in range(3):
        memory.remember("u", "s", TurnRecord(f"q{n}", f"a{n}"))
    assert [t.question for t in memory.history("u", "s")] == ["q1", "q2"]
    assert memory.history("other", "s") == [] and memory.history("u", "other") == []
    memory.remember("v", "s", TurnRecord("q", "a"))
    memory.remember("w", "s", TurnRecord("q", "a"))  # the least recently used session goes
    assert memory.history("u", "s") == []
    memory.forget("w", "s")
    assert memory.history("w", "s") == []


def test_broad_questions_name_a_kind_of_thing():
    assert category_of("What animals do you have?") == "animals"
    assert category_of("Which kinds of fruit are there?") == "fruit"
    assert category_of("what other birds have you got") == "birds"
    assert category_of("Do you have a picture of a badger?") is None
    assert category_of("What is this?") is None
