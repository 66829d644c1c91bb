"""One-time codes: what counts as a code, what only looks like one, and how candidates are ranked."""

from __future__ import annotations

import pytest

from mailservice.adapters.extract import CONFIDENT_SCORE, CodeCandidate, extract_codes


def codes(text: str, subject: str | None = None, html: str | None = None) -> list[str]:
    return [candidate.code for candidate in extract_codes(subject, text, html)]


def test_six_digit_code_after_a_keyword_is_found_with_its_context() -> None:
    [found] = extract_codes(None, "Hello,\n\nYour verification code is 482913. It expires in 10 minutes.")
    assert found == CodeCandidate(
        code="482913",
        score=found.score,
        context="Hello, Your verification code is 482913. It expires in 10 minutes.",
        source="text",
    )
    assert CONFIDENT_SCORE <= found.score < 1


def test_code_split_by_spaces_is_joined() -> None:
    assert codes("Your code is 482 913") == ["482913"]
    assert codes("Your verification code is\n\n  4 8 2 9 1 3") == ["482913"]
    assert codes("Call 06 12 34 56 78 or 1 234 567") == []


def test_code_with_a_dash_is_kept_as_written() -> None:
    assert codes("Your one-time code: A7K-29Q") == ["A7K-29Q"]
    assert codes("G-482913 is your Google verification code.") == ["G-482913"]
    assert codes("Your login code: 123-456") == ["123-456"]


def test_code_in_the_subject_only_is_found_there() -> None:
    [found] = extract_codes("482913 is your Instagram code", "Someone tried to log in to your account.")
    assert (found.code, found.source) == ("482913", "subject")


def test_code_alone_on_a_line_counts_without_keywords() -> None:
    assert codes("Hi Ada,\n\n730215\n\nSee you soon.") == ["730215"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dein Bestätigungscode lautet: 739201", "739201"),
        ("Ihr Sicherheitscode: 5521", "5521"),
        ("Votre code de vérification est : 845120", "845120"),
        ("Tu código de verificación es 602918.", "602918"),
        ("Seu código de verificação é 771045", "771045"),
        ("Il tuo codice di verifica è 330918", "330918"),
        ("Je verificatiecode is 118204", "118204"),
        ("Your PIN is 4821", "4821"),
        ("Please use the following One Time Password (OTP): 902341", "902341"),
        ("Use 550128 to verify your account", "550128"),
    ],
)
def test_keywords_in_several_languages_point_at_the_code(text: str, expected: str) -> None:
    assert codes(text)[:1] == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "Thanks for your order #771204. It ships on 2025-11-26.",
        "Invoice no. 448812 — total $1,000.00",
        "Tracking number: 44120398",
        "Call us at 0800 123 4567 or +1 (415) 555-0134.",
        "Total: €12.99, 1.234,56 € or USD 1500",
        "Save 25% now! 3000 products, 150000 happy customers.",
        "Use code WINTER25 for 25% off at checkout.",
        "Promo code 482913 gives you 10% off.",
        "© 2025 Example Inc., 123 Main Street, San Francisco, CA 94105",
        "Hauptstraße 5, 10115 Berlin",
        "Meeting on 12/05/2025 at 14:30, room 4012.",
        "Version 2.4.1 (build 20451) is out.",
        "Posted in May 2024, updated since 2019.",
        "https://example.com/verify/482913?code=551234 and ada.482913@example.com",
        "Zip code 94105",
    ],
)
def test_numbers_that_only_look_like_codes_are_not_returned(text: str) -> None:
    assert codes(text) == []


def test_code_next_to_lookalikes_wins() -> None:
    text = (
        "Order #771204 placed on 26.11.2025, total $84.50.\n"
        "Questions? Call 1-800-555-0199.\n\n"
        "Your verification code: 306512\n\n"
        "© 2025 Fernhill Inc., 500 Howard Street, San Francisco, CA 94105"
    )
    assert codes(text) == ["306512"]


