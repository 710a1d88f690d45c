"""The served build's report tables from recorded rows: the operating point on the recall–latency curve, and
every start's count, segments and idle CPU."""
import pandas as pd
from mqbench.report import plots, tables


def _rows():
    rows = [dict(notebook="search_query", variant="rocksmq", mq="rocksmq", status="ok", op="search", phase="serial",
                 sweep="search_params", point=f"nprobe={p}", knob=float(p), recall_at_k=r, latency_avg_ms=ms)
            for p, r, ms in [(8, 0.78, 20.0), (16, 0.88, 31.0), (32, 0.96, 52.0)]]
    for start in range(2):
        for order, v in enumerate(["natsmq", "rocksmq"] if start else ["rocksmq", "natsmq"]):
            common = dict(notebook="search_query", variant=v, mq=v, status="ok", start=start, block_order=order,
                          unit="start")
            rows += [dict(common, op="server_start", phase="lifecycle", duration_s=3.5, start_retries=0),
                     dict(common, op="count_rows", phase="lifecycle", rows_counted=1000, segments=2,
                          segment_rows_min=400, segment_rows_max=600),
                     dict(common, op="idle", phase="lifecycle", duration_s=10.0, server_cpu_s=0.5)]
    return pd.DataFrame(rows).assign(operating_point="nprobe=32")


def test_the_operating_point_is_marked_on_its_curve():
    table = tables.operating_point(_rows())
    assert list(table["point"]) == ["nprobe=8", "nprobe=16", "nprobe=32"]
    assert list(table["operating_point"]) == [False, False, True]
    assert plots.recall_vs_latency(table) is not None


def test_every_start_says_what_it_served_and_its_idle_cpu():
    table = tables.served_starts(_rows())
    assert len(table) == 4 and set(table["rows_counted"]) == {1000} and set(table["segments"]) == {2}
    assert (table["idle_server_cores_busy"] == 0.05).all() and (table["start_s"] == 3.5).all()
    assert list(table.loc[table["start"] == 1, "variant"]) == ["natsmq", "rocksmq"]


def test_nothing_to_show_without_a_served_build():
    empty = pd.DataFrame([dict(notebook="pubsub", op="pubsub", phase="broker", status="ok", variant="natsmq")])
    assert tables.operating_point(empty).empty and tables.served_starts(empty).empty
