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
# - Know what a **negative-control outcome** (an outcome infection cannot cause) adds: it
#   tells confounding and detection paths apart from, say, misattributed causes of death.
#
# **What you need to know first**: scripts 03 (immortal time), 07–08 (the two findings).
#
# The reported associations are observational and modest (Flatiron's lower CI bound is near
# 1), so the useful question is not "is it significant?" but "what would it take?".

# %%
import dataclasses
import os
import sys
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
FIGURE_DIR = Path(os.environ.get("REAWAKEN_FIGURES", "build/figures")) / "09_stress_tests"


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


EXECUTOR = "serial" if SMOKE else "processes"
print(f"reawaken {rw.__version__}; smoke mode: {SMOKE}; replicates run on: {EXECUTOR}")

# %% [markdown]
# ## 1. E-values of the two reported findings
#
# The E-value of a risk ratio `RR > 1` is `RR + sqrt(RR × (RR − 1))` (VanderWeele & Ding
# 2017): the minimum strength of association, on the risk-ratio scale, that an unmeasured
# confounder would need with *both* the exposure and the outcome to explain the estimate away.
# The same formula at the CI limit nearer 1 gives the strength that would move the interval to
# include 1. Both outcomes are rare (a few percent over follow-up), so the HR and OR are read
# as risk ratios.

# %%
section("1. E-values of the two reported findings")


def evalue(ratio):
    """E-value of a ratio read as a risk ratio (VanderWeele & Ding 2017); 1 if ratio <= 1."""
    rr = max(ratio, 1 / ratio)
    return rr + np.sqrt(rr * (rr - 1)) if rr > 1 else 1.0


for name in rw.list_findings():
    finding = rw.load_finding(name)
    limit = finding.ci_low if finding.estimate > 1 else finding.ci_high
    crosses = finding.ci_low <= 1 <= finding.ci_high
    print(
        f"{finding.title}: {finding.measure} {finding.estimate} "
        f"({finding.ci_low}-{finding.ci_high}{', assumed' if finding.ci_assumed else ''}): "
        f"E-value {evalue(finding.estimate):.2f} for the estimate, "
        f"{1.0 if crosses else evalue(limit):.2f} for the CI limit {limit}"
    )

# %% [markdown]
# ## 2. Bias mechanisms in a world with no effect
#
# A stress test asks the same question by simulation. Start from a *clean* version of the
# Flatiron-like preset — every infection documented, and **no effect of infection at all**
# (`rw.null_scenario`) — then switch one bias mechanism on at increasing strengths and run the
# study's own analysis (the time-varying Cox model) on seeded replicates. Whatever HR comes out
# is made by the bias. The mechanisms are scenario settings, so a changed copy of the scenario
# (`dataclasses.replace`) is all it takes:
#
# - **unmeasured confounding**: comorbidity raises the chance of infection and of lung
#   metastasis; make it unmeasured (`observed=False`, so the analysis cannot adjust for it) and
#   give it a log-HR of `strength` on both;
# - **cause-of-death misattribution**: a share `strength` of the deaths from other causes within
#   30 days of infection is recorded as the outcome (`biases.death_to_outcome`);
# - **informative censoring**: after infection, loss to follow-up is `strength` times as
#   likely (`biases.loss_hr_after_infection`).
#
# Every cell uses the same seed, so the cohorts differ only by the mechanism (common random
# numbers). The full battery, with more mechanisms, a negative-control outcome and the runs
# under the reported effect, is `reawaken stress` (see the user guide).

# %%
section("2. Bias mechanisms in a world with no effect")
finding = rw.load_finding("flatiron_lung_mets")
preset = rw.load_scenario("flatiron_lung_mets")
clean = dataclasses.replace(
    preset, infection=dataclasses.replace(preset.infection, documented_probability=1.0)
)
null = rw.null_scenario(clean)
REPS = 4 if SMOKE else 40
N = 8_000 if SMOKE else None  # None: the preset's size


