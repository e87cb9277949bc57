"""PNG plots of a comparison folder: written, decodable, and skipped cleanly when their data is absent."""

from __future__ import annotations

import json

from matplotlib.image import imread
from test_tables import make_results

from baldistill.report.plots import write_plots


def _names(paths) -> list[str]:
    return sorted(p.name for p in paths)


def _decodes(path) -> bool:
    img = imread(path)
    return path.stat().st_size > 0 and img.shape[0] > 100 and img.shape[1] > 100


def test_all_plots_with_a_stage_sweep(tmp_path):
    make_results(tmp_path, methods=("zero-shot", "random-ft-cot", "baldistill-a"), stages=(3, 5))
    paths = write_plots(tmp_path)
    assert _names(paths) == ["per_domain.png", "spend.png", "stage_sweep.png", "stages.png"]  # one budget: no frontier
    assert all(p.parent == tmp_path / "plots" and _decodes(p) for p in paths)


def test_absent_data_is_skipped_and_stale_files_removed(tmp_path):
    make_results(tmp_path, stages=(3, 5))
    write_plots(tmp_path)
    make_results(tmp_path, methods=("zero-shot",))  # one K, no stage scores, no teacher spend
    paths = write_plots(tmp_path)
    assert _names(paths) == ["per_domain.png"]
    assert sorted(p.name for p in (tmp_path / "plots").glob("*.png")) == ["per_domain.png"]


def test_null_scores_and_empty_rows(tmp_path):
    make_results(tmp_path)
    data = json.loads((tmp_path / "results.json").read_text())
    for r in data["rows"]:
        r["per_domain"] = {d: None for d in r["per_domain"]} if r["seed"] else r["per_domain"]
        r["stage_scores"] = [dict(s, macro=None) for s in r["stage_scores"]]
    (tmp_path / "results.json").write_text(json.dumps(data))
    assert _names(write_plots(tmp_path)) == ["per_domain.png", "spend.png", "stages.png"]
    (tmp_path / "results.json").write_text(json.dumps({"spec": data["spec"], "rows": []}))
    assert write_plots(tmp_path) == []


def test_one_file_per_dataset_when_several(tmp_path):
    make_results(tmp_path)
    data = json.loads((tmp_path / "results.json").read_text())
    data["rows"] += [dict(r, dataset="math qa") for r in data["rows"]]
    (tmp_path / "results.json").write_text(json.dumps(data))
    names = _names(write_plots(tmp_path))
    assert "per_domain_demo.png" in names and "per_domain_math-qa.png" in names and len(names) == 6


def test_percent_ticks_are_distinct_on_a_narrow_range():
    """A 4-point range (17.5 % to 21.5 %) gets half-percent ticks; whole-percent labels would repeat."""
    from matplotlib.figure import Figure

    from baldistill.report.plots import _percent_axis

    fig = Figure()  # a bare Figure, as plots.py draws (no pyplot state)
    ax = fig.add_subplot()
    ax.plot([1, 2, 3], [17.5, 21.5, 18.0])
    _percent_axis(ax, "macro")
    fig.draw_without_rendering()
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert len(labels) >= 3 and len(set(labels)) == len(labels), labels


def test_error_bars_only_with_two_or_more_seeds():
    import math

    from baldistill.report.plots import _pct

    assert _pct([0.5])[0] == 50.0 and math.isnan(_pct([0.5])[1])  # one seed: no error bar, not a 0 bar
    assert round(_pct([0.4, 0.6])[1], 6) == round(100 * math.sqrt(0.02), 6)
    assert all(math.isnan(x) for x in _pct([None]))


def test_frontier_only_with_several_budgets_and_its_bars_are_the_intervals(tmp_path):
    from test_tables import HI, LO

    from baldistill.core.comparison import Results
    from baldistill.report.plots import frontier_points

    make_results(tmp_path / "one", methods=("random-ft-cot", "baldistill-a"))
    assert "frontier.png" not in _names(write_plots(tmp_path / "one"))
    folder = make_results(
        tmp_path / "two", methods=("zero-shot", "random-ft-cot", "baldistill-a"), budgets=(48, 96, 192), intervals=True
    )
    paths = write_plots(folder)
    assert "frontier.png" in _names(paths) and _decodes(folder / "plots/frontier.png")
    res = Results.from_json(json.loads((folder / "results.json").read_text()))
    rows = [r for r in res.rows if r.method == "baldistill-a" and r.stages == 3]
    pts = frontier_points(rows, "macro", res.intervals)
    # x: units spent (= B here), y: the mean, bars: down to lo and up to hi (2 and 3 points)
    assert [p[0] for p in pts] == [48, 96, 192]
    assert [round(p[1], 6) for p in pts] == [round(100 * (0.31 + 0.001 * (b - 96)), 6) for b in (48, 96, 192)]
    assert all(abs(p[2] - 100 * LO) < 1e-9 and abs(p[3] - 100 * HI) < 1e-9 for p in pts)
    # without intervals the bars are the sample std (1 point here), the same below and above
    assert all(abs(p[2] - 1.0) < 1e-9 and abs(p[3] - 1.0) < 1e-9 for p in frontier_points(rows, "macro"))