def test_order_number_counts_when_the_text_calls_it_a_code() -> None:
    assert codes("Order #123456") == []
    assert codes("Your confirmation code for order 4411 is 123456") == ["123456"]


def test_hex_colour_in_html_styles_is_not_a_code() -> None:
    html = '<p style="color:#123456">Welcome!</p><div style="background:#654321">Hello</div>'
    assert codes("Welcome! Hello", html=html) == []


def test_emphasised_code_in_an_html_table_cell_beats_other_numbers() -> None:
    html = (
        "<table><tr><td>Date</td><td>12/05/2025</td></tr><tr><td>Amount</td><td>$12.99</td></tr>"
        "<tr><td>Order</td><td>884421</td></tr>"
        '<tr><td>Code</td><td style="font-size:28px"><b>318406</b></td></tr></table>'
    )
    [found] = extract_codes("Confirm your payment", "", html)
    assert (found.code, found.source) == ("318406", "html")


def test_code_hidden_in_html_but_present_in_text_ranks_below_the_visible_one() -> None:
    html = (
        '<div style="display:none">Your verification code is 111111</div>'
        "<p>Your verification code is:</p><p><strong>529384</strong></p>"
    )
    text = "Your verification code is 111111\n\nYour verification code is:\n\n529384"
    found = codes(text, html=html)
    assert found[0] == "529384"


def test_zero_width_characters_inside_a_code_are_ignored() -> None:
    assert codes("Your code is 48\u200b29\u200d13") == ["482913"]


def test_same_code_in_subject_and_body_is_listed_once_with_a_higher_score() -> None:
    both = extract_codes("Your code 640017", "Enter 640017 in the app.")
    body_only = extract_codes(None, "Enter 640017 in the app.", min_score=0.0)
    assert [candidate.code for candidate in both] == ["640017"]
    assert both[0].score > body_only[0].score


def test_candidates_are_ordered_by_score_then_position_and_limited() -> None:
    text = "Code A: 111222\nCode B: 333444\nCode C: 555666"
    found = extract_codes(None, text, limit=2)
    assert [candidate.code for candidate in found] == ["111222", "333444"]
    assert extract_codes(None, text, limit=0) == []


def test_scores_are_deterministic_and_sorted() -> None:
    text = "Your code is 482913. Backup code: 771045. Order 5521."
    first = extract_codes("Sign in", text, min_score=0.0)
    assert first == extract_codes("Sign in", text, min_score=0.0)
    assert [candidate.score for candidate in first] == sorted((c.score for c in first), reverse=True)


def test_lower_min_score_shows_weaker_candidates() -> None:
    assert extract_codes(None, "Room 4012") == []
    assert [candidate.code for candidate in extract_codes(None, "Room 4012", min_score=0.0)] == ["4012"]


def test_context_is_short_and_on_one_line() -> None:
    text = (
        ("Lorem ipsum dolor sit amet " * 10) + "\n\nYour code: 482913\n\n" + ("consectetur adipiscing " * 10)
    )
    [found] = extract_codes(None, text)
    assert "\n" not in found.context
    assert 20 <= len(found.context) <= 110
    assert "482913" in found.context


def test_empty_message_has_no_code() -> None:
    assert extract_codes(None, "") == []
    assert extract_codes("", "", "") == []


def test_a_code_in_html_quoted_history_ranks_below_the_new_one() -> None:
    html = (
        "<p>Your new code is 222222.</p>"
        '<div class="gmail_quote">On Monday Acme wrote:<blockquote><p>Your code is <b>111111</b>.</p>'
        "</blockquote></div>"
    )
    found = extract_codes("Your code", "", html)
    assert found[0].code == "222222"
    assert all(candidate.score < found[0].score for candidate in found[1:])


def test_a_code_only_in_plain_quoted_lines_is_not_confident() -> None:
    text = "Thanks, that worked.\n\nOn Monday Acme wrote:\n> Your verification code is 111111.\n"
    assert extract_codes("Re: your code", text) == []
