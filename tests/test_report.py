"""The HTML report (issue 15 item 4): one page that works offline and alone, checked in a real
headless browser (Debian's chromium; .ci/run installs it)."""

from __future__ import annotations

import pytest

from browser import CHROMIUM, inspect_page
from genamp.cli import main

needs_browser = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "camel"
    assert main(["run", "camel", "-m", "sample,fit", "-r", "4", "-q", "10,20", "--out", str(out)]) == 0
    return out


@needs_browser
def test_a_studys_report_loads_cleanly_with_every_figure_and_table(study):
    """Written at the end of the run: in chromium the page raises no console error or exception,
    every embedded figure decodes, and its sections and tables are there and not empty."""
    page = inspect_page(study / "report.html")
    assert page["errors"] == []
    pngs = sorted(p.name for p in study.glob("*.png"))
    assert pngs and page["images"] == page["decoded"] == len(pngs)
    sections = dict(page["sections"])
    assert {"summary", "warnings", "truth", "plots", "configuration"} <= set(sections)
    assert all(length > 0 for length in sections.values())
    assert page["tables"] >= 1 and page["empty_tables"] == 0


@needs_browser
def test_the_check_sees_a_broken_page(tmp_path):
    """The browser check itself can fail: a figure that does not decode and a script that throws."""
    (tmp_path / "broken.html").write_text('<html><body><section id="a">x</section><img src="data:image/png;base64,AAAA">'
                                          '<script>throw new Error("broken")</script></body></html>')  # fmt: skip
    page = inspect_page(tmp_path / "broken.html")
    assert page["images"] == 1 and page["decoded"] == 0
    assert any("broken" in str(e) for e in page["errors"])


def test_the_report_is_self_contained_and_says_what_the_records_say(study, capsys):
    """No link leaves the page (no http, no file outside it, no script); the advice and every
    warning of results.json are in it; genamp report writes it again."""
    import json

    text = (study / "report.html").read_text()
    assert "http://" not in text and "https://" not in text and "<script" not in text and 'src="data:image/png;base64,' in text
    data = json.loads((study / "results.json").read_text())
    for advice in data["generation"].values():
        assert advice["advice"].replace("'", "&#x27;") in text
    (study / "report.html").unlink()
    assert main(["report", str(study)]) == 0 and (study / "report.html").is_file()
    assert capsys.readouterr().err.strip().endswith("report.html")


def test_a_folder_without_results_is_one_error_line(tmp_path, capsys):
    rc = main(["report", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0] == f"error: {tmp_path}: no results.json; run genamp run or genamp assess with --out {tmp_path} first"


@needs_browser
def test_an_assessments_report_holds_its_plots(tmp_path):
    """genamp assess draws its plots (MSE and G per observable) and embeds them in its report."""
    import numpy as np

    from test_assess import _events, _h5, _members

    rng = np.random.default_rng(1)
    train, pool = _h5(tmp_path / "train.h5", _events(rng, 1000)), _h5(tmp_path / "pool.h5", _events(rng, 100_000))
    members = [str(p) for p in _members(tmp_path, bias=0.2)]
    assert main(["assess", "--train", str(train), "-g", *members, "--pool", str(pool), "-q", "5,10", "--no-metrics",
                 "--no-classifier", "--out", str(tmp_path / "out")]) == 0  # fmt: skip
    pngs = list((tmp_path / "out").rglob("*.png"))
    page = inspect_page(tmp_path / "out" / "report.html")
    assert page["errors"] == [] and len(pngs) >= 3 and page["images"] == page["decoded"] == len(pngs)
