"""``mqbench`` command line: run notebooks or a grid, build reports, compare runs, serve an embedded Milvus."""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import signal
import sys
import threading
from pathlib import Path

from mqbench import __version__
from mqbench.core import paths
from mqbench.core.errors import FormatError, GridError, MigrationError, MqbenchError
from mqbench.core.schema import Verdict
from mqbench.milvus import served
from mqbench.milvus.server import TOKEN_ENV, EmbeddedMilvus, check_mq, running_in


def _lazy(name: str):
    """``mqbench.<name>``, imported on first use (``importlib.util.LazyLoader``): ``mqbench --help`` and argument
    errors never load pandas, scipy or papermill."""
    full = f"{__package__}.{name}"
    if full in sys.modules:
        return sys.modules[full]
    spec = importlib.util.find_spec(full)
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[full] = module
    spec.loader.exec_module(module)
    return module


compare, datasets, export, remount, render, results, run_index, runner = (
    _lazy(n) for n in ("report.compare", "data.datasets", "report.export", "measure.remount", "run.render",
                       "core.results", "report.run_index", "run.runner"))


def cmd_run(args) -> int:
    params = runner.parse_cli_params(args.param)
    if sum(map(bool, (args.grid, args.notebook, args.resume))) != 1:
        raise GridError("give exactly one of: a notebook, --grid FILE, --resume RUN_DIR")
    if args.only and not args.grid:
        raise GridError("--only selects cells of a grid; use it with --grid")
    if args.resume:
        if params or args.run_dir:
            raise GridError("--resume takes the run folder's own cells; drop -p and --run-dir")
        run_dir = results.open_run_dir(args.resume)
        cells = runner.pending_cells(run_dir)
        print(f"resuming {run_dir}: {len(cells)} notebook executions left", file=sys.stderr)
        return _execute(cells, run_dir, args.report)
    if args.grid:
        if params:
            raise GridError("-p applies to a single notebook; put grid parameters in the grid file")
        grid, cells = runner.load_grid(args.grid)
        cells = runner.select(cells, args.only)
        manifest_fields = {"mode": "grid", "grid_file": str(args.grid), "grid": grid, "only": args.only or [],
                           "order": "each repeat's grid combinations in a Williams-design order",
                           "order_seed": grid.get("order_seed", 0)}
    else:
        if "run_dir" in params:
            raise GridError("run_dir is set by mqbench run; use --run-dir")
        cells = runner.single_cell(args.notebook, params)
        manifest_fields = {"mode": "single", "notebook": str(args.notebook), "parameters": params}
    check_cells(cells)
    if args.dry_run:
        for cell in cells:
            print(f"{cell.label}: {cell.notebook.name} {cell.params}")
        print(f"{len(cells)} notebook executions, every parameter checked; nothing started", file=sys.stderr)
        return 0
    run_dir = results.create_run_dir(args.run_dir)
    results.write_manifest(run_dir, cells=runner.cells_manifest(cells),
                           declared_parameters=runner.manifest_parameters(cells), **manifest_fields)
    print(f"run folder: {run_dir} ({len(cells)} notebook executions)", file=sys.stderr)
    return _execute(cells, run_dir, args.report)


def check_cells(cells) -> None:
    """Every cell's parameters through its study's ``check`` (the notebook's defaults, then the cell's own), before
    anything starts: a bad value anywhere in a grid stops the run with one line naming the cell."""
    for cell in cells:
        spec = importlib.util.find_spec(f"{__package__}.studies.{cell.name}")
        if spec is None:
            continue
        study = importlib.import_module(spec.name)
        if hasattr(study, "check"):
            try:
                study.check(runner.cell_parameters(cell))
            except MqbenchError as exc:
                raise type(exc)(f"{cell.label}: {exc}") from None
    _reach(cells)


