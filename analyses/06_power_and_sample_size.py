# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 06 · Power, sample size and design analysis
#
# **Learning goals**
#
# - Use Schoenfeld's and Freedman's formulas (`rw.schoenfeld`, `rw.freedman`) to link events,
#   hazard ratio and power, and turn required events into required persons.
# - Read a reported confidence interval as a statement about information, `1 / SE^2 ≈ D p (1 −
#   p)`, and derive the `k / (k + 1)` efficiency of 1:k matching from it.
# - Estimate power and the cohort size for 80% power by simulating the whole study
#   (`rw.simulate_power`, `rw.sample_size_for_power`) when the formulas' assumptions do not hold.
# - Ask what the reported findings' precision implies after the fact: power, sign errors and
#   exaggeration of significant estimates (`rw.design_analysis`, Gelman & Carlin 2014).
#
# **What you need to know first**: the Cox model (script 02); a 95% CI on the log scale is
# `log(HR) ± 1.96 SE`.

# %%
import os
import sys
import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd

import reawaken as rw

IN_NOTEBOOK = "ipykernel" in sys.modules
if not IN_NOTEBOOK:
    matplotlib.use("Agg")  # run as a script: figures go to files, no window opens
import matplotlib.pyplot as plt  # noqa: E402

SMOKE = os.environ.get("REAWAKEN_SMOKE", "0") == "1"
FIGURE_DIR = Path(os.environ.get("REAWAKEN_FIGURES", "build/figures")) / "06_power_and_sample_size"
EXECUTOR = "serial" if SMOKE else "processes"


def show(fig, name):
    """Show a figure inline in a notebook; in a script, save it as a PNG file and print its path."""
    if IN_NOTEBOOK:
        from IPython.display import display

        display(fig)
    else:
        FIGURE_DIR.mkdir(parents=True, exist_ok=True)
        path = FIGURE_DIR / f"{name}.png"
        fig.savefig(path, dpi=110, bbox_inches="tight")
        print(f"[figure written: {path}]")
    plt.close(fig)


def section(title):
    """Run as a script, print the heading of the section a notebook shows as Markdown."""
    if not IN_NOTEBOOK:
        print(f"\n{title}\n{'-' * len(title)}")


print(f"reawaken {rw.__version__}; smoke mode: {SMOKE}; replicates run on: {EXECUTOR}")

# %% [markdown]
# ## 1. What a reported CI says about information
#
# For a Cox model with one binary exposure, `SE(log HR)^2 ≈ 1 / (D p (1 − p))`, with `D` the
# number of events and `p` the exposed share of the risk sets at event times (Schoenfeld
# 1983). A reported 95% CI gives `SE = (ln upper − ln lower) / 3.92`, so it tells us `D p (1 −
# p)` even when the paper does not report `D`.

# %%
section("1. What a reported CI says about information")
flatiron = rw.load_finding("flatiron_lung_mets")
ukb = rw.load_finding("ukb_cancer_mortality")
for f in (flatiron, ukb):
    print(
        f"{f.summary()}\n  implied SE(log) {f.implied_se:.3f}, information 1/SE^2 = "
        f"{1 / f.implied_se**2:.1f}"
    )

# The Flatiron-like preset puts about a fifth of the risk sets' person-time in the exposed.
EXPOSED_SHARE = 0.2
implied_events = 1 / (flatiron.implied_se**2 * EXPOSED_SHARE * (1 - EXPOSED_SHARE))
print(
    f"Flatiron: with an exposed share p = {EXPOSED_SHARE}, the CI implies about "
    f"{implied_events:.0f} lung-metastasis events"
)

# %% [markdown]
# ## 2. Schoenfeld and Freedman
#
# Both formulas relate events `D`, hazard ratio and power for the two-sided test of HR = 1;
# leave exactly one of `events`, `hr`, `power` as `None` and it is solved for.
#
# - Schoenfeld: `D = (z_{1−α/2} + z_{1−β})^2 / (p (1 − p) (log HR)^2)`.
# - Freedman: `D = (z_{1−α/2} + z_{1−β})^2 (1 + φ HR)^2 / (φ (1 − HR)^2)`, `φ` = exposed per
#   unexposed.
#
# They agree for HR near 1 with equal allocation and drift apart as the HR grows and the
# allocation becomes unequal; the table below shows by how much for the Flatiron set-up.

