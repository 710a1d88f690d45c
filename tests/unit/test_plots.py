"""Every figure colours a variant the same way: the plotting code's one palette, passed to every seaborn call that
colours by a column; a percentile without the samples it needs says so instead of drawing an empty panel."""
import ast
from pathlib import Path

import matplotlib
import pandas as pd
from mqbench.report import plots

matplotlib.use("Agg")


def test_an_mq_keeps_its_colour_whatever_else_is_drawn():
    both = plots.palette(["rocksmq", "natsmq"])
    assert both["natsmq"] == plots.palette(["natsmq"])["natsmq"] == plots.palette(["natsmq · nats-server · strict"])[
        "natsmq · nats-server · strict"]
    assert both["rocksmq"] != both["natsmq"]
    aa = plots.palette(["rocksmq-1", "rocksmq-2"])
    assert aa["rocksmq-1"] == both["rocksmq"] and aa["rocksmq-2"] != aa["rocksmq-1"]  # A/A: a second shade


def test_every_seaborn_call_that_colours_by_a_column_uses_the_palette():
    tree = ast.parse(Path(plots.__file__).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and getattr(node.func.value, "id", "") == "sns":
            names = {k.arg for k in node.keywords}
            if "hue" in names:
                assert "palette" in names, f"sns.{node.func.attr} at line {node.lineno} colours by hue without the palette"


def test_a_percentile_without_enough_samples_says_so():
    rows = pd.DataFrame([dict(sweep="concurrency", phase="concurrent", op="search", status="ok", variant=v,
                              concurrency=c, latency_p99_ms=float("nan")) for v in ("rocksmq", "natsmq") for c in (1, 2)])
    fig = plots.vs_concurrency(rows, "latency_p99_ms")
    assert fig is not None and "fewer than 1,000 requests" in fig.axes[0].texts[0].get_text()