def unmeasured_confounding(scenario, strength):
    """Comorbidity unmeasured, with log-HR `strength` on infection and on the outcome."""
    covariates = tuple(
        dataclasses.replace(c, observed=False) if c.name == "comorbidity" else c
        for c in scenario.covariates
    )
    infection = dataclasses.replace(
        scenario.infection, log_hr={**scenario.infection.log_hr, "comorbidity": strength}
    )
    outcome = dataclasses.replace(
        scenario.outcome, log_hr={**scenario.outcome.log_hr, "comorbidity": strength}
    )
    return dataclasses.replace(
        scenario, covariates=covariates, infection=infection, outcome=outcome
    )


def with_biases(**changes):
    """A mechanism that sets fields of `scenario.biases`."""
    return lambda scenario: dataclasses.replace(
        scenario, biases=dataclasses.replace(scenario.biases, **changes)
    )


MECHANISMS = {
    "unmeasured confounding": (
        "log-HR of an unmeasured comorbidity on infection and outcome",
        [0.0, 1.0] if SMOKE else [0.0, 0.5, 1.0, 1.5],
        unmeasured_confounding,
    ),
    "death misattribution": (
        "share of post-infection competing deaths recorded as the outcome",
        [0.0, 0.2] if SMOKE else [0.0, 0.05, 0.1, 0.2],
        lambda scenario, s: with_biases(death_to_outcome=s)(scenario),
    ),
    "informative censoring": (
        "loss-to-follow-up HR after infection",
        [1.0, 4.0] if SMOKE else [1.0, 2.0, 4.0, 8.0],
        lambda scenario, s: with_biases(loss_hr_after_infection=s)(scenario),
    ),
}
rows = []
for mechanism, (meaning, strengths, switch_on) in MECHANISMS.items():
    for strength in strengths:
        reps = rw.run_replicates(
            switch_on(null, strength), reps=REPS, seed=9, executor=EXECUTOR, n=N
        )
        logs = reps.data.loc[reps.data["error"].isna(), "log_estimate"]
        rows.append(
            {
                "mechanism": mechanism,
                "strength": strength,
                "geometric-mean HR": np.exp(logs.mean()),
                "MCSE of mean log": logs.std(ddof=1) / np.sqrt(len(logs)),
                "share p < 0.05": (reps.data["p_value"] < 0.05).mean(),
                "failed": reps.n_failed,
            }
        )
battery = pd.DataFrame(rows)
print(f"{REPS} replicates per cell, true HR 1 (no effect), reported HR {finding.estimate}")
print(battery.round(3).to_string(index=False))

# %%
fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
for i, (mechanism, cells) in enumerate(battery.groupby("mechanism", sort=False)):
    strengths = MECHANISMS[mechanism][1]
    relative = (np.asarray(strengths) - strengths[0]) / (strengths[-1] - strengths[0])
    ax.errorbar(
        relative, cells["geometric-mean HR"],
        yerr=1.96 * cells["MCSE of mean log"] * cells["geometric-mean HR"],
        marker="o", capsize=3, color=f"C{i}", label=mechanism,
    )
ax.axhline(finding.estimate, color="C3", ls="--", lw=1, label=f"reported HR {finding.estimate}")
ax.axhline(1.0, color="0.5", lw=0.8)
ax.set_yscale("log")
ax.set(xlabel="strength (0 = off, 1 = strongest tried)", ylabel="HR with no true effect",
       title="Flatiron-like preset: what each bias makes of a null effect")
ax.legend(frameon=False, fontsize=8)
show(fig, "stress_flatiron")

# %% [markdown]
# ## 3. Tipping points
#
# The **tipping point** of a mechanism is the strength at which a world with no effect
# reproduces the reported HR on average: here, the linear interpolation of the mean log HR
# between the strengths tried. "Not reached" means that even the strongest setting tried did
# not produce the finding.