def _reach(cells) -> None:
    """Every deployment a grid names answers at its URI with the token its variable holds (each asked once)."""
    from mqbench.milvus import deployment
    from mqbench.stats import design

    asked = set()
    for cell in cells:
        params = runner.cell_parameters(cell)
        for v in design.parse_variants(params["variants"]) if params.get("variants") and not params.get("uri") else []:
            if not v.local and (v.options["uri"], v.options["token_env"]) not in asked:
                asked.add((v.options["uri"], v.options["token_env"]))
                try:
                    deployment.probe(v.options["uri"], v.options["token_env"])
                except MqbenchError as exc:
                    raise type(exc)(f"{cell.label}: variant {v.label!r}: {exc}") from None


def _print_compare(runs, shown, names, changed: bool) -> None:
    """The terminal summary: runs by letter, the MQ effect per question in each run and whether they agree; with
    ``changed``, every metric whose verdict is *different*, value beside value."""
    for i, run in enumerate(runs):
        print(f"run {chr(65 + i)}: {run.name}")
    if not compare.single_variants([results.load_summary(r) for r in runs]):
        effects = compare.mq_effects(runs)
        print(effects.to_string(index=False) if len(effects) else "no MQ effect in the decision table to compare")
    if changed:
        keys = [k for k in ("op", "phase", "point", "shape", "variant", "metric") if k in shown]
        columns = [*keys, *(c for c in shown if c in names or c.endswith(f" ÷ {names[0]}") or c.endswith(" verdict"))]
        print(f"{len(shown)} metric(s) changed:" if len(shown) else "no metric changed")
        if len(shown):
            print(shown[columns].rename(columns={n: chr(65 + i) for i, n in enumerate(names)})
                  .to_string(index=False, float_format=lambda x: f"{x:.4g}"))


def _execute(cells, run_dir, with_report: bool) -> int:
    failures = runner.execute(cells, run_dir)
    if with_report:
        print(f"report: {render.build(run_dir)}", file=sys.stderr)
    print(f"index: {run_index.build(run_dir.parent)}", file=sys.stderr)
    if failures:
        print(f"{len(failures)} of {len(cells)} executions failed; see {run_dir / results.FAILURES}",
              file=sys.stderr)
    print(run_dir)
    return 1 if failures else 0


def cmd_report(args) -> int:
    if len(args.run_dir) > 1 and not args.out:
        raise GridError("several run folders make one combined report: give --out FOLDER for it")
    run_dir = results.combine(args.run_dir, args.out) if len(args.run_dir) > 1 else args.run_dir[0]
    print(render.build(run_dir))
    return 0


def cmd_compare(args) -> int:
    if len(args.run_dir) < 2:
        raise GridError("mqbench compare needs two or more run folders (the first is the baseline)")
    runs = [results.open_run_dir(r).resolve() for r in args.run_dir]
    names = [r.name for r in runs]
    form = args.format or ("html" if args.out else "text")
    table, caveats = compare.compare_runs(runs, pair=args.pair)
    for caveat in caveats:
        print(f"caveat: {caveat}", file=sys.stderr)
    shown = compare.compared(table, names)
    if not args.all:
        shown = compare.ordinary(shown)
    if args.only_changed:
        verdict_columns = [c for c in shown if c.endswith(" verdict")]
        shown = shown[shown[verdict_columns].astype(str).apply(lambda c: c.str.startswith(Verdict.DIFFERENT)).any(axis=1)]
    if args.sort == "ratio" and len(shown):
        import numpy as np

        ratio = shown[f"{names[1]} ÷ {names[0]}"].astype(float)
        shown = shown.assign(_effect=np.abs(np.log(ratio))).sort_values("_effect", ascending=False).drop(columns="_effect")
    if form == "text":
        _print_compare(runs, shown, names, args.only_changed)
    elif form == "html":
        out = Path(args.out or "compare")
        print(render.execute_page(paths.NOTEBOOKS / "compare.ipynb", out / "compare.ipynb",
                                  {"runs": [str(r) for r in runs], "pair": args.pair}, "mqbench compare",
                                  out / "compare.html"))
    else:
        out = Path(args.out or "compare")
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"compare.{form}"
        text = {"md": lambda t: t.to_markdown(index=False), "csv": lambda t: t.to_csv(index=False),
                "json": lambda t: t.to_json(orient="records", indent=1)}[form](shown)
        results.atomic_write_text(path, text)
        print(f"{len(shown)} of {len(table)} metrics compared (a contender value beside the baseline's)", file=sys.stderr)
        print(path)
    if args.fail_above is not None:
        worse = compare.regressions(table, names, args.fail_above)
        for row in worse.to_dict("records"):
            ratio = row[f"{row['contender']} ÷ {names[0]}"]
            print(f"regression: {row['contender']} {row['metric']} ({row['op']} {row['phase']} {row['point']}): "
                  f"ratio {ratio:.3f}", file=sys.stderr)
        if len(worse):
            return 3
    return 0


