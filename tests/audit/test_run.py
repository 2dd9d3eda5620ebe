"""``audit.run``: data, split, model, samples, loss times, sections (each in its own try) and
the report it returns (HTML, JSON, PNG, summary)."""

from __future__ import annotations

import json
import sys
import types
from html.parser import HTMLParser

import matplotlib.pyplot as plt
import numpy as np
import pytest

from diffmem_theory.audit import SECTIONS, PriorMismatchWarning, run
from diffmem_theory.audit.base import AuditInputs, Section, Value
from diffmem_theory.audit.report import SCHEMA_VERSION, AuditReport, render_figures
from diffmem_theory.core.denoisers import as_denoiser
from diffmem_theory.core.distributions import EmpiricalDistribution, IsotropicGaussianMixture
from diffmem_theory.core.dynamics import solve
from diffmem_theory.core.schedules import VPTrig
from diffmem_theory.data import Dataset, digits, split

LAW = IsotropicGaussianMixture(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), 0.01)
X = LAW.sample(60, np.random.default_rng(3))[0]
FAST = {"n_samples": 12, "steps": 8, "progress": False}


def _fake_section(key: str, calls: list) -> types.ModuleType:
    """A section module that records its inputs and reports the samples' mean distance."""
    mod = types.ModuleType(f"diffmem_theory.audit.{key}")

    def section(inputs: AuditInputs, *, scale: float = 1.0) -> Section:
        calls.append((key, inputs, scale))
        fig = plt.figure(figsize=(0.5, 0.5))  # small: rendering it is quick
        fig.gca().plot(inputs.times, inputs.times)
        value = Value("mean norm", scale * float(np.linalg.norm(inputs.samples, axis=1).mean()))
        return Section(key, key.title(), f"{key} thm", ["a"], [value], "fine", {"curve": fig})

    mod.section = section
    return mod


@pytest.fixture
def fake_sections(monkeypatch):
    """Every section replaced by :func:`_fake_section` (the order of the calls is recorded)."""
    calls: list = []
    for key in SECTIONS:
        monkeypatch.setitem(sys.modules, f"diffmem_theory.audit.{key}", _fake_section(key, calls))
    return calls


def _empirical_train(held_out=0.2, seed=0):
    train = X if held_out is None else split(X, held_out, seed=seed)[0]
    return train, as_denoiser(EmpiricalDistribution(train), VPTrig())


def test_inputs_built_as_documented(fake_sections):
    train, model = _empirical_train()
    rep = run(X, model, held_out=0.2, seed=0, **FAST)
    assert [k for k, *_ in fake_sections] == list(SECTIONS)
    inputs = fake_sections[0][1]
    assert np.array_equal(inputs.train, train) and inputs.held_out.shape == (12, 3)
    assert inputs.samples.shape == (12, 3) and inputs.x_T.shape == (12, 3)
    grid = VPTrig().time_grid(8)
    assert np.array_equal(inputs.t_span, grid)
    z = np.random.default_rng([0, 1]).standard_normal((12, 3))
    assert np.array_equal(inputs.x_T, 0.999 * z)  # sigma_t = t on VPTrig
    t = inputs.times
    assert len(t) == 12 and np.all(np.diff(t) > 0) and grid[-1] <= t[0] and t[-1] <= grid[0]
    snr = VPTrig().log_snr(t)  # equally spaced in log-SNR (none clipped here)
    assert np.allclose(np.diff(snr), snr[1] - snr[0])
    assert rep.ok and rep.inputs["n_train"] == 48 and rep.inputs["d"] == 3
    assert set(rep.timings) == {"data", "model", "sampling", *SECTIONS}
    assert rep.png["fisher"]["curve"][:4] == b"\x89PNG"


def test_samples_are_the_ddim_flow_of_the_model(fake_sections):
    _, model = _empirical_train()
    run(X, model, **FAST)
    inputs = fake_sections[0][1]
    flow = solve(model, VPTrig(), inputs.x_T, inputs.t_span, method="ddim").final
    assert np.array_equal(inputs.samples, flow)


def test_same_seed_same_report_other_seed_other_noise(fake_sections):
    _, model = _empirical_train()
    a, b = (run(X, model, **FAST).to_dict()["sections"] for _ in range(2))
    for sec in a + b:
        sec.pop("seconds")
    assert a == b
    _, model1 = _empirical_train(seed=1)
    run(X, model1, seed=1, **FAST)
    assert not np.array_equal(fake_sections[0][1].x_T, fake_sections[-1][1].x_T)


