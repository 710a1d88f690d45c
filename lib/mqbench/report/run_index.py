"""The run index: ``results/index.html`` (and ``reports/index.html`` for published runs) — the answer of the
reference run first, then one row per run with its role, headline finding and verdicts, and (collapsed) its
date, code, host, notebooks, variants and files."""
from __future__ import annotations

import functools
import html
from pathlib import Path

import pandas as pd
import yaml

from mqbench.core import page, results
from mqbench.core.results import load_summary
from mqbench.core.schema import Status, Verdict
from mqbench.stats import answers
from mqbench.stats.findings import findings

ROLES_FILE = "roles.yaml"  # role -> run folder name, for published runs (reports/roles.yaml)


def _roles(folder: Path) -> dict[str, str]:
    path = folder / ROLES_FILE
    return {name: role for role, name in (yaml.safe_load(path.read_text()) or {}).items()} if path.exists() else {}


def _headline(table: pd.DataFrame) -> str:
    """The first 'different' among the decision table's questions, else how its comparisons came out (the same
    rows the verdict counts beside it are drawn from, so the two never contradict each other)."""
    if table.empty:
        return "no comparisons"
    box = answers.answers(table, 0.05)
    different = box[box["verdict"] == Verdict.DIFFERENT]
    if len(different):
        row = different.iloc[0]
        return f"{row['what']}: {row['ratio']:.3f} {row['interval']} — {row['in words']}"
    counts = box["verdict"][box["verdict"] != ""].value_counts()
    return "no question of the decision table decided 'different' (" + (
        ", ".join(f"{n} {v}" for v, n in counts.items()) or "none measured") + ")"


def _findings_of(run_dir: Path) -> pd.DataFrame:
    return findings(load_summary(run_dir))


def run_row(run_dir: Path, role: str = "", findings_of=_findings_of) -> dict:
    """What the index says of one run folder (one that cannot be read says why); ``findings_of(run folder)`` gives
    its Findings (the index computes each run's once)."""
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
    table = findings_of(run_dir)
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


# question -> the roles whose run answers it best, in order: reads from the 10^8 verdict run, the rest from the main job
EVIDENCE = {"reads": ("verdict-100m", "reference-1"), "write": ("reference-1", "ingest-10m"),
            "memory": ("reference-1", "ingest-10m"), "cpu": ("reference-1", "verdict-100m")}
MAIN = ("reference-1",)


def _html_link(run: Path, role: str) -> str:
    return f'<a href="{html.escape(run.name)}/report.html">{html.escape(role)}</a>'


def decisions(runs: dict[str, Path], findings_of, link=_html_link) -> pd.DataFrame:
    """The suite's answer to each decision question from the published runs (``runs``: role -> run folder;
    ``findings_of(role)``: that run's Findings): each from the first run of :data:`EVIDENCE` (else the main job) whose
    answer has an interval, else the first that answers it at all, with its run (``link(run folder, role)``)."""
    heads: dict[str, pd.DataFrame] = {}
    rows = []
    for q in answers.questions():
        found = []
        for role in (r for r in EVIDENCE.get(q.key, MAIN) if r in runs):
            if role not in heads:
                heads[role] = answers.headlines(answers.answers(findings_of(role), 0.05)).set_index("key")
            head = heads[role].loc[q.key]
            if pd.notna(head["ratio"]):
                found.append((role, head))
        decided = [f for f in found if f[1]["interval"] not in ("", "—")]
        if not found:
            rows.append({"question": q.text, "verdict": "", "ratio [95%]": "", "rules out": "",
                         "compared": "not measured by a published run", "units": "", "run": ""})
            continue
        role, head = (decided or found)[0]
        rows.append({"question": q.text, "verdict": head["verdict"],
                     "ratio [95%]": f"{head['ratio']:.3f} {head['interval']}".replace(" —", ""),
                     "rules out": head["rules out"], "compared": head["what"], "units": head["units"],
                     "run": link(runs[role], role)})
    return pd.DataFrame(rows)


def _answer(folder: Path, roles: dict[str, str], runs: list[Path], findings_of=_findings_of) -> str:
    """The index's first screen: the decision table from the published runs (by role), else the newest run's."""
    if roles:
        by_role = {role: folder / name for name, role in roles.items() if (folder / name / "summary.parquet").exists()}
        table = decisions(by_role, lambda role: findings_of(by_role[role]))
        reference = folder / next((n for n, r in roles.items() if r == "reference-1"), "")
        host = results.read_manifest(reference).get("host", {}) if (reference / "manifest.json").exists() else {}
        return (page.heading("The answer", 2, "answer") + page.paragraph(
            f"Each question answered by the published run that measures it best (the run column): the ratio "
            f"*natsmq ÷ rocksmq* (below 1: NATS lower) with its 95% interval, the verdict at δ = 5%, the smallest "
            f"effect the interval rules out, and the unit. Host: {host.get('cpu_model', '?')}, "
            f"{host.get('logical_cores', '?')} logical cores, {host.get('ram_gb', '?')} GB, client and server on it.")
            + page.table(table, "The answer, question by question", wrap=True))
    newest = next((r for r in runs if (r / "summary.parquet").exists()), None)
    if newest is None:
        return ""
    table = findings_of(newest)
    if table.empty:
        return ""
    return (page.heading("The answer", 2, "answer") + page.paragraph(
        f"From the newest run `{newest.name}` ([report]({newest.name}/report.html)): the ratio *contender ÷ "
        f"baseline* with its 95% interval and the verdict at δ = 5%.")
        + page.table(answers.box(table, 0.05), "The answer, question by question", wrap=True))


def build(folder: str | Path) -> Path:
    """Write ``<folder>/index.html`` listing every run folder in ``folder`` (newest first)."""
    folder = Path(folder)
    roles = _roles(folder)
    runs = sorted((p.parent for p in folder.glob("*/manifest.json")), key=lambda p: p.name, reverse=True)
    findings_of = functools.cache(_findings_of)
    rows = [run_row(r, roles.get(r.name, ""), findings_of) for r in runs]
    table = pd.DataFrame(rows)
    head = _answer(folder, roles, runs, findings_of)
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
