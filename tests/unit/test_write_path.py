"""The write path and what it costs, judged over builds (issue 28): the load phases' metrics, idle windows, the
decision table's questions, the columns a phase derives, and the synthetic source's block reuse."""
import numpy as np
import pandas as pd
import pytest
from mqbench.core.errors import ParameterError
from mqbench.data import datasets
from mqbench.report import tables
from mqbench.stats import answers, design, findings
from mqbench.stats.derived import derived_fields


def _builds(n=5, seed=0, nats_rss=1.3, flushed=True):
    rng = np.random.default_rng(seed)
    rows = []
    for repeat in [-1, *range(n)]:
        for mq, rss in (("rocksmq", 1.0), ("natsmq", nats_rss)):
            common = dict(run_id="r", notebook="scale_curve", variant=mq, mq=mq, variant_index=0, repeat=repeat,
                          status="ok", phase="load", rows=30000, load_method="prepared")
            noise = lambda: float(np.exp(rng.normal(0, 0.01)))  # noqa: E731
            rows += [
                {**common, "op": "insert", "rows_per_s": 16000 * noise(), "server_rss_peak_mib": 900 * rss * noise(),
                 "server_cpu_s_per_gb": 33 * noise(), "client_cpu_s": 0.2, "server_cpu_s": 3.0, "client_limited": 0,
                 "mb_per_s": 50 * noise()},
                {**common, "op": "flush", "duration_s": 2.5 * noise(), "mq_disk_per_byte": (1.0 if mq == "natsmq" else 2.3) * noise(),
                 **({"flushed_s": 2.5 * noise()} if flushed else {})},
                {**common, "op": "index", "duration_s": 5 * noise()},
                {**common, "op": "idle", "phase": "lifecycle", "rows": np.nan, "server_rss_mib": 480 * noise(),
                 "server_cores_busy": 0.03 * noise()},
            ]
    return pd.DataFrame(rows)


def test_every_cost_of_the_write_path_is_judged_over_builds():
    table = findings.findings(_builds(), 0.05)
    judged = set(zip(table["op"], table["metric"]))
    assert judged == {("insert", "rows_per_s"), ("insert", "server_rss_peak_mib"), ("insert", "server_cpu_s_per_gb"),
                      ("flush", "flushed_s"), ("flush", "mq_disk_per_byte"), ("flush", "ingest_rss_peak_mib"),
                      ("index", "duration_s"), ("idle", "server_rss_mib"), ("idle", "server_cores_busy")}
    assert (table["unit"] == "build").all() and (table["units"] == 5).all()  # the warm-up build is no unit
    verdict = table.set_index("metric")["verdict"]
    assert verdict["server_rss_peak_mib"] == "different" and verdict["mq_disk_per_byte"] == "different"
    assert verdict["rows_per_s"] == "equivalent"  # 1% noise over 5 builds decides ±5%


def test_a_flush_timed_by_pymilvus_polls_gets_no_ratio_verdict():
    table = findings.findings(_builds(flushed=False), 0.05)
    flush = table[(table["op"] == "flush") & (table["metric"] == "duration_s")].iloc[0]
    assert flush["verdict"] == "insufficient data" and "0.5 s" in flush["reason"]


def test_idle_windows_of_a_served_build_pair_by_start():
    rows, rng = [], np.random.default_rng(1)
    for start in range(6):
        for mq in ("rocksmq", "natsmq"):
            rows.append(dict(run_id="r", notebook="search_query", variant=mq, mq=mq, variant_index=mq == "natsmq",
                             repeat=0, start=start, status="ok", op="idle", phase="lifecycle",
                             server_cores_busy=0.03 * (1.3 if mq == "natsmq" else 1.0) * rng.lognormal(0, 0.02),
                             server_rss_mib=500.0 + start))
            rows.append(dict(run_id="r", notebook="search_query", variant=mq, mq=mq, variant_index=mq == "natsmq",
                             repeat=0, start=start, status="ok", op="load", phase="lifecycle",
                             duration_s=3.0 if (start % 2) == (mq == "natsmq") else 0.01))  # the first launched waits
    table = findings.findings(pd.DataFrame(rows), 0.05)
    cpu = table[table["metric"] == "server_cores_busy"].iloc[0]
    assert cpu["unit"] == "start pair" and cpu["units"] == 6 and cpu["verdict"] == "different"
    assert "load" not in set(table["op"])  # a start's load times its launch position, not its MQ


def test_the_decision_table_answers_memory_cpu_disk_and_the_write_path():
    box = answers.answers(findings.findings(_builds(), 0.05), 0.05)
    by_key = box.groupby("key")["metric"].apply(list).to_dict()
    assert by_key["write"] == ["rows_per_s", "flushed_s", "duration_s"]
    assert set(by_key["memory"]) == {"ingest_rss_peak_mib", "server_rss_peak_mib", "server_rss_mib"}
    assert set(by_key["cpu"]) == {"server_cpu_s_per_gb", "server_cores_busy"}
    assert by_key["disk"] == ["mq_disk_per_byte"]
    assert box.set_index("key").loc["recovery", "what"] == "not measured in this run"
    assert box[box["key"] == "disk"]["units"].iloc[0] == "5 builds"
    shown = answers.box(findings.findings(_builds(), 0.05), 0.05)
    assert "rules out" in shown and shown["rules out"].str.len().gt(0).sum() >= 4