def test_sections_subset_options_and_user_samples(fake_sections, tmp_path):
    _, model = _empirical_train(held_out=None)
    samples = LAW.sample(7, np.random.default_rng(9))[0]
    np.save(tmp_path / "s.npy", samples)
    rep = run(
        X,
        model,
        held_out=None,
        samples=tmp_path / "s.npy",
        sections="fisher,memorization",
        options={"fisher": {"scale": 2.0}},
        progress=False,
    )
    assert [(k, s) for k, _, s in fake_sections] == [("memorization", 1.0), ("fisher", 2.0)]
    inputs = fake_sections[0][1]
    assert inputs.held_out is None and inputs.x_T is None and inputs.t_span is None
    assert np.array_equal(inputs.samples, samples)
    assert [s.key for s in rep.sections] == ["memorization", "fisher"]
    assert rep.section("fisher").values[0].value == pytest.approx(
        2 * rep.section("memorization").values[0].value
    )


def test_held_out_points_given_as_a_dataset(fake_sections):
    held = LAW.sample(5, np.random.default_rng(4))[0]
    ds = Dataset(held, image_shape=(3,), labels=None, source="h", scale="none", value_range=None)
    rep = run(X, as_denoiser(EmpiricalDistribution(X), VPTrig()), held_out=ds, **FAST)
    inputs = fake_sections[0][1]
    assert np.array_equal(inputs.train, X) and np.array_equal(inputs.held_out, held)
    assert rep.inputs["data"]["held_out"] == "given" and rep.inputs["n_held_out"] == 5


def test_a_failing_section_is_recorded_and_the_others_run(fake_sections, monkeypatch, tmp_path):
    broken = types.ModuleType("diffmem_theory.audit.mixing")

    def section(inputs):
        raise RuntimeError("boom in mixing")

    broken.section = section
    monkeypatch.setitem(sys.modules, "diffmem_theory.audit.mixing", broken)
    _, model = _empirical_train()
    rep = run(X, model, **FAST)
    assert not rep.ok and list(rep.errors) == ["mixing"]
    assert "RuntimeError: boom in mixing" in rep.errors["mixing"]
    assert "Traceback" in rep.errors["mixing"]
    assert [s.key for s in rep.sections] == [k for k in SECTIONS if k != "mixing"]
    doc = rep.to_dict()
    assert doc["errors"][0]["section"] == "mixing"
    assert doc["errors"][0]["message"] == "RuntimeError: boom in mixing"
    assert "[mixing] FAILED: RuntimeError: boom in mixing" in rep.summary()
    page = rep.write(tmp_path).read_text()
    assert "boom in mixing" in page and "<td class='error'>error</td>" in page


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.images: list[str] = []
        self.value_rows = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "img":
            self.images.append(attrs["src"])
        if tag == "tr" and attrs.get("class") == "value-row":
            self.value_rows += 1


def test_write_html_json_and_png(fake_sections, tmp_path):
    _, model = _empirical_train()
    rep = run(X, model, **FAST)
    page = rep.write(tmp_path / "out")
    parser = _Page()
    parser.feed(page.read_text())
    assert "script" not in parser.tags and "link" not in parser.tags  # static
    assert parser.value_rows == len(SECTIONS)
    assert sorted(parser.images) == sorted(f"{k}_curve.png" for k in SECTIONS)
    for name in parser.images:
        assert (page.parent / name).read_bytes()[:4] == b"\x89PNG"
    doc = json.loads((page.parent / "report.json").read_text())
    assert doc["version"] == SCHEMA_VERSION and doc["errors"] == []
    assert set(doc) == {"version", "inputs", "sections", "errors", "timings", "environment"}
    for sec in doc["sections"]:
        assert sec["figures"] == [f"{sec['key']}_curve.png"]
        for v in sec["values"]:
            assert set(v) == {"name", "value", "se", "source", "note"}
    assert rep.write(tmp_path / "again").read_text() == page.read_text()  # repeatable


