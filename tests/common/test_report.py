"""python -m common.report on real run folders: the sections a reader needs,
every embedded picture decodes, bad input is one line."""

import base64
import json
from html.parser import HTMLParser

import cv2
import numpy as np
import pytest
import yaml

from common.report import main as report
from common.train import COMMAND
from common.training.entry import main as train

# One worker runs this file and builds its fixture once (pytest-xdist: a module
# fixture is torn down whenever a worker waits for more tests, so it is session-scoped).
pytestmark = pytest.mark.xdist_group("test_report")



class _Page(HTMLParser):
    """Section ids, decoded <img> sizes and table cells (their text) of a page."""

    def __init__(self):
        super().__init__()
        self.sections, self.images, self.cells, self._in_cell = [], [], [], False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.sections.append(attrs["id"])
        elif tag == "img":
            png = base64.b64decode(attrs["src"].split(",", 1)[1])
            image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
            self.images.append((attrs["alt"], None if image is None else image.shape[:2]))
        self._in_cell = tag == "td"

    def handle_data(self, data):
        if self._in_cell:
            self.cells.append(data.strip())


@pytest.fixture(scope="session")
def two_runs(built_once, small_demo, demo_settings):
    def build(root):
        base = ["--data", small_demo("digits", 8), "--config", demo_settings(COMMAND),
                "--image-size", "16", "--batch-size", "16", "--verbose", "0", "--epochs", "2"]
        train(COMMAND, [*base, "--output", str(root / "plain")])
        train(COMMAND, [*base, "--hnc-weight", "0.1", "--output", str(root / "hnc")])
        return str(root)
    from pathlib import Path
    return Path(built_once("report-runs", build))


def test_report_compares_runs_with_every_section_and_picture(two_runs, capsys):
    out = two_runs / "report.html"
    report([str(two_runs / "plain"), str(two_runs / "hnc"), "--out", str(out)])
    page = _Page()
    page.feed(out.read_text())
    assert page.sections == ["runs", "settings", "metrics", "curves", "confusion", "cams"]
    assert all(shape is not None and min(shape) >= 200 for _, shape in page.images), page.images
    alts = [alt for alt, _ in page.images]
    assert alts.count("confusion matrix of plain") == 1 and "CAM pictures of hnc" in alts
    assert {"loss", "accuracy", "hnc_loss"} <= set(alts)  # one curve per history column
    # The setting that differs is listed with both values, the metrics are the files'.
    assert "hnc_weight" in page.cells
    accuracy = [json.loads((two_runs / r / "metrics.json").read_text())["accuracy"]
                for r in ("plain", "hnc")]
    row = page.cells.index("accuracy")
    assert [float(v) for v in page.cells[row + 1:row + 3]] == pytest.approx(accuracy, abs=1e-3)


def test_report_shows_evaluations_side_by_side(two_runs, small_demo, tmp_path, capsys):
    """attention-evaluate folders of the runs' models: one table of their
    explanation metrics, each number the one in its metrics.json."""
    from common.evaluate import main as evaluate
    folders = {}
    for name in ("hnc", "plain"):  # the order of --evaluations does not matter
        folders[name] = tmp_path / f"eval-{name}"
        evaluate(["--model", str(two_runs / name / "model.keras"), "--data",
                  small_demo("digits", 8), "--out", str(folders[name]), "--maps", "cam",
                  "--steps", "4", "--pictures", "0", "--verbose", "0"])
    out = tmp_path / "report.html"
    report([str(two_runs / "plain"), str(two_runs / "hnc"), "--out", str(out),
            "--evaluations", *(str(f) for f in folders.values())])
    page = _Page()
    page.feed(out.read_text())
    assert page.sections == ["runs", "settings", "metrics", "explanations", "curves",
                             "confusion", "cams"]
    row = page.cells.index("cam: deletion AUC (lower is better)")
    expected = [json.loads((folders[r] / "metrics.json").read_text())["maps"]["cam"]
                ["deletion_auc"] for r in ("plain", "hnc")]
    assert [float(v) for v in page.cells[row + 1:row + 3]] == pytest.approx(expected, rel=1e-3)
    assert "cam: pointing game % (higher)" not in page.cells  # the digits have no boxes
    # An evaluation of a model that is none of the runs': one line.
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        report([str(two_runs / "plain"), "--out", str(tmp_path / "x.html"), "--evaluations",
                str(folders["hnc"])])
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(err) == 1 and "the model of none of the runs" in err[0]


def test_report_bad_input_is_one_line(two_runs, tmp_path, capsys):
    out = tmp_path / "r.html"
    out.write_text("mine")
    for argv, expected in (([str(two_runs / "plain"), "--out", str(out)], "--overwrite"),
                           ([str(tmp_path), "--out", str(tmp_path / "x.html")],
                            "is not a run folder")):
        with pytest.raises(SystemExit) as stop:
            report(argv)
        err = capsys.readouterr().err.strip().splitlines()
        assert stop.value.code == 2 and len(err) == 1 and expected in err[0], err
    assert out.read_text() == "mine"


def _hostile_run(folder, method, classes):
    """A run folder written by someone else: markup in every name it holds."""
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump({
        "method": method, "data": "<img src=x onerror=alert(1)>",
        "<script>setting": f"<script>value {method}", "epochs": len(str(folder))}))
    (folder / "classes.json").write_text(json.dumps(classes))
    (folder / "history.csv").write_text("epoch,loss\n0,1.0\n1,0.5\n")
    (folder / "metrics.json").write_text(json.dumps({"accuracy": "<script>metric"}))
    (folder / "FAILED").write_text("<script>reason\n")


def test_report_escapes_every_string_of_the_run_folders(tmp_path):
    classes = ["<script>alert('class')</script>", "b"]
    runs = [tmp_path / "<script>alert(1)", tmp_path / "plain"]
    _hostile_run(runs[0], "<script>method", classes)
    _hostile_run(runs[1], "plain", classes)
    report([str(r) for r in runs] + ["--out", str(tmp_path / "r.html")])
    text = (tmp_path / "r.html").read_text()
    assert "<script" not in text.lower() and "<img src=x" not in text, text
    page = _Page()
    page.feed(text)
    for shown in ("<script>alert(1)", "<script>method", "<script>setting", "<script>value",
                  "<script>metric"):
        assert any(shown in cell for cell in page.cells), (shown, page.cells)
    assert "FAILED: &lt;script&gt;reason" in text
