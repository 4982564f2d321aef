"""``python -m common.report RUN [RUN ...] --out report.html``: one
self-contained HTML page (images embedded) comparing runs side by side: the
settings that differ, one metrics table, training curves, the confusion
matrices and the same validation images' CAM pictures per run. Runs of
different methods on the same data compare too. With ``--evaluations``,
the explanation metrics of ``attention-evaluate`` folders side by side."""

import argparse
import base64
import html
import io
import json
import os
import sys

import common
from common.errors import printable
from common.io import read_json, read_text, read_yaml, write_text
from common.report_evaluations import attach_evaluations, evaluation_rows, evaluation_warning
from common.console import Parser, fail, program
from common.training.runfolder import read_classes, read_history, run_file

# (label, path in metrics.json): the methods' own numbers beside the common ones.
METRICS = [("accuracy", ("accuracy",)), ("macro F1", ("f1_macro",)),
           ("erased accuracy", ("erased", "accuracy")),
           ("GT-known Loc (%)", ("localization", "gt_known_loc_pct")),
           ("Top-1 Loc (%)", ("localization", "top1_loc_pct")),
           ("MaxBoxAccV2 (%)", ("localization", "max_box_acc_v2_pct")),
           ("top-5", ("top5",)), ("mAP", ("mAP",)), ("cam_alive (last epoch)", ("cam_alive",))]
IGNORED_SETTINGS = {"output", "resume", "verbose", "config"}
MAX_PICTURE = 32 << 20  # bytes of one embedded picture
STYLE = """body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;
margin:1em 0}td,th{border:1px solid #bbb;padding:4px 8px;text-align:left}th{background:#eee}
.grid{display:flex;flex-wrap:wrap;gap:1em}.grid figure{margin:0}img{max-width:100%}
.runs figure{flex:1 1 0;min-width:30%}
figcaption{font-weight:bold}.failed{color:#b00}"""


class Html(str):
    """Markup the report built itself; every other string is escaped."""


def _text(value):
    """``value`` as HTML: escaped unless it is ``Html`` (a run folder's
    names and values are data, never markup)."""
    return value if isinstance(value, Html) else html.escape(str(value))


class ReportError(ValueError):
    """Runs that cannot be compared; the message says which and why."""


def read_run(folder):
    """What the report needs of one run folder (ReportError if it is none).
    Every file is read as data and must lie inside the folder: a symlink to
    another file is refused, never embedded."""
    needed = ("config.yaml", "classes.json", "history.csv")
    missing = [name for name in needed if not os.path.lexists(os.path.join(folder, name))]
    if not os.path.isdir(folder) or missing:
        raise ReportError(f"'{folder}' is not a run folder (missing {', '.join(missing) or 'it'})")
    config = read_yaml(run_file(folder, "config.yaml"))
    if not isinstance(config, dict):
        raise ReportError(f"'{os.path.join(folder, 'config.yaml')}' must hold a mapping of "
                          "settings, as the trainers write it")
    metrics = {}
    if os.path.lexists(os.path.join(folder, "metrics.json")):
        metrics = read_json(run_file(folder, "metrics.json"))
        if not isinstance(metrics, dict):
            raise ReportError(f"'{os.path.join(folder, 'metrics.json')}' must hold a mapping "
                              "of metrics, as the trainers write it")
    failed = (read_text(run_file(folder, "FAILED"), 1 << 16).strip()
              if os.path.lexists(os.path.join(folder, "FAILED")) else None)
    cams_folder = os.path.join(folder, "cams")
    cams = sorted(f for f in os.listdir(run_file_folder(folder, "cams")) if f.endswith(".png")
                  ) if os.path.lexists(cams_folder) else []
    return {"name": os.path.basename(os.path.normpath(folder)), "folder": folder,
            "config": config, "classes": read_classes(run_file(folder, "classes.json")),
            "history": read_history(run_file(folder, "history.csv")), "metrics": metrics,
            "failed": failed,
            "cams": _picture(cams_folder, cams[-1]) if cams else None,
            "confusion": (_picture(folder, "confusion_matrix.png") if os.path.lexists(
                os.path.join(folder, "confusion_matrix.png")) else None)}


