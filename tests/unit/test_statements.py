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
    for name in ("decisions", "runs"):
        assert f"<!-- mqbench:generated {name} -->" in readme
    assert len(readme) <= 12_000  # the README answers and points; the detail is in docs/
    for doc, name in (("measurement.md", "findings"), ("scale.md", "scale"), ("pubsub.md", "table1")):
        assert f"<!-- mqbench:generated {name} -->" in (statements.PROJECT_ROOT / "docs" / doc).read_text()
    assert "<!-- mqbench:generated tick -->" in (statements.PROJECT_ROOT / "docs" / "time-tick.md").read_text()


def test_the_reference_runs_agree_within_their_intervals():
    pub = statements.Published()
    table = statements.agreement(pub.findings("reference-1"), pub.findings("reference-2"))
    assert len(table) >= 10
    assert (table["q"] > 0.05).all(), table.sort_values("p").head()
    assert not table["opposite"].any(), table[table["opposite"]]


def test_agreement_finds_two_runs_that_disagree():
    """Cochran's Q with multiplicity: the old rule ("largest z below 3") called two runs whose every one of 30
    comparisons sits 2.5 combined standard errors apart in agreement; the heterogeneity test flags them, and leaves
    a pair of runs that match alone."""
    import numpy as np
    import pandas as pd

    def run(shift: float) -> pd.DataFrame:
        se = 0.01
        ratios = np.full(30, np.exp(shift))
        return pd.DataFrame({"what": [f"c{i}" for i in range(30)], "metric": "latency_avg_ms", "contender": "natsmq",
                             "ratio": ratios, "ci_low": ratios * np.exp(-2.5706 * se),
                             "ci_high": ratios * np.exp(2.5706 * se), "units": 6, "verdict": "inconclusive"})

    apart = statements.agreement(run(0.0), run(2.5 * np.sqrt(2) * 0.01))
    assert (apart["q"] <= 0.05).all()
    assert (statements.agreement(run(0.0), run(0.0))["q"] > 0.05).all()