# %%
section("3. Tipping points")
target = np.log(finding.estimate)
for mechanism, cells in battery.groupby("mechanism", sort=False):
    meaning = MECHANISMS[mechanism][0]
    x = cells["strength"].to_numpy()
    y = np.log(cells["geometric-mean HR"].to_numpy())
    above = np.flatnonzero(y >= target)
    if len(above) == 0 or above[0] == 0:
        text = "not reached" if len(above) == 0 else "reached already when off"
        print(f"{mechanism}: {text} up to strength {x[-1]:g} ({meaning})")
        continue
    k = above[0]
    tip = x[k - 1] + (target - y[k - 1]) * (x[k] - x[k - 1]) / (y[k] - y[k - 1])
    print(f"{mechanism}: tipping point {tip:.3g} ({meaning})")

# %% [markdown]
# ## 4. Reading the results
#
# - **Unmeasured confounding** pushes the null estimate up; its tipping point is the strength
#   of the confounder (on both infection and outcome) at which a null world reproduces HR 1.44.
#   Compare it with the E-value above: both say how strong the confounder must be. A
#   negative-control outcome (one infection cannot cause, e.g. bone metastasis) would move with
#   it — that is how a confounding path shows itself in real data.
# - **Cause-of-death misattribution** also manufactures an excess, but a negative control would
#   stay near 1: it is not a confounding path.
# - **Informative censoring** (losing infected patients faster) removes outcomes from the
#   exposed person-time rather than adding them: it cannot produce a harmful finding.
# - **Immortal time** biases towards *protection* (script 03): it cannot produce a harmful
#   finding either.

# %% [markdown]
# ## Exercises
#
# 1. **Misclassified exposure.** The preset documents only half of all infections. Under the
#    *reported* effect, does leaving infections undocumented bias the HR towards or away from
#    1? Run the clean scenario with the preset's causal effect at `documented_probability` 1.0
#    and 0.5 and compare.
# 2. **E-value vs tipping point.** The E-value of HR 1.44 is about 2.24 on the risk-ratio scale.
#    The tipping point of unmeasured confounding above is a log-HR on infection and outcome.
#    Why can the two differ?

# %% [markdown] tags=["solution"]
# **Solution 1.** Non-differential misclassification of a binary exposure biases towards the
# null: undocumented infected persons dilute the unexposed group with exposed person-time, so the
# HR at documentation 0.5 is closer to 1 than at 1.0 (script 08 meets the same attenuation).
# It cannot manufacture a harmful finding.

# %% tags=["solution"]
section("Solution to exercise 1: documented share under the reported effect")
for share in (1.0, 0.5):
    world = dataclasses.replace(
        clean, infection=dataclasses.replace(clean.infection, documented_probability=share)
    )
    reps = rw.run_replicates(world, reps=REPS, seed=10, executor=EXECUTOR, n=N)
    logs = reps.data.loc[reps.data["error"].isna(), "log_estimate"]
    print(
        f"documented share {share:.0%}: geometric-mean HR {np.exp(logs.mean()):.2f} "
        f"(MCSE of mean log {logs.std(ddof=1) / np.sqrt(len(logs)):.3f}); causal HR "
        f"{clean.effect.hazard_ratios[0]:.2f}"
    )

# %% [markdown] tags=["solution"]
# **Solution 2.** The E-value is a bound that holds for *any* confounder: the weakest pair of
# risk ratios (with exposure and with outcome, equal to each other) that could explain the
# estimate away, whatever its prevalence. The tipping point is for one specific confounder in
# one specific world: a binary comorbidity with prevalence 30% and equal log-HRs on infection
# and outcome. A rarer confounder, or one with unequal effects, needs other strengths; the
# E-value is the worst case over all of them.

# %% [markdown]
# ## What to take away
#
# - An E-value turns "there may be unmeasured confounding" into a number you can argue about.
# - Simulating the bias mechanisms shows *which* biases could produce the finding and how
#   strong they would need to be; mechanisms that only bias towards the null (or towards
#   protection) cannot explain a harmful association.
# - Negative-control outcomes separate confounding and detection paths from outcome errors.
# - `reawaken stress --finding NAME --reps 200 --out DIR` runs the full battery (more
#   mechanisms, a negative-control outcome, runs under the reported effect, tipping points).