def test_every_number_next_to_its_source(tmp_path):
    values = [
        Value("ratio", 0.5, se=0.1, source="Buchanan et al., Def. 2.2"),
        Value("curve", [1.0, 2.0], source="Ye et al., Prop 4.1"),
    ]
    figures = {"fisher_gap": plt.figure(figsize=(0.5, 0.5)), "z": plt.figure(figsize=(0.5, 0.5))}
    sec = Section("fisher", "Paper 003", "Prop 4.1", ["x"], values, "ok.", figures)
    rep = AuditReport({"model": "m"}, [sec], {}, {"fisher": 0.5}, environment={"cores": "2"})
    text = rep.write(tmp_path).read_text()
    assert rep.to_dict()["sections"][0]["figures"] == ["fisher_gap.png", "fisher_z.png"]
    assert (tmp_path / "fisher_gap.png").exists() and (tmp_path / "fisher_z.png").exists()
    assert "<td class='num'>0.5</td><td class='num'>0.1</td><td>Buchanan et al., Def. 2.2</td>" in (
        text
    )
    assert "[1, 2]</td><td class='num'>&ndash;</td><td>Ye et al., Prop 4.1</td>" in text
    assert "ratio = 0.5 +- 0.1  [Buchanan et al., Def. 2.2]" in rep.summary()


def test_infinite_horizon_grid_starts_at_paper_000s_snr(fake_sections):
    from diffmem_theory.core.schedules import OU

    law = EmpiricalDistribution(split(X, 0.2, seed=0)[0])
    run(X, as_denoiser(law, OU()), "OU", **FAST)
    t0 = fake_sections[0][1].t_span[0]
    assert float(OU().snr(t0 + 1e-3)) == pytest.approx(float(VPTrig().snr(0.999)), rel=1e-9)


def test_prior_mismatch_warns(fake_sections):
    law = EmpiricalDistribution(split(X, 0.2, seed=0)[0])
    with pytest.warns(PriorMismatchWarning, match="alpha_T"):
        run(X, as_denoiser(law, "VEPower"), "VEPower", **FAST)


def test_eps_and_x0_units_give_the_same_report():
    """The true denoiser of the mixture, once in eps units and once in x0 units: same values."""
    sched = VPTrig()

    def x0_model(x, t):
        return LAW.denoiser(x, t, sched, prediction="x0")

    def eps_model(x, t):
        return LAW.denoiser(x, t, sched, prediction="eps")

    kw = dict(FAST)
    a = run(X, x0_model, prediction="x0", **kw)
    b = run(X, eps_model, prediction="eps", **kw)
    assert a.ok and b.ok
    for sa, sb in zip(a.to_dict()["sections"], b.to_dict()["sections"], strict=True):
        for va, vb in zip(sa["values"], sb["values"], strict=True):
            assert va["name"] == vb["name"]
            if isinstance(va["value"], float):
                assert va["value"] == pytest.approx(vb["value"], rel=1e-9, abs=1e-12)
            else:
                assert va["value"] == vb["value"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"data": np.where(X == X[0, 0], np.nan, X)}, "data must be finite"),
        ({"data": X[:1]}, "data must hold at least 2"),
        ({"data": np.ones((5, 3))}, "all identical"),
        ({"samples": np.zeros((4, 2))}, r"samples must have shape \(B, 3\)"),
        ({"samples": np.full((4, 3), np.nan)}, "samples must be finite"),
        ({"held_out": np.zeros((3, 2))}, r"held_out points must have shape \(M, 3\)"),
        ({"held_out": 1.5}, "held_out"),
        ({"held_out": 60}, "held_out"),
        ({"sections": ["memorization", "nope"]}, "sections must be among"),
        ({"sections": []}, "sections must be None or a non-empty"),
        ({"options": {"fisher": {}}, "sections": ["mixing"]}, "options names the section"),
        ({"options": {"fisher": {"nope": 1}}}, r"options\['fisher'\] does not fit"),
        ({"n_samples": 0}, "n_samples must be >= 1"),
        ({"steps": 0}, "steps must be >= 1"),
        ({"seed": -1}, "seed must be >= 0"),
        ({"n_times": 1}, "n_times must be >= 2"),
        ({"scale": "0-1"}, "scale must be one of"),
    ],
)
def test_bad_inputs_name_the_argument(fake_sections, kwargs, match):
    args = {"data": X, "model": _empirical_train()[1], **FAST, **kwargs}
    with pytest.raises(ValueError, match=match):
        run(**args)
    assert fake_sections == []