def cmd_docs(args) -> int:
    from mqbench.report import statements

    if args.check:
        stale = statements.stale()
        for doc in stale:
            print(f"stale: {doc} (its generated blocks differ from the runs in reports/; run mqbench docs)",
                  file=sys.stderr)
        return 1 if stale else 0
    for doc in statements.write():
        print(doc)
    return 0


def cmd_index(args) -> int:
    print(run_index.build(args.folder or paths.results_root()))
    return 0


def cmd_publish(args) -> int:
    target = results.publish(args.run_dir, args.to)
    run_index.build(args.to)
    print(target)
    return 0


def cmd_server(args) -> int:
    check_mq(args.mq)
    base = Path(args.dir) if args.dir else paths.results_root() / "servers" / results.new_run_id()
    overrides = [*args.override, *([f"proxy.port={args.port}"] if args.port else [])]
    server = EmbeddedMilvus(args.mq, base, overrides, metrics_port=args.metrics_port)
    stop, restart = threading.Event(), threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: restart.set())  # mqbench restart <dir>
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C stops it even if started with SIGINT ignored
    token = os.environ.get(args.token_env, "") if args.token_env else ""
    if args.token_env and not token.startswith("root:"):
        raise GridError(f"--token-env {args.token_env}: set it to root:<password> before starting the server")
    with server:
        if token:
            server.set_password(token.split(":", 1)[1])
        served.write_state(server, starts=1)
        try:  # Ctrl-C may come as soon as the banner is out
            print(f"Milvus {args.mq} is up (pid {server.pid}, folder {base}).\n"
                  f"Connect from a notebook: set uri = \"{server.uri}\" and variants = [\"{args.mq}\"], and before "
                  f"starting\nJupyterLab export {TOKEN_ENV}='{server.connection.token}'\n"
                  f"(the root password is {'from ' + args.token_env if token else 'random for this server'} and is "
                  "not written anywhere). Ctrl-C stops it; "
                  f"mqbench restart {base} restarts it in place.", flush=True)
            starts = 1
            while not stop.wait(1.0):
                if restart.is_set():
                    restart.clear()
                    server.kill(release_sessions=True)
                    server.start()
                    starts += 1
                    served.write_state(server, starts)
                    print(f"restarted (start {starts}, pid {server.pid})", flush=True)
                elif not server.running:
                    print(f"milvus exited unexpectedly; log tail:\n{server.log_tail()}", file=sys.stderr)
                    return 1
        except KeyboardInterrupt:
            pass
        finally:
            served.clear_state(base)
    print(f"stopped ({server.stop_method})", file=sys.stderr)
    return 0


def cmd_restart(args) -> int:
    seconds = served.restart(Path(args.dir), args.timeout)
    print(f"{args.dir}: serving again after {seconds:.1f} s", file=sys.stderr)
    return 0


def cmd_datasets(args) -> int:
    if args.action == "list":
        for name, spec in datasets.registry().items():
            print(f"{name:22s} {spec['format']:10s} {spec.get('metric', ''):7s} "
                  f"{' '.join(str(spec.get('description', '')).split())[:90]}")
        return 0
    if not args.dataset:
        raise GridError(f"mqbench datasets {args.action} needs a dataset name or path")
    data = datasets.load(args.dataset, n=args.n, nq=args.queries, k=args.k, metric=args.metric or "",
                         ground_truth=args.action == "groundtruth")
    for key, value in datasets.describe(data).items():
        print(f"{key:15s} {value}")
    return 0


