"""The FRL-overhead section that benchmarks/bench_frl.py writes into docs/model_zoo.md."""

from __future__ import annotations

from benchmarks import bench_frl


def _rows(ratio: float) -> dict[str, dict[str, dict[str, float]]]:
    off = {"mean_ms": 100.0, "median_ms": 100.0, "ratio_mean": 1.0, "ratio_median": 1.0}
    full = {"mean_ms": 100 * ratio, "median_ms": 100 * ratio, "ratio_mean": ratio}
    return {"fno": {"off": off, "full": {**full, "ratio_median": ratio}}}


def test_summarize_gives_mean_and_median_ratios_to_the_first_variant():
    out = bench_frl.summarize({"off": [1.0, 1.0, 4.0], "full-sched": [1.0, 1.0, 7.0]})
    assert out["off"]["ratio_mean"] == 1.0
    assert out["full-sched"]["ratio_mean"] == 1.5
    assert out["full-sched"]["ratio_median"] == 1.0


def test_doc_section_is_replaced_not_duplicated(tmp_path):
    path = tmp_path / "model_zoo.md"
    path.write_text("# Model zoo\n\ntable\n")
    bench_frl.update_doc(path, bench_frl.doc_section(_rows(1.30), repeats=8))
    bench_frl.update_doc(path, bench_frl.doc_section(_rows(1.20), repeats=8))
    text = path.read_text()
    assert text.startswith("# Model zoo\n\ntable\n")
    assert text.count(bench_frl.DOC_BEGIN) == 1 and text.count(bench_frl.DOC_END) == 1
    assert "| fno | eager | 100 | 1.20× |" in text and "1.30×" not in text


def test_doc_section_names_each_family_s_mode():
    section = bench_frl.doc_section(_rows(1.10), repeats=8, modes={"fno": "compiled"}, clock="cpu")
    assert "| fno | compiled | 100 | 1.10× |" in section
    assert "Mean CPU time" in section