def test_samples_file_errors_name_it(fake_sections, tmp_path):
    model = _empirical_train()[1]
    (tmp_path / "bad.npy").write_text("not an array")
    with pytest.raises(ValueError, match="samples: cannot read"):
        run(X, model, samples=tmp_path / "bad.npy", progress=False)
    with pytest.raises(ValueError, match=r"a \.npy file"):
        run(X, model, samples=tmp_path / "s.txt", progress=False)


@pytest.mark.parametrize(
    ("model", "match"),
    [
        (lambda x, t: x[:, :2], "model"),
        (lambda x, t: np.full_like(x, np.nan), "model"),
    ],
)
def test_a_bad_model_is_a_value_error_naming_it(fake_sections, model, match):
    with pytest.raises(ValueError, match=match):
        run(X, as_denoiser(model, VPTrig()), **FAST)
    assert fake_sections == []


def test_bad_schedule_and_options_types(fake_sections):
    model = _empirical_train()[1]
    with pytest.raises(TypeError, match="schedule"):
        run(X, model, "nope", **FAST)
    with pytest.raises(TypeError, match="options"):
        run(X, model, options=[1], **FAST)
    with pytest.raises(TypeError, match=r"options\['fisher'\]"):
        run(X, model, options={"fisher": 3}, **FAST)


def test_the_empirical_denoiser_audited_against_itself():
    """Its samples are training points (memorization 1) and its loss gap to the empirical
    score, the Fisher divergence of Prop 4.1, is 0."""
    data = digits(limit=60)
    rep = run(data, "empirical", n_samples=20, sections=["memorization", "fisher"], progress=False)
    assert rep.ok, rep.errors
    assert rep.section("memorization").value("fraction memorized (1/3 rule)").value == 1.0
    gap = rep.section("fisher").value("integrated loss gap")
    assert abs(gap.value) <= 3 * gap.se + 1e-12


def test_the_true_mixture_denoiser_on_its_own_samples():
    """DDIM samples of the data's own law are fresh draws: none memorized in d = 16."""
    law = IsotropicGaussianMixture(np.eye(16)[:4] * 3.0, 0.25)
    data = law.sample(60, np.random.default_rng(5))[0]
    rep = run(data, law, n_samples=30, sections=["memorization"], progress=False)
    assert rep.ok, rep.errors
    frac = rep.section("memorization").value("fraction memorized (1/3 rule)")
    assert frac.value == 0.0 and frac.se == pytest.approx(1 / 30)


def test_report_lookups_and_bad_parts_are_clean_errors():
    sec = Section("mixing", "t", "th", [], [], "v")
    rep = AuditReport({"model": "m"}, [sec], {}, {}, environment={})
    assert rep.section("mixing") is sec
    with pytest.raises(ValueError, match=r"one of \['mixing'\]; got 'fisher'"):
        rep.section("fisher")
    with pytest.raises(TypeError, match="section must be a Section"):
        render_figures(None)
    fig = plt.figure()
    with pytest.raises(ValueError, match="plain file names"):
        render_figures(Section("mixing", "t", "th", [], [], "v", {"../x": fig}))
    plt.close(fig)
    with pytest.raises(ValueError, match="matplotlib figure"):
        render_figures(Section("mixing", "t", "th", [], [], "v", {"x": 3}))
    with pytest.raises(TypeError, match="sections must be a list of Section"):
        AuditReport({}, [1], {}, {})
    with pytest.raises(TypeError, match="timings must be a dict"):
        AuditReport({}, [], {}, [])


@pytest.mark.filterwarnings("ignore::diffmem_theory.audit.PriorMismatchWarning")
@pytest.mark.parametrize("spread", [1e-150, 1e150])
def test_loss_times_of_extreme_scales_stay_in_the_grid(fake_sections, spread):
    """Scales far outside the sampling grid's noise levels (no overlap): the times spread over
    the grid's whole log-SNR range (no overflow)."""
    data = np.array([[0.0, 0.0], [spread, 0.0], [0.0, spread], [spread, spread]])
    model = as_denoiser(lambda x, t: np.zeros_like(x), VPTrig())
    run(data, model, held_out=None, n_times=5, **FAST)
    times = fake_sections[0][1].times
    grid = VPTrig().time_grid(8)
    assert len(times) == 5 and np.allclose(times[[0, -1]], grid[[-1, 0]], rtol=1e-12, atol=0)
    assert np.allclose(np.diff(VPTrig().log_snr(times)), np.diff(VPTrig().log_snr(times))[0])