def cmd_migrate(args) -> int:
    folder = Path(args.dir)
    source = remount.server_folder_mq(folder)
    check_mq(args.to)
    if args.to == source:
        raise MigrationError(f"{folder} already uses {source}; choose the other MQ")
    pid = running_in(folder)
    if pid:
        raise MigrationError(f"a Milvus (pid {pid}) is running in {folder}; stop it first")
    token = os.environ.get(TOKEN_ENV, "")
    if not token.startswith("root:"):
        raise MigrationError(f"set {TOKEN_ENV}=root:<password> as printed by mqbench server")
    with EmbeddedMilvus(source, folder, password=token.split(":", 1)[1]) as server:
        timings, checks = remount.migrate_and_verify(server, args.to, args.override, flush=not args.no_flush,
                                                       remove_old=args.remove_old)
    for c in checks:
        print(f"{c['collection']:24s} {c['check']:32s} {'✓' if c['passed'] else '✗'} {c['before']} -> {c['after']}")
    print(f"migrated {folder} from {source} to {args.to}: {timings}")
    return 0 if all(c["passed"] for c in checks) else 1


def cmd_export(args) -> int:
    print(export.export_vectordbbench(args.run_dir, args.out))
    return 0


def cmd_import_dataset(args) -> int:
    """Check a VectorDBBench custom-dataset folder and say how to use it (any notebook's ``dataset``)."""
    folder = Path(args.dir)
    if not folder.is_dir():
        raise FormatError(f"{folder} is not a folder")
    data = datasets.load(str(folder), nq=args.queries, k=args.k, metric=args.metric or "", ground_truth=True)
    for key, value in datasets.describe(data).items():
        print(f"{key:15s} {value}")
    print(f"use it with: -p dataset {folder.resolve()}" + (f" -p metric {args.metric}" if args.metric else ""))
    return 0


def _add_run(sub) -> None:
    run = sub.add_parser(
        "run", help="execute one notebook or a grid with papermill into a new run folder",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Execute one notebook, or every cell of a grid, headless with papermill into a new run folder "
                    "(results/<run-id>: summary.parquet, raw files, the executed notebooks, a manifest). Every "
                    "parameter of every cell is checked before anything starts; a bad one exits 2 with one line.",
        epilog="examples:\n"
               "  mqbench run --grid data/grids/default.yaml --report   the main job (make run)\n"
               "  mqbench run --grid data/grids/write_path.yaml --dry-run  list the cells, check them, start nothing\n"
               "  mqbench run search_query -p n 20000 -p variants '[rocksmq, natsmq]'\n"
               "  mqbench run --resume results/<run-id>                  finish an interrupted run")
    run.add_argument("notebook", nargs="?", help="a notebook: a path, or a name under notebooks/ (.ipynb optional)")
    run.add_argument("--grid", help="a grid YAML file (data/grids/default.yaml)")
    run.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"),
                     help="notebook parameter (value parsed as YAML); repeatable")
    run.add_argument("--run-dir", help="the run folder to create (default results/<run-id>)")
    run.add_argument("--resume", metavar="RUN_DIR", help="finish an interrupted run, skipping completed cells")
    run.add_argument("--only", action="append", metavar="KEY=VALUE",
                     help="run only the grid cells with this parameter value (e.g. mq=natsmq); repeatable")
    run.add_argument("--report", action="store_true", help="build report.html at the end")
    run.add_argument("--dry-run", action="store_true", help="list the cells and check every parameter; start nothing")
    run.set_defaults(func=cmd_run)