@pytest.mark.parametrize("row, words", [
    ({"ci_low": 0.97, "ci_high": 1.04}, "beyond −3%\u00a0/\u00a0+4%"),
    ({"ci_low": 1.15, "ci_high": 1.52}, "none, nor one below +15%"),
    ({"ci_low": 0.40, "ci_high": 0.45}, "none, nor one below −55%"),
    ({"ci_low": 0.065, "ci_high": 0.101, "scale": "difference"}, "none, nor one below +6.5\u00a0points"),
    ({"ci_low": np.nan, "ci_high": np.nan}, ""),
])
def test_rules_out_names_the_smallest_effect_the_interval_excludes(row, words):
    assert answers.rules_out(row) == words


def test_a_phase_derives_its_shares_and_the_client_limit():
    row = {"op": "insert", "duration_s": 2.0, "insert_s": 2.0, "server_cpu_s": 3.0, "client_cpu_s": 0.2,
           "mq_bytes_carried": 100e6}
    out = derived_fields(row)
    assert out == pytest.approx({"server_cores_busy": 1.5, "mb_per_s": 50.0, "server_cpu_s_per_gb": 30.0,
                                 "client_limited": 0})
    assert derived_fields({**row, "loader_cpu_s": 20.0})["client_limited"] == 1  # streamed loaders count as client
    reads = derived_fields({"op": "search", "duration_s": 1.0, "server_cpu_s": 0.5, "count": 50})
    assert reads["server_cpu_ms_per_request"] == pytest.approx(10.0)


def test_the_write_path_table_has_a_row_per_build_and_marks_the_warm_up():
    table = tables.write_path(_builds())
    assert len(table) == 12 and (table["build"] == "warm-up").sum() == 2
    assert set(table["client_limited"]) == {"no"} and "mq_disk_per_byte" in table


def test_synthetic_rows_do_not_depend_on_the_chunk_size():
    data = datasets.synthetic(n=70_000, dim=8, nq=1, seed=3, ground_truth=False)
    small = np.concatenate([block for _, block in data.base.chunks(1_000)])
    large = np.concatenate([block for _, block in data.base.chunks(33_333)])
    assert np.array_equal(small, large) and np.array_equal(small, data.base._rows(0, 70_000))


def test_one_variant_entry_may_stand_alone():
    (v,) = design.parse_variants({"mq": "rocksmq", "label": "rocksmq-2"})
    assert (v.label, v.mq) == ("rocksmq-2", "rocksmq")
    with pytest.raises(ParameterError):
        design.parse_variants({"label": "x"})


def test_each_question_has_one_primary_comparison_corrected_in_its_own_family():
    table = findings.findings(_builds(), 0.05)
    primary = table[table["primary"] != ""].set_index("primary")
    assert primary.loc["write", "metric"] == "rows_per_s" and primary.loc["cpu", "metric"] == "server_cpu_s_per_gb"
    assert primary.loc["memory", "metric"] == "ingest_rss_peak_mib" and primary.loc["disk", "metric"] == "mq_disk_per_byte"
    assert set(table.loc[table["primary"] != "", "family"]) == {"primary"}
    assert set(table.loc[table["primary"] == "", "family"]) == {"secondary"}
    assert set(primary["alpha"]) == {0.04} and set(table.loc[table["primary"] == "", "alpha"]) == {0.01}
    heads = answers.headlines(answers.answers(table, 0.05)).set_index("key")
    assert heads.loc["memory", "metric"] == "ingest_rss_peak_mib"  # the primary, whatever the other rows say
    assert heads.loc["write", "metric"] == "rows_per_s"


def test_the_ingest_peak_is_the_larger_of_a_builds_insert_and_flush_peaks():
    rows = _builds(n=5)
    flush = rows["op"] == "flush"
    rows.loc[flush, "server_rss_peak_mib"] = rows.loc[rows["op"] == "insert", "server_rss_peak_mib"].to_numpy() * 2
    table = findings.findings(rows, 0.05).set_index("metric")
    assert table.loc["ingest_rss_peak_mib", "contender_median"] == pytest.approx(
        2 * table.loc["server_rss_peak_mib", "contender_median"])


def test_a_pubsub_primary_is_the_largest_message():
    table = pd.DataFrame({"phase": "milvus", "metric": "s_per_op", "units": 5, "op": "pubsub",
                          "shape": ["1KB*1000", "5MB*10", "64KB*500"]})
    assert answers.primaries(table).tolist() == ["", "pubsub-milvus", ""]
