"""Every figure colours a variant the same way: the plotting code's one palette, passed to every seaborn call that
colours by a column; a percentile without the samples it needs says so instead of drawing an empty panel."""
import ast
from pathlib import Path

import matplotlib
import pandas as pd
import pytest
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


def _boxes(labels, renderer):
    return [t.get_window_extent(renderer) for t in labels if t.get_visible() and t.get_text()]


def _assert_no_overlap(fig):
    """No two tick labels of one axis overlap, and no axis's tick labels run into another panel."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        for labels in (ax.get_xticklabels(), ax.get_yticklabels()):
            boxes = _boxes(labels, renderer)
            assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:]), \
                [t.get_text() for t in labels]
        for other in fig.axes:
            if other is not ax:
                assert not any(b.overlaps(other.get_window_extent(renderer)) for b in _boxes(ax.get_yticklabels(), renderer))
        texts = [t.get_text() for minor in (False, True)
                 for t in (*ax.get_xticklabels(minor=minor), *ax.get_yticklabels(minor=minor))]
        assert not any("times" in t or "×10" in t for t in texts), texts  # plain numbers on log axes


def test_the_seeds_shapes_and_two_panels_draw_without_overlapping_labels():
    shapes = ["5MB*10", "1MB*50", "256KB*200", "64KB*500", "16KB*800", "1KB*1000"]  # the seed's sizes and between
    ops = pd.DataFrame([dict(shape=shape, seconds=s * (1.1 if series.startswith("natsmq") else 1.0), series=series,
                             level=level, error="")
                        for shape, s in zip(shapes, (2.9, 2.7, 2.6, 2.8, 3.0, 3.1))
                        for series in ("rocksmq · milvus", "natsmq · milvus") for level in ("milvus", "broker")])
    with pytest.raises(AssertionError):  # as seaborn draws it: labels run together, "2.8×10⁰" on the log axis
        _assert_no_overlap(plots.pubsub_seconds.__wrapped__(ops))
    _assert_no_overlap(plots.pubsub_seconds(ops))
    points = pd.DataFrame([dict(mode=mode, variant=v, block=0, rps=r, latency_p99_ms=lat * (1.05 if v == "natsmq" else 1))
                           for mode in ("closed loop", "open loop") for v in ("rocksmq", "natsmq")
                           for r, lat in ((100, 2.0), (400, 2.5), (800, 3.1))])
    _assert_no_overlap(plots.latency_vs_rps(points))


def test_an_mq_keeps_its_line_style_and_marker_in_every_figure():
    assert plots.dashes(["rocksmq", "natsmq"]) == {**plots.dashes(["natsmq"]), **plots.dashes(["rocksmq"])}
    assert plots.dashes(["rocksmq"])["rocksmq"] == "" and plots.dashes(["natsmq"])["natsmq"] != ""
    assert plots.markers(["natsmq-2"])["natsmq-2"] == plots.markers(["natsmq"])["natsmq"]
    tree = ast.parse(Path(plots.__file__).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("lineplot", "relplot"):
            names = {k.arg for k in node.keywords}
            assert "style" in names and "dashes" in names, f"line {node.lineno}: a line per MQ needs its dashes"
