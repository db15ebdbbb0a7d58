# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 09 · Stress tests and E-values: could a bias alone produce the finding?
#
# **Learning goals**
#
# - Read the E-value of a reported ratio (VanderWeele & Ding 2017): how strong an unmeasured
#   confounder would have to be to explain the estimate away.
# - Switch bias mechanisms on in a simulated cohort with **no true effect** and watch which
#   ones manufacture the reported estimate, and at what strength (the *tipping point*).
# - Use a **negative-control outcome** (an outcome infection cannot cause) to tell confounding
#   and detection paths apart from, say, misattributed causes of death.
#
# **What you need to know first**: scripts 03 (immortal time), 07–08 (the two findings).
#
# The reported associations are observational and modest (Flatiron's lower CI bound is near
# 1), so the useful question is not "is it significant?" but "what would it take?".

# %%
import os
import sys
from pathlib import Path

import numpy as np

import reawaken as rw
from reawaken.report.figures import show_figure
from reawaken.report.stress_plots import plot_stress
from reawaken.sensitivity.evalue import evalue_for_finding
from reawaken.sensitivity.stress import MECHANISMS, run_battery

SMOKE = os.environ.get("REAWAKEN_SMOKE", "0") == "1"
IN_NOTEBOOK = "ipykernel" in sys.modules
FIGURE_DIR = Path(os.environ.get("REAWAKEN_FIGURES", "build/figures")) / "09_stress_tests"


def show(fig, name):
    """Show a figure inline in a notebook; in a script, save it as a PNG file."""
    show_figure(fig, name, folder=FIGURE_DIR)


print(f"reawaken {rw.__version__}; smoke mode: {SMOKE}")

# %% [markdown]
# ## 1. E-values of the two reported findings
#
# Both outcomes are rare (a few percent over follow-up), so the HR and OR are read as risk
# ratios. The first number explains away the point estimate; the second moves the confidence
# interval to include 1.

# %%
for name in rw.list_findings():
    finding = rw.load_finding(name)
    print(evalue_for_finding(finding).summary())

# %% [markdown]
# ## 2. The bias battery on the Flatiron finding
#
# `run_battery` builds a *clean* version of the preset (every infection documented, a
# constant true HR, a negative-control outcome sharing the covariates), switches each
# mechanism on at increasing strengths and runs the study's own analysis on seeded
# replicates — once with the reported effect as the truth, once with no effect.

# %%
finding = rw.load_finding("flatiron_lung_mets")
scenario = rw.load_scenario("flatiron_lung_mets")
reps = 4 if SMOKE else 40
n = 8_000 if SMOKE else None
mechanisms = ["unmeasured_confounding", "death_misattribution", "immortal_time"]
strengths = {m: MECHANISMS[m][0][:2] for m in mechanisms} if SMOKE else None
battery = run_battery(
    scenario,
    finding,
    reps=reps,
    seed=9,
    mechanisms=mechanisms,
    strengths=strengths,
    executor="serial" if SMOKE else "processes",
    n=n,
)
print(battery.summary())
print(
    battery.table[
        [
            "mechanism",
            "strength",
            "true_effect",
            "mean_estimate",
            "coverage",
            "negative_control_estimate",
        ]
    ]
    .round(3)
    .to_string(index=False)
)

# %%
show(
    plot_stress(battery.table, reported=finding.estimate, title="Flatiron: bias battery"),
    "stress_flatiron",
)

# %% [markdown]
# ## 3. Reading the results
#
# - **Unmeasured confounding** pushes the null estimate up; its tipping point is the frailty
#   log-HR (on both infection and outcome) at which a null world reproduces HR 1.44. Compare
#   it with the E-value above: both say how strong the confounder must be. The negative
#   control moves with it — that is how a confounding path shows itself in real data.
# - **Cause-of-death misattribution** also manufactures an excess, but the negative control
#   stays near 1: it is not a confounding path.
# - **Immortal time** biases towards *protection*: it cannot produce a harmful finding.

# %%
tips = battery.tipping_points
for row in tips.itertuples():
    reached = np.isfinite(row.tipping_point)
    text = f"{row.tipping_point:.3g}" if reached else f"not reached up to {row.max_strength:g}"
    print(f"{row.mechanism}: {text}  ({row.meaning})")

# %% [markdown]
# ## What to take away
#
# - An E-value turns "there may be unmeasured confounding" into a number you can argue about.
# - Simulating the bias mechanisms shows *which* biases could produce the finding and how
#   strong they would need to be; mechanisms that only bias towards the null (or towards
#   protection) cannot explain a harmful association.
# - Negative-control outcomes separate confounding and detection paths from outcome errors.
# - `reawaken stress --finding NAME --reps 200 --out DIR` runs the full battery.
