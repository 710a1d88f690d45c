"""Every figure the README and docs state about a published run is generated from that run's files
(`mqbench.report.statements`): a doc whose generated blocks differ from what `reports/` says now fails here."""
from mqbench.report import statements


def test_generated_blocks_match_the_published_runs():
    assert statements.stale() == [], "run `mqbench docs` and commit the result"


def test_every_role_names_a_published_run():
    roles = statements.roles()
    assert {"reference-1", "reference-2", "aa"} <= set(roles)
    pub = statements.Published()
    assert all(pub.has(role) for role in roles), roles


def test_each_doc_with_figures_has_its_blocks():
    readme = (statements.PROJECT_ROOT / "README.md").read_text()
    for name in ("findings", "runs", "scale"):
        assert f"<!-- mqbench:generated {name} -->" in readme
    assert "<!-- mqbench:generated tick -->" in (statements.PROJECT_ROOT / "docs" / "time-tick.md").read_text()


def test_the_reference_runs_agree_within_their_intervals():
    pub = statements.Published()
    table = statements.agreement(pub.findings("reference-1"), pub.findings("reference-2"))
    assert len(table) >= 10
    assert (table["z"] < 3).all(), table.sort_values("z", ascending=False).head()
    assert not table["opposite"].any(), table[table["opposite"]]