def run_file_folder(folder, name):
    """A sub-folder of a run folder, checked to lie inside it (not a symlink)."""
    path = os.path.join(folder, name)
    if os.path.islink(path) or not os.path.isdir(path):
        raise ReportError(f"'{path}' is a symlink or not a folder; refused")
    return path


def _picture(folder, name):
    """A PNG of the run folder, checked: a regular file inside it whose
    bytes start as a PNG's (anything else is not embedded)."""
    path = run_file(folder, name)
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head != b"\x89PNG\r\n\x1a\n" or size > MAX_PICTURE:
        raise ReportError(f"'{path}' is not a PNG picture of at most {MAX_PICTURE:,} bytes, as "
                          "the trainers draw it; refused")
    return path


def _image(path_or_bytes, alt):
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else open(path_or_bytes, "rb").read()
    encoded = base64.b64encode(data).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{encoded}">'


def _table(header, rows):
    head = "".join(f"<th>{_text(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_text(cell)}</td>" for cell in row) + "</tr>"
                   for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _lookup(metrics, path):
    for key in path:
        if not isinstance(metrics, dict) or key not in metrics:
            return None
        metrics = metrics[key]
    return metrics


def _curves(runs):
    """One PNG per history column, one line per run."""
    import matplotlib
    import matplotlib.ticker
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    columns = [c for c in dict.fromkeys(c for run in runs for c in run["history"].columns)
               if c != "epoch" and not c.startswith("val_")]
    pictures = []
    for column in columns:
        figure, axis = plt.subplots(figsize=(4.6, 3.2))
        for index, run in enumerate(runs):
            history, colour = run["history"], f"C{index}"
            for key, style, kind in ((column, "-", "train"), (f"val_{column}", "--", "val")):
                if key in history:
                    axis.plot(history["epoch"] + 1, history[key], style, color=colour,
                              marker="o", markersize=3, label=f"{run['name']} ({kind})")
        axis.set_title(column)
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        axis.legend(fontsize=7)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100)
        plt.close(figure)
        pictures.append((column, buffer.getvalue()))
    return pictures


def data_of(run):
    """The data a run trained on, as its config.yaml records it (runs made
    before it was recorded: the method's demo, name unknown)."""
    return str(run["config"].get("data") or "a demo (name not recorded)")


def data_warning(runs):
    """A sentence when the runs trained on different data (or with other
    classes: their confusion matrices differ in size), else ''."""
    sources = {data_of(r) for r in runs}
    classes = {json.dumps(r["classes"]) for r in runs}
    if len(sources) == 1 and len(classes) == 1:
        return ""
    what = "different data" if len(sources) > 1 else "the same data with other classes"
    counts = (lambda r: f", {len(r['classes'])} classes") if len(classes) > 1 else (
        lambda r: "")
    return (f"These runs trained on {what} (" + "; ".join(
        f"{r['name']}: {data_of(r)}{counts(r)}" for r in runs)
        + "): their metrics do not compare.")