def _add_pages(sub) -> None:
    rep = sub.add_parser("report", help="render a run folder's results to report.html (no re-execution)")
    rep.add_argument("run_dir", nargs="+", help="a run folder; several are combined into --out")
    rep.add_argument("--out", help="the folder of a combined report over several runs")
    rep.set_defaults(func=cmd_report)
    cmp = sub.add_parser("compare", help="put two or more runs side by side (ratios, verdicts, caveats)",
                         description="On the terminal, like benchstat: per question of the decision table, the MQ "
                                     "effect in each run and whether the runs agree (Cochran's Q, Benjamini-Hochberg). "
                                     "Then, with --only-changed, every metric whose verdict is 'different'; in files, "
                                     "every metric of the baseline run beside the others' with ratios, Welch "
                                     "intervals and verdicts. Caveats where hosts, versions, lock file or code differ.",
                         epilog="examples:\n  mqbench compare reports/A reports/B\n"
                                "  mqbench compare reports/A reports/B --only-changed\n"
                                "  mqbench compare results/<a> results/<b> --fail-above 0.1   # exit 3 on a regression\n"
                                "  mqbench compare base new --only-changed --sort ratio --format md --out cmp\n"
                                "  mqbench compare base new --fail-above 0.10   # CI gate\n"
                                "exit codes: 0 compared; 2 a user error; 3 a regression beyond --fail-above",
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    cmp.add_argument("run_dir", nargs="+", help="run folders; the first is the baseline")
    cmp.add_argument("--out", help="write the comparison into this folder (html unless --format says otherwise)")
    cmp.add_argument("--pair", action=argparse.BooleanOptionalAction, default=None,
                     help="match rows by everything but the variant (default: when every run measured one variant)")
    cmp.add_argument("--only-changed", action="store_true",
                     help="also list every metric with a 'different' verdict (in files: keep only those)")
    cmp.add_argument("--all", action="store_true", help="keep warm-up blocks and lifecycle steps (hidden by default)")
    cmp.add_argument("--sort", choices=["key", "ratio"], default="key",
                     help="row order: as measured, or by the size of the first contender's ratio")
    cmp.add_argument("--format", choices=["text", "html", "md", "csv", "json"],
                     help="text: a short summary on the terminal (the default); html, md, csv, json: a file in --out "
                          "(default ./compare)")
    cmp.add_argument("--fail-above", type=float, metavar="FRACTION",
                     help="exit 3 if a contender is 'different' and worse than the baseline by more than this "
                          "fraction (0.10 = 10%%) on any metric")
    cmp.set_defaults(func=cmd_compare)
    idx = sub.add_parser("index", help="rebuild index.html of a folder of runs (default results/)")
    idx.add_argument("folder", nargs="?", help="a folder of run folders (default results/)")
    idx.set_defaults(func=cmd_index)
    docs = sub.add_parser("docs", help="rewrite the README's and docs' figures from the published runs in reports/",
                          epilog="exit codes: 0 up to date (or rewritten); 1 with --check, when a doc is stale")
    docs.add_argument("--check", action="store_true", help="change nothing; exit 1 if a generated block is stale")
    docs.set_defaults(func=cmd_docs)
    pub = sub.add_parser("publish", help="copy a run's manifest, summary and report (no raw files) to reports/")
    pub.add_argument("run_dir", help="the run folder to publish")
    pub.add_argument("--to", default=str(paths.PROJECT_ROOT / "reports"), help="default: reports/ in the project")
    pub.set_defaults(func=cmd_publish)


def _add_servers(sub) -> None:
    srv = sub.add_parser("server", help="start an embedded Milvus for interactive work; Ctrl-C stops it")
    srv.add_argument("--mq", required=True, help="rocksmq or natsmq")
    srv.add_argument("--dir", help="server folder (default results/servers/<id>)")
    srv.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE",
                     help="a dotted milvus.yaml override, e.g. natsmq.server.retention.maxAge=60; repeatable")
    srv.add_argument("--port", type=int, default=0, help="the gRPC/HTTP port clients connect to (default: a free one "
                     "per start); fixed, a restart keeps the server's URI")
    srv.add_argument("--metrics-port", type=int, default=0, help="the Prometheus /metrics port (default: a free one)")
    srv.add_argument("--token-env", default="", metavar="VAR", help="take the root token (root:<password>) from this "
                     "environment variable instead of a random one: the variable a grid's deployment names")
    srv.set_defaults(func=cmd_server)
    rst = sub.add_parser("restart", help="restart a running mqbench server in place (same folder, password and "
                         "fixed ports); returns once it serves again")
    rst.add_argument("dir", help="the folder given to mqbench server --dir")
    rst.add_argument("--timeout", type=float, default=600, help="seconds to wait for it to serve again")
    rst.set_defaults(func=cmd_restart)
    mig = sub.add_parser("migrate", help="move a server folder from mqbench server to the other MQ, verified")
    mig.add_argument("dir", help="the folder given to mqbench server --dir (the server must be stopped)")
    mig.add_argument("--to", required=True, help="the target MQ: rocksmq or natsmq")
    mig.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE",
                     help="a dotted milvus.yaml option for the restarted server; repeatable")
    mig.add_argument("--no-flush", action="store_true", help="skip the flush (to see what it is for)")
    mig.add_argument("--remove-old", action="store_true", help="back up, then remove, the old MQ folder")
    mig.set_defaults(func=cmd_migrate)


