"""The run index: ``results/index.html`` (and ``reports/index.html`` for published runs) — the answer of the
reference run first, then one row per run with its role, headline finding and verdicts, and (collapsed) its
date, code, host, notebooks, variants and files."""
from __future__ import annotations

import html
from pathlib import Path

import pandas as pd
import yaml

from mqbench.core import page, results
from mqbench.core.results import load_summary
from mqbench.core.schema import Phase, Status, Verdict
from mqbench.stats import answers, verdicts
from mqbench.stats.findings import findings

ROLES_FILE = "roles.yaml"  # role -> run folder name, for published runs (reports/roles.yaml)


def _roles(folder: Path) -> dict[str, str]:
    path = folder / ROLES_FILE
    return {name: role for role, name in (yaml.safe_load(path.read_text()) or {}).items()} if path.exists() else {}


def _headline(table: pd.DataFrame) -> str:
    """The first 'different' among the answers a Milvus user asks (never the broker-level client-stack op), else
    how many comparisons found no difference."""
    if table.empty:
        return "no comparisons"
    box = answers.answers(table, 0.05)
    box = box[(box["key"] != "pubsub-broker") & (box["verdict"] == Verdict.DIFFERENT)]
    if len(box):
        row = box.iloc[0]
        return f"{row['what']}: {row['ratio']:.3f} {row['interval']} — {row['in words']}"
    settled = results.rows(table, verdict=[Verdict.EQUIVALENT, Verdict.INCONCLUSIVE])
    settled = settled[~settled.get("phase", pd.Series("", index=settled.index)).eq(Phase.BROKER)]
    return f"no difference found through Milvus ({len(settled)} comparisons with a verdict)"


def run_row(run_dir: Path, role: str = "") -> dict:
    """What the index says of one run folder (one that cannot be read says why)."""
    manifest = results.read_manifest(run_dir)
    host = manifest.get("host", {})
    row = {"role": role, "run": run_dir.name, "created (UTC)": str(manifest.get("created_utc", ""))[:16].replace("T", " "),
           "git": manifest.get("git_sha", ""), "host": f"{host.get('cpu_model', '?')} · {host.get('logical_cores', '?')} "
                                                      f"cores · {host.get('ram_gb', '?')} GB",
           "failures": len(results.read_failures(run_dir))}
    try:
        summary = load_summary(run_dir)
    except (OSError, ValueError) as exc:
        return {**row, "notebooks": "", "variants": "", "headline": f"no summary ({type(exc).__name__})"}
    table = findings(summary)
    counts = table["verdict"].value_counts().to_dict()
    variants = sorted(summary["variant"].dropna().astype(str).unique())
    headline = _headline(table) if len(variants) > 1 else \
        f"one variant ({', '.join(variants) or '—'}): compared with its pair by `mqbench compare`"
    return {**row, "notebooks": ", ".join(sorted(summary["notebook"].dropna().unique())),
            "variants": ", ".join(sorted(summary["variant"].dropna().astype(str).unique())),
            "verdicts": ", ".join(f"{v} {k}" for k, v in counts.items()), "headline": headline,
            "failures": row["failures"] + len(results.rows(summary, ok=False, status=Status.FAILED))}


def _link(run: Path, name: str) -> str:
    return f'<a href="{html.escape(run.name)}/{name}">{name}</a>' if (run / name).exists() else ""


def _answer_box(run: Path) -> str:
    summary = load_summary(run)
    table = findings(summary)
    if table.empty:
        return ""
    delta = float(summary["delta"].dropna().iloc[0]) if "delta" in summary and summary["delta"].notna().any() \
        else verdicts.DELTA
    return (page.heading("The answer", 2, "answer") + page.paragraph(
        f"From `{run.name}` ([report]({run.name}/report.html)): one line per question a Milvus user asks, the ratio "
        f"*contender ÷ baseline* with its 95% interval and the verdict at δ = {delta:.0%}.")
        + page.table(answers.box(table, delta), "The answer, question by question", wrap=True))


def build(folder: str | Path) -> Path:
    """Write ``<folder>/index.html`` listing every run folder in ``folder`` (newest first)."""
    folder = Path(folder)
    roles = _roles(folder)
    runs = sorted((p.parent for p in folder.glob("*/manifest.json")), key=lambda p: p.name, reverse=True)
    rows = [run_row(r, roles.get(r.name, "")) for r in runs]
    table = pd.DataFrame(rows)
    reference = next((r for r in runs if roles.get(r.name) == "reference-1"), None) or next(
        (r for r in runs if (r / "summary.parquet").exists()), None)
    head = _answer_box(reference) if reference is not None else ""
    if len(table):
        table["run"] = [f'<a href="{html.escape(r.name)}/report.html">{html.escape(r.name)}</a>'
                        if (r / "report.html").exists() else html.escape(r.name) for r in runs]
        table["files"] = [" · ".join(x for x in (_link(r, "manifest.json"), _link(r, "summary.parquet")) if x)
                          for r in runs]
        main = table[[c for c in ["role", "run", "headline", "verdicts", "failures"] if c in table]]
        details = table[[c for c in ["run", "created (UTC)", "git", "host", "notebooks", "variants", "files"] if c in table]]
        body = (page.table(main, f"{len(rows)} runs, newest first: the headline is the first 'different' through "
                                 "Milvus, else how many comparisons found none", wrap=True)
                + "<details><summary>When, where and with what each run ran</summary>"
                + page.table(details, "Date, code, host, notebooks, variants, files") + "</details>")
    else:
        body = page.paragraph("*No runs here yet.*")
    out = folder / "index.html"
    results.atomic_write_text(out, page.document(f"mqbench runs · {folder.name}", page.heading(
        f"mqbench runs in {folder.name}/", 1, "runs") + head + page.heading("Runs", 2, "list") + page.paragraph(
        "Every run folder here: its role, its headline finding and its verdicts; when, where and with what it ran "
        "below. Rebuilt after every `mqbench run` and by `mqbench index`. How to read a verdict: "
        "[docs/measurement.md](../docs/measurement.md).") + body))
    return out