# %%
section("2. Schoenfeld and Freedman")
achieved = rw.schoenfeld(events=implied_events, hr=flatiron.estimate, exposed_share=EXPOSED_SHARE)
print(achieved.summary())
needed = rw.schoenfeld(hr=flatiron.estimate, power=0.8, exposed_share=EXPOSED_SHARE)
print(needed.summary())
phi = EXPOSED_SHARE / (1 - EXPOSED_SHARE)
print(rw.freedman(hr=flatiron.estimate, power=0.8, allocation_ratio=phi).summary())
mdhr = rw.minimum_detectable_hr(implied_events, power=0.8, exposed_share=EXPOSED_SHARE)
print(f"with {implied_events:.0f} events the smallest HR detected with 80% power is {mdhr:.2f}")

rows = []
for hr in (1.2, 1.3, 1.44, 1.6, 1.74, 2.0, 3.0):
    rows.append(
        {
            "HR": hr,
            "Schoenfeld events": rw.schoenfeld(
                hr=hr, power=0.8, exposed_share=EXPOSED_SHARE
            ).required_events,
            "Freedman events": rw.freedman(hr=hr, power=0.8, allocation_ratio=phi).required_events,
            f"power with {implied_events:.0f} events": rw.schoenfeld(
                events=implied_events, hr=hr, exposed_share=EXPOSED_SHARE
            ).power,
        }
    )
print(pd.DataFrame(rows).round(3).to_string(index=False))

# %% [markdown]
# ## 3. From events to persons
#
# Power depends on events; budgets depend on persons. The bridge is the probability that a
# person has the outcome during the study. In a scenario with competing deaths, loss to
# follow-up and an administrative end, the simplest honest way to get it is to simulate a large
# cohort and count.

# %%
section("3. From events to persons")
scenario = rw.load_scenario("flatiron_lung_mets")
n_probe = 50_000 if SMOKE else 400_000
probe = rw.simulate_cohort(scenario, np.random.default_rng(11), n=n_probe)
p_event = float((probe.data["event"] == 1).mean())
mcse = np.sqrt(p_event * (1 - p_event) / n_probe)
print(
    f"P(lung metastasis during follow-up) = {p_event:.5f} (MCSE {mcse:.5f}, "
    f"{n_probe:,} simulated persons)"
)
plan = rw.schoenfeld(
    hr=flatiron.estimate, power=0.8, exposed_share=EXPOSED_SHARE, event_probability=p_event
)
print(plan.summary())
print(f"i.e. {plan.persons / flatiron.n:.1f} times the {flatiron.n:,} patients of the real cohort")

# %% [markdown]
# ## 4. The efficiency of 1:k matching
#
# A matched design with `k` controls per exposed person has exposed share `p = 1 / (k + 1)`.
# Hold the number of exposed events `D1 = p D` fixed (they are what the exposed cohort
# provides): the information is `D p (1 − p) = D1 (1 − p) = D1 k / (k + 1)`. With unlimited
# unexposed (`p → 0`) it tends to `D1`. So 1:k matching keeps a share `k / (k + 1)` of the
# information of using every unexposed person: 1:1 keeps half, 1:4 keeps 80%, and extra
# controls beyond a handful add little (Ury 1975).

# %%
section("4. The efficiency of 1:k matching")
rows = []
for k in (1, 2, 3, 4, 5, 8, 10, 20):
    share = 1 / (k + 1)
    res = rw.schoenfeld(hr=flatiron.estimate, power=0.8, exposed_share=share)
    rows.append(
        {
            "controls k": k,
            "exposed share p": share,
            "efficiency k/(k+1)": 1 - share,
            "events needed": res.required_events,
            "exposed events needed": res.events * share,
        }
    )
eff = pd.DataFrame(rows)
print(f"events for 80% power at HR {flatiron.estimate}, by matching ratio:")
print(eff.round(3).to_string(index=False))

