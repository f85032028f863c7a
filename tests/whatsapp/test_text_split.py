import re

from hypothesis import given, settings
from hypothesis import strategies as st

from channels_app.whatsapp.payloads import text_split


def non_space(text: str) -> str:
    return "".join(text.split())


def test_a_short_reply_stays_one_message():
    assert text_split("  Your order has shipped.  ") == ["Your order has shipped."]


def test_empty_or_blank_text_gives_no_messages():
    assert text_split("") == []
    assert text_split(" \n\n\t ") == []


def test_paragraphs_are_the_first_place_to_split():
    first = "Thanks for your order. " * 6
    second = "It ships tomorrow from our Leeds warehouse."
    parts = text_split(f"{first.strip()}\n\n{second}", target=160)
    assert parts == [first.strip(), second]


def test_short_paragraphs_are_packed_together_up_to_the_target():
    parts = text_split("Hi Ann!\n\nYour order shipped.\n\nAnything else?", target=160)
    assert parts == ["Hi Ann!\n\nYour order shipped.\n\nAnything else?"]


def test_a_long_paragraph_is_split_between_sentences():
    sentences = [f"Sentence number {i} explains one more detail of the delivery." for i in range(6)]
    parts = text_split(" ".join(sentences), target=160)
    assert len(parts) > 1
    for part in parts:
        assert len(part) <= 160
        assert part.endswith(".")


def test_lines_of_a_list_are_kept_on_their_own_lines():
    text = "Options:\n- Express, next day\n- Standard, 3 days\n- Collect in store"
    assert text_split(text, target=30) == ["Options:\n- Express, next day", "- Standard, 3 days", "- Collect in store"]


def test_a_sentence_longer_than_the_target_is_split_between_words_never_inside_one():
    text = "word " * 100
    parts = text_split(text, target=50)
    assert all(len(part) <= 50 for part in parts)
    assert all(re.fullmatch(r"word( word)*", part) for part in parts)


def test_a_word_longer_than_the_target_is_kept_whole_up_to_the_hard_limit():
    url = "https://example.com/" + "a" * 300
    assert text_split(f"See {url} now", target=160) == ["See", url, "now"]


def test_only_a_word_longer_than_the_hard_limit_is_cut_at_the_hard_limit():
    parts = text_split("x" * 25, target=10, hard_limit=10)
    assert parts == ["x" * 10, "x" * 10, "x" * 5]


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet=st.characters(codec="utf-8"), max_size=600)
    | st.lists(
        st.sampled_from(["word", "Hello.", "!", "\n", "\n\n", " ", "  ", "longerwordhere", "é", "🙂", "\t"]),
        max_size=200,
    ).map("".join),
    target=st.integers(min_value=1, max_value=200),
    hard_limit=st.integers(min_value=1, max_value=300),
)
def test_splitting_keeps_every_character_in_order_and_respects_the_limits(text, target, hard_limit):
    parts = text_split(text, target=target, hard_limit=hard_limit)
    assert non_space("".join(parts)) == non_space(text)
    for part in parts:
        assert part
        assert len(part) <= hard_limit
        assert part == part.strip()
