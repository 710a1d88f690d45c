"""The run index: ``results/index.html`` (and ``reports/index.html`` for published runs) — one row per run with
its date, code, host, notebooks, variants, headline finding, failures and a link to its report."""
from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from . import page, results
from .findings import findings
from .report import load_summary


def run_row(run_dir: Path) -> dict:
    """What the index says of one run folder (one that cannot be read says why)."""
    manifest = results.read_manifest(run_dir)
    host = manifest.get("host", {})
    row = {"run": run_dir.name, "created (UTC)": str(manifest.get("created_utc", ""))[:19].replace("T", " "),
           "git": manifest.get("git_sha", ""), "host": f"{host.get('cpu_model', '?')} · {host.get('logical_cores', '?')} "
                                                      f"cores · {host.get('ram_gb', '?')} GB",
           "failures": len(results.read_failures(run_dir))}
    try:
        summary = load_summary(run_dir)
    except (OSError, ValueError) as exc:
        return {**row, "notebooks": "", "variants": "", "headline": f"no summary ({type(exc).__name__})"}
    table = findings(summary)
    different = table[table["verdict"] == "different"]
    headline = different["reading"].iloc[0] if len(different) else \
        (f"no difference found ({len(table)} comparisons)" if len(table) else "no comparisons")
    counts = table["verdict"].value_counts().to_dict()
    return {**row, "notebooks": ", ".join(sorted(summary["notebook"].dropna().unique())),
            "variants": ", ".join(sorted(summary["variant"].dropna().astype(str).unique())),
            "verdicts": ", ".join(f"{v} {k}" for k, v in counts.items()), "headline": headline,
            "failures": row["failures"] + int((summary["status"] == "failed").sum())}


def build(folder: str | Path) -> Path:
    """Write ``<folder>/index.html`` listing every run folder in ``folder`` (newest first)."""
    folder = Path(folder)
    runs = sorted((p.parent for p in folder.glob("*/manifest.json")), key=lambda p: p.name, reverse=True)
    rows = [run_row(r) for r in runs]
    table = pd.DataFrame(rows)
    if len(table):
        links = {r.name: (r / "report.html").exists() for r in runs}
        table["run"] = [f'<a href="{html.escape(n)}/report.html">{html.escape(n)}</a>' if links[n] else html.escape(n)
                        for n in table["run"]]
        body = table.style.hide(axis="index").format(escape=None, na_rep="—").to_html()
        box = f'<figure><figcaption>{len(rows)} runs, newest first</figcaption><div class="scroll">{body}</div></figure>'
    else:
        box = page.paragraph("*No runs here yet.*")
    out = folder / "index.html"
    results.atomic_write_text(out, page.document(f"mqbench runs · {folder.name}", page.heading(
        f"mqbench runs in {folder.name}/", 1, "runs") + page.paragraph(
        "Every run folder here: when it ran, on which code and host, what it compared and its headline finding "
        "(the first 'different' verdict, else how many comparisons found no difference). Rebuilt after every "
        "`mqbench run` and by `mqbench index`.") + box))
    return out