# %% [markdown]
# ## 5. Power by simulating the whole study
#
# The formulas assume one binary, time-fixed exposure, proportional hazards and a known exposed
# share. The real analysis has a time-varying exposure that arrives in waves, confounders,
# competing deaths and undocumented infections. Simulation makes no such shortcuts: simulate
# the cohort, run the study analysis, record whether `p < 0.05`, repeat.
#
# `rw.sample_size_for_power` does this over a grid of cohort sizes with common random numbers
# (replicate `i` shares its random streams across sizes, so the curve is smooth), fits
# `power(n) = Φ(a + b √n)` and solves for 80%. The effect here is the calibrated preset's, so
# the estimates centre on the reported HR 1.44 (the true HR 1.74, attenuated by undocumented
# infections).

# %%
section("5. Power by simulating the whole study")
if SMOKE:
    N_GRID, REPS = [15_000, 60_000], 6
else:
    N_GRID, REPS = [20_000, 36_845, 60_000, 90_000], 200
with warnings.catch_warnings():
    if SMOKE:  # a handful of replicates can give power 0 or 1: a degenerate probit fit
        warnings.simplefilter("ignore")
    try:
        sizing = rw.sample_size_for_power(
            scenario, n_grid=N_GRID, target=0.8, reps=REPS, seed=2025, executor=EXECUTOR
        )
    except rw.AnalysisError as exc:  # too few replicates to fit a curve (smoke mode)
        sizing = None
        print(f"no sample size: {exc}")
        curve = rw.simulate_power(scenario, n_grid=N_GRID, reps=REPS, seed=2025, executor=EXECUTOR)
    else:
        curve = sizing.curve
        print(sizing.summary())
table = curve.table.copy()
# Schoenfeld's prediction at the simulated mean event count and the reported-like HR
table["schoenfeld"] = [
    rw.schoenfeld(events=ev, hr=flatiron.estimate, exposed_share=EXPOSED_SHARE).power
    for ev in table["mean_events"]
]
print(
    table[
        [
            "n",
            "reps",
            "power",
            "mcse",
            "schoenfeld",
            "geometric_mean_estimate",
            "mean_se",
            "mean_events",
        ]
    ]
    .round(3)
    .to_string(index=False)
)

# %%
fig, ax = plt.subplots(figsize=(6, 3.6), layout="constrained")
ax.errorbar(
    table["n"], table["power"], yerr=1.96 * table["mcse"], marker="o", capsize=3,
    label="simulated (study analysis), ±1.96 MCSE",
)
ax.plot(
    table["n"], table["schoenfeld"], marker="s", ls="--",
    label=f"Schoenfeld, p = {EXPOSED_SHARE}, HR {flatiron.estimate}",
)
ax.axhline(0.8, color="0.5", lw=0.8)
if sizing is not None and sizing.n_required <= 3 * max(N_GRID):
    ax.axvline(sizing.n_required, color="0.4", ls=":", lw=1)
ax.set_ylim(0, 1)
ax.set(xlabel="cohort size n (persons)", ylabel="power",
       title="Flatiron-like design: power of the time-varying Cox analysis")
ax.legend(frameon=False, fontsize=8, loc="lower right")
show(fig, "power_curve_flatiron")

# %% [markdown]
# Power also depends on the size of the true effect. `rw.simulate_power(..., hr_grid=...)`
# replaces the preset's effect by a constant true HR; the documented-exposure analysis sees an
# attenuated version of it, which is why the true HR that gives the reported 1.44 on average
# is larger than 1.44.

