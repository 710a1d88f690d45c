"""A report page decides on its first screen: the answer open, a section list that stays on screen, every other
section collapsed under its heading."""
from mqbench.core import page


def test_after_the_answer_every_section_is_collapsed_under_its_heading():
    body = "<h1>Run</h1>" + "".join(page.section(t, f"about {t}", f"<p>{t} table</p>")
                                    for t in ("The answer", "Findings", "Table 2"))
    out = page.collapse_details(body)
    answer, rest = out.split("<nav", 1)
    assert '<h2 id="the-answer">' in answer and "The answer table" in answer and "<details" not in answer
    assert rest.count("<details><summary><h2 id=") == 2 and "Findings table" in rest.split("</summary>", 1)[1]
    assert '<a href="#table-2">Table 2</a>' in rest
    assert "position: sticky" in page.CSS.split("nav {", 1)[1].split("}", 1)[0]


def test_a_page_of_one_section_is_left_as_it_is():
    body = page.section("The answer", "x")
    assert page.collapse_details(body) == body