def report_page(runs):
    """The HTML of the comparison of runs read by ``read_run``."""
    names = [run["name"] for run in runs]
    warning = data_warning(runs)
    status = [Html(f'<span class="failed">FAILED: {_text(r["failed"])}</span>') if r["failed"]
              else "finished" for r in runs]
    keys = sorted(set().union(*(r["config"] for r in runs)) - IGNORED_SETTINGS)
    differ = [(key, [r["config"].get(key) for r in runs]) for key in keys
              if len({json.dumps(r["config"].get(key), sort_keys=True) for r in runs}) > 1]
    metric_rows = [(label, [_lookup(r["metrics"], path) for r in runs]) for label, path in METRICS]
    metric_rows = [(label, values) for label, values in metric_rows
                   if any(v is not None for v in values)]
    number = lambda v: "—" if v is None else (f"{v:.4g}" if isinstance(v, float) else v)  # noqa
    parts = [f"<h1>Comparison of {len(runs)} runs</h1>",
             f'<p class="failed">{_text(warning)}</p>' if warning else "",
             '<section id="runs"><h2>Runs</h2>' + _table(
                 ["run", "method", "data", "status"],
                 [(r["name"], r["config"].get("method"), data_of(r), s)
                  for r, s in zip(runs, status)]) + "</section>",
             '<section id="settings"><h2>Settings that differ</h2>' + (_table(
                 ["setting", *names], [(k, *vs) for k, vs in differ])
                 if differ else "<p>None: the runs share every setting.</p>") + "</section>",
             '<section id="metrics"><h2>Metrics</h2>' + _table(
                 ["metric", *names], [(label, *(number(v) for v in vs))
                                      for label, vs in metric_rows]) + "</section>",
             _evaluation_section(runs, names, number),
             '<section id="curves"><h2>Training curves</h2><p>Solid: training; dashed: '
             'validation.</p><div class="grid">' + "".join(
                 f"<figure>{_image(png, column)}</figure>" for column, png in _curves(runs))
             + "</div></section>",
             '<section id="confusion"><h2>Confusion matrices</h2><div class="grid runs">' + "".join(
                 f"<figure><figcaption>{_text(r['name'])}</figcaption>"
                 f"{_image(r['confusion'], 'confusion matrix of ' + r['name'])}</figure>"
                 for r in runs if r["confusion"]) + "</div></section>",
             '<section id="cams"><h2>CAM pictures of the same validation images</h2>'
             '<p>The last epoch of each run; the images are chosen the same way in every run '
             '(one per class first), so runs on the same data show the same images.</p>'
             '<div class="grid runs">' + "".join(
                 f"<figure><figcaption>{_text(r['name'])}</figcaption>"
                 f"{_image(r['cams'], 'CAM pictures of ' + r['name'])}</figure>"
                 for r in runs if r["cams"]) + "</div></section>"]
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Runs compared</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}<footer>attention-guided "
            f"{common.__version__}</footer></body></html>")


def _evaluation_section(runs, names, number):
    """The explanation metrics of the runs that have an evaluation, or ''."""
    if not any(run.get("evaluation") for run in runs):
        return ""
    warning = evaluation_warning(runs)
    return ('<section id="explanations"><h2>Explanation metrics (attention-evaluate)</h2>'
            + (f'<p class="failed">{_text(warning)}</p>' if warning else "")
            + "<p>Deletion, insertion and confidence explain the predicted class; pointing "
            "games and localisation the true class.</p>"
            + _table(["metric", *names], [(label, *(number(v) for v in values))
                                          for label, values in evaluation_rows(runs)])
            + "</section>")


def main(argv=None):
    parser = Parser(prog=program("attention-report", "common.report"), description=__doc__,
                    formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {common.__version__}")
    parser.add_argument("runs", nargs="+", metavar="RUN", help="run folders to compare")
    parser.add_argument("--evaluations", nargs="+", default=[], metavar="EVAL",
                        help="attention-evaluate --out folders of the runs' models: their "
                             "explanation metrics side by side")
    parser.add_argument("--out", default="report.html", help="the HTML file to write")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    args = parser.parse_args(argv)
    try:
        if os.path.exists(args.out) and not args.overwrite:
            raise ReportError(f"--out: '{args.out}' exists already; pass --overwrite to "
                              "replace it")
        runs = [read_run(folder) for folder in args.runs]
        attach_evaluations(args.evaluations, runs, ReportError)
        page = report_page(runs)
        warning = " ".join(w for w in (data_warning(runs), evaluation_warning(runs)) if w)
    except (ValueError, OSError) as error:  # ReportError, a run's files not plain YAML/JSON
        fail(parser.prog, error)
    write_text(args.out, page)
    if warning:
        print(f"{parser.prog}: warning: {printable(warning)}", file=sys.stderr)
    print(f"wrote {args.out} ({len(args.runs)} runs)", file=sys.stderr)
    return args.out


if __name__ == "__main__":
    main()