# %%
HR_GRID = [1.5, 1.74, 2.5] if SMOKE else [1.3, 1.5, 1.74, 2.2, 2.6]
by_hr = rw.simulate_power(
    scenario, hr_grid=HR_GRID, reps=max(REPS // 2, 4), seed=2026, executor=EXECUTOR
)
print(by_hr.summary())

# %% [markdown]
# ## 6. Design analysis of the reported findings
#
# Power calculations are for planning. After the fact, Gelman & Carlin (2014) ask: *if* the
# true effect were R, what would a study with this SE produce? Three numbers per assumed R:
#
# - **power**: the chance of a significant result;
# - **type S error rate**: the chance a significant result has the wrong sign;
# - **exaggeration ratio** (type M): how much significant estimates overstate R on average.
#
# Low power means the significant estimates a study can publish are inflated: a reported
# estimate that just cleared p < 0.05 is then evidence for a smaller true effect than itself.

# %%
section("6. Design analysis of the reported findings")
N_SIMS = 20_000 if SMOKE else 200_000
analyses = {}
for f, truths in [
    (flatiron, (1.1, 1.2, 1.3, 1.44, 1.6, 1.74)),
    (ukb, (1.2, 1.4, 1.6, 1.85, 2.2, 2.6)),
]:
    analyses[f.name] = rw.design_analysis(
        estimate=f.estimate,
        ci=(f.ci_low, f.ci_high),
        true_effects=truths,
        n_sims=N_SIMS,
        rng=np.random.default_rng(5),
    )
    print(f.title)
    print(analyses[f.name].summary())
    print()

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), layout="constrained")
for ax, f in zip(axes, (flatiron, ukb), strict=True):
    t = analyses[f.name].table
    ax.plot(t["true_ratio"], t["exaggeration"], marker="o", label="exaggeration ratio (type M)")
    ax.plot(t["true_ratio"], t["power"], marker="s", ls="--", label="power")
    ax.axhline(1.0, color="0.5", lw=0.8)
    ax.axvline(f.estimate, color="C3", lw=1, ls=":", label=f"reported {f.estimate}")
    ax.set(xlabel=f"assumed true {f.measure}",
           title=f"{f.title.split(':')[0]}: {f.measure} {f.estimate} ({f.ci_low}-{f.ci_high})")
axes[0].legend(frameon=False, fontsize=8)
show(fig, "exaggeration_findings")

# %%
for f in (flatiron, ukb):
    t = analyses[f.name].table.set_index("true_ratio")
    at_reported = t.loc[f.estimate]
    print(
        f"{f.name}: if the true {f.measure} were the reported {f.estimate}, power would be "
        f"{at_reported['power']:.0%} and significant estimates would average "
        f"{at_reported['expected_significant_ratio']:.2f} (exaggeration "
        f"{at_reported['exaggeration']:.2f})"
    )

# %% [markdown]
# ## Exercises
#
# 1. **Planning a replication.** How many lung-metastasis events would a replication of the
#    Flatiron analysis need for 80% power (two-sided 5%) if the true HR were 1.3 and 25% of
#    patients were exposed? And how many if it were the reported 1.44?
# 2. **More controls?** A 1:4 matched design keeps 80% of the information. How much would 1:10
#    keep, and is it worth the extra controls?

# %% [markdown] tags=["solution"]
# **Solution 1.** Schoenfeld's formula solved for the events: `rw.schoenfeld(hr=..., power=0.8,
# exposed_share=0.25)`. A smaller true HR needs many more events, since the events grow with
# `1 / (log HR)²`.

# %% tags=["solution"]
section("Solution to exercise 1: events for a replication")
for hr in (1.3, flatiron.estimate):
    plan = rw.schoenfeld(hr=hr, power=0.8, exposed_share=EXPOSED_SHARE)
    print(f"HR {hr}: {plan.events:,.0f} events for 80% power")

# %% [markdown] tags=["solution"]
# **Solution 2.** `k / (k + 1)`: 1:10 keeps 10/11 ≈ 91% of the information, against 80% for
# 1:4, so going from four to ten controls per exposed patient gains about 14% of information
# (SE about 6% smaller) for 2.5 times the controls. Beyond four or five controls, more
# exposed patients or longer follow-up (more events) buy more precision.

# %% [markdown]
# ## What to take away
#
# - A CI is a statement about information: `1 / SE^2 ≈ D p (1 − p)`. From it follow the power
#   at any assumed HR and the events a replication would need (both printed above).
# - Convert events to persons with the probability of the outcome during follow-up; in a
#   realistic scenario, simulate it.
# - 1:k matching keeps `k / (k + 1)` of the information; four controls keep 80%.
# - Simulation-based power includes what the formulas leave out (waves, confounding,
#   misclassified exposure, competing deaths); use the formulas to check it, not to replace it.
# - At the reported precision, neither finding was well powered for true effects moderately
#   smaller than reported. If the truth is smaller, significant estimates of that precision
#   overstate it, and the printed exaggeration ratios say by how much.