def _add_data(sub) -> None:
    ds = sub.add_parser("datasets", help="list datasets, describe one, or compute its exact ground truth")
    ds.add_argument("action", choices=["list", "info", "groundtruth"],
                    help="list the registry, describe NAME, or compute NAME's exact ground truth")
    ds.add_argument("dataset", nargs="?", help="a name from data/datasets.yaml or a file/folder path")
    ds.add_argument("--n", type=int, help="use the first N base rows")
    ds.add_argument("--queries", type=int, help="use the first N queries")
    ds.add_argument("--k", type=int, default=100, help="ground truth depth (default 100)")
    ds.add_argument("--metric", help="metric for data that does not record one (parquet folders)")
    ds.set_defaults(func=cmd_datasets)
    ex = sub.add_parser("export", help="write a run's search results as VectorDBBench result JSON")
    ex.add_argument("run_dir", help="the run folder to export")
    ex.add_argument("--format", choices=["vectordbbench"], required=True, help="the result format to write")
    ex.add_argument("--out", help="results folder (default RUN_DIR/vectordbbench); the file goes in OUT/Milvus/")
    ex.set_defaults(func=cmd_export)
    im = sub.add_parser("import-dataset", help="check a VectorDBBench custom dataset folder for use as a dataset")
    im.add_argument("dir", help="folder with train*.parquet, test.parquet and neighbors.parquet")
    im.add_argument("--from", dest="source", choices=["vectordbbench"], required=True,
                    help="the layout of the folder")
    im.add_argument("--metric", help="L2, IP or COSINE (VectorDBBench folders do not record it)")
    im.add_argument("--queries", type=int, help="use the first N queries")
    im.add_argument("--k", type=int, default=100, help="neighbours of the ground truth to keep (default 100)")
    im.set_defaults(func=cmd_import_dataset)


EPILOG = """examples:
  mqbench run --grid data/grids/default.yaml --report     the main job (make run)
  mqbench run notebooks/search_query.ipynb -p n 20000     one notebook, a parameter changed
  mqbench report results/<run-id>                          rebuild report.html, nothing re-executed
  mqbench compare reports/A reports/B --fail-above 0.1     side by side; exit 3 on a regression
  mqbench server --mq natsmq                               an embedded Milvus for JupyterLab

exit codes: 0 done; 1 a notebook execution failed (run) or a doc is stale (docs --check);
            2 a user's error (one line on stderr); 3 a regression beyond --fail-above (compare)"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mqbench", description="Run, report and compare evaluations of Milvus's "
                                "message queues (RocksMQ, NATS/JetStream, ...) from Jupyter notebooks.",
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"mqbench {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    for add in (_add_run, _add_pages, _add_servers, _add_data):
        add(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except MqbenchError as exc:  # a user's error: one line; anything else keeps its traceback
        print(f"mqbench: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
