"""A study declares what it adds — its columns and their rules, the keys its blocks are compared by, its question
and its report section — in its own module; the Findings, the answer box, the report and the column docs take it
from there. The study here is declared inside the test alone (``echo``: a round trip, a column of its own)."""
import numpy as np
import pandas as pd
import pytest
from mqbench.core import page, results, schema, studies
from mqbench.core.errors import MqbenchError
from mqbench.report import sections, statements
from mqbench.stats import answers, findings


@pytest.fixture
def echo(monkeypatch):
    """The ``echo`` study, declared into copies of the registries (gone after the test)."""
    studies.declared()  # the built-in studies first, so the copies hold them
    for module, name in ((schema, "COLUMNS"), (schema, "JUDGED"), (studies, "STUDIES")):
        monkeypatch.setattr(module, name, dict(getattr(module, name)))
    section = page.Section("Echo round trips", "Each MQ's echo round trip, per block.",
                               lambda run: [f"<p>{len(run.rows(notebook='echo'))} echo rows</p>"])
    question = answers.Question("echo", "Does an echo come back sooner?", "echo-round-trips", "block",
                                ({"notebook": "echo", "metric": "echo_ms"},))
    column = schema.Column("echo_ms", "ms", "echo: one round trip, mean over the block", better="lower",
                           judged=schema.Judged(()))
    return studies.declare(studies.Study("echo", compare=("op", "phase"), judges=("latency_p50_ms",),
                                         columns=(column,), questions=(question,), sections=(section,)))


def _blocks(ratio: float) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = []
    for block in range(8):
        base, noise = 10 * (1 + 0.02 * rng.standard_normal(2))
        for index, (variant, value) in enumerate((("rocksmq", base), ("natsmq", noise * ratio))):
            rows.append({"run_id": "r", "notebook": "echo", "status": "ok", "variant": variant, "mq": variant,
                         "variant_index": index, "op": "echo", "phase": "serial", "unit": "block", "block": block,
                         "echo_ms": value, "latency_p50_ms": value})
    return pd.DataFrame(rows)


def test_a_declared_study_is_compared_answered_shown_and_documented(echo, tmp_path):
    assert studies.declared()["echo"] is echo
    assert schema.COLUMNS["echo_ms"].judged.at == ("echo",) and "echo" in schema.JUDGED["latency_p50_ms"].at
    assert "search_query" in schema.JUDGED["latency_p50_ms"].at  # a built-in study's rule is kept
    assert findings.compared()["echo"] == (["op", "phase"], schema.judged_at("echo"))
    table = findings.findings(_blocks(1.5))
    echoed = table[table["notebook"].eq("echo")].set_index("metric")
    assert set(echoed.index) == {"echo_ms", "latency_p50_ms"}
    assert echoed.loc["echo_ms", "verdict"] == "different" and echoed.loc["echo_ms", "ratio"] == pytest.approx(1.5, rel=0.05)
    assert echoed.loc["echo_ms", "primary"] == "echo"  # the study's question, answered by its primary
    box = answers.answers(table, 0.05)
    assert box.loc[box["key"].eq("echo") & box["primary"].eq(True), "verdict"].tolist() == ["different"]
    run_dir = results.create_run_dir(tmp_path / "run")
    results.write_manifest(run_dir)
    shown = [section(sections.Run(run_dir, summary=_blocks(1.5))) for section in sections.of_studies()]
    assert len(shown) == 1 and "16 echo rows" in shown[0] and "Echo round trips" in shown[0]
    assert "`echo_ms`" in statements.block_columns(None)


def test_a_declaration_that_clashes_is_refused(echo):
    assert studies.declare(echo) is echo  # the module imported again
    with pytest.raises(MqbenchError, match="declared twice"):
        studies.declare(studies.Study("echo"))
    with pytest.raises(MqbenchError, match="'latency_avg_ms' is registered already"):
        studies.declare(studies.Study("other", columns=(schema.Column("latency_avg_ms", "s", "another meaning"),)))
    with pytest.raises(MqbenchError, match="judges 'nothing_ms'"):
        studies.declare(studies.Study("other", judges=("nothing_ms",)))


def test_the_built_in_studies_declare_their_block_keys():
    assert set(findings.compared()) == {"search_query", "pubsub", "freshness_recovery"}
    assert {"scale_curve", "migration"} <= set(studies.declared())
