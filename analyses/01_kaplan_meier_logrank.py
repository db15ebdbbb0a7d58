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
# # 01 · Kaplan–Meier curves, the log-rank test, and why censoring matters
#
# **Learning goals**
#
# - Estimate survival curves with the Kaplan–Meier (KM) estimator, with Greenwood standard
#   errors, log(−log) confidence intervals and a numbers-at-risk table (`rw.kaplan_meier`).
# - Compare two groups with the log-rank test (`rw.logrank`), and with its *stratified* version
#   when the groups come from matched sets.
# - See, on data whose true survival curve is known, why the simple "share with the event"
#   gets the risk wrong once follow-up is censored, and how KM gets it right.
# - Read a KM plot of matched arms from the Flatiron-like cohort the later scripts reproduce.
#
# **What you need to know first**: what a survival time is (time from an origin to an event),
# that follow-up can end before the event (censoring), and basic NumPy/pandas. Everything here
# is simulated, so every number printed is compared with a known truth.
#
# Run it as a script (`python analyses/01_kaplan_meier_logrank.py`; figures are written as PNG
# files under `build/figures/`) or as a notebook (`make notebooks`). With `REAWAKEN_SMOKE=1`
# it uses small sizes and few replicates.

# %%
import os
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import reawaken as rw
from reawaken.report.figures import show_figure
from reawaken.report.plots import plot_kaplan_meier

SMOKE = os.environ.get("REAWAKEN_SMOKE", "0") == "1"
IN_NOTEBOOK = "ipykernel" in sys.modules
FIGURE_DIR = Path(os.environ.get("REAWAKEN_FIGURES", "build/figures")) / "01_kaplan_meier_logrank"


def show(fig, name):
    """Show a figure inline in a notebook; in a script, save it as a PNG file."""
    show_figure(fig, name, folder=FIGURE_DIR)


DAYS_PER_YEAR = 365.25
print(f"reawaken {rw.__version__}; smoke mode: {SMOKE}")

# %% [markdown]
# ## 1. A two-group cohort with a known truth
#
# We simulate a small trial-like cohort with NumPy: half the persons are "exposed". Event times
# are exponential, with a constant hazard of `BASE_RATE` events per person-year in the
# unexposed and `TRUE_HR` times that in the exposed, so the true survival curves are
# `S(t) = exp(-rate * t)`. Follow-up ends at the first of the event, loss to follow-up (a
# constant hazard) and the administrative end of the study. People are recruited over three
# years and the study closes five years after it opened, so late recruits can only be followed
# for two years: **censoring**, which has nothing to do with their risk (independent
# censoring, the assumption every method in this script relies on).

# %%
BASE_RATE = 0.12  # events per person-year, unexposed
TRUE_HR = 1.6  # hazard ratio, exposed vs unexposed
LOSS_RATE = 0.08  # loss to follow-up per person-year
ACCRUAL_YEARS, STUDY_YEARS = 3.0, 5.0
N_PERSONS = 600 if SMOKE else 2000


def simulate_two_groups(n, rng):
    """One row per person: group, follow-up in years (recorded to the day), event (1) or not (0)."""
    exposed = np.arange(n) % 2
    rate = BASE_RATE * np.where(exposed == 1, TRUE_HR, 1.0)
    t_event = rng.exponential(1.0 / rate)
    t_loss = rng.exponential(1.0 / LOSS_RATE, n)
    t_admin = STUDY_YEARS - rng.uniform(0.0, ACCRUAL_YEARS, n)  # potential follow-up
    t_obs = np.minimum.reduce([t_event, t_loss, t_admin])
    return pd.DataFrame(
        {
            "group": np.where(exposed == 1, "exposed", "unexposed"),
            "years": np.ceil(t_obs * DAYS_PER_YEAR) / DAYS_PER_YEAR,
            "event": (t_event == t_obs).astype(int),
        }
    )


cohort = simulate_two_groups(N_PERSONS, np.random.default_rng(20250730))
summary = cohort.groupby("group").agg(persons=("event", "size"), events=("event", "sum"))
summary["censored"] = summary["persons"] - summary["events"]
print(summary)
print(f"share of persons censored before their event: {1 - cohort['event'].mean():.1%}")

# %% [markdown]
# ## 2. Kaplan–Meier estimates
#
# At each event time the KM estimator multiplies the running survival by `1 - d / n`: `d`
# events among the `n` persons still at risk. Censored persons simply leave the risk set — they
# count as event-free for as long as they were observed, and no longer. `rw.kaplan_meier`
# returns a tidy table (one row per distinct time), the at-risk counts at round times, and
# the medians. The confidence band is computed on the log(−log S) scale (R's
# `conf.type = "log-log"`), which keeps it inside [0, 1].

# %%
years = np.arange(0, STUDY_YEARS + 1)
km = rw.kaplan_meier(cohort, duration="years", event="event", group="group", times=years)
print(km.summary())
print()
print("Numbers at risk at the start of each year of follow-up:")
print(
    km.at_risk.pivot(index="group", columns="time", values="n_at_risk").rename(
        columns=lambda t: f"year {t:g}"
    )
)

# %%
check_years = np.array([1.0, 2.0, 3.0, 4.0])
at = km.survival_at(check_years)
at["true_survival"] = np.exp(
    -BASE_RATE * np.where(at["group"] == "exposed", TRUE_HR, 1.0) * at["time"]
)
at["year"] = at["time"]
at["truth_inside_ci"] = (at["ci_low"] <= at["true_survival"]) & (
    at["true_survival"] <= at["ci_high"]
)
print(
    at[
        [
            "group",
            "year",
            "n_at_risk",
            "survival",
            "ci_low",
            "ci_high",
            "true_survival",
            "truth_inside_ci",
        ]
    ]
    .round(3)
    .to_string(index=False)
)

# %% [markdown]
# The bands are *pointwise* 95% intervals: each one misses the truth about one time in twenty,
# so an occasional `False` above is expected. The figure puts the true curves (dashed) on top
# of the KM estimates; the table below the
# axes is `km.at_risk`, so the numbers printed under the plot are the data themselves.

# %%
fig = plot_kaplan_meier(
    km, xlabel="Years since entry", title="Kaplan–Meier estimates (bands: 95% log-log CI)"
)
grid = np.linspace(0, STUDY_YEARS, 200)
ax = fig.axes[0]
for i, (label, hr) in enumerate([("exposed", TRUE_HR), ("unexposed", 1.0)]):
    ax.plot(
        grid,
        np.exp(-BASE_RATE * hr * grid),
        ls="--",
        lw=1.0,
        color=f"C{i}",
        label=f"true S(t), {label}",
    )
ax.legend(frameon=False, loc="lower left")
show(fig, "km_two_groups")

# %% [markdown]
# ## 3. The log-rank test
#
# The log-rank test compares, at every event time, the events observed in each group with the
# events expected if both groups shared one hazard (`expected = d * n_group / n`), and sums
# over time. It is the score test of the Cox model with a single group indicator, and it
# has most power when the hazards are proportional — as they are here by construction.

# %%
lr = rw.logrank(cohort, duration="years", event="event", group="group")
print(lr.summary())
ratio = lr.table.set_index("group")
oe = (ratio["observed"] / ratio["expected"]).to_dict()
print(
    f"observed/expected: exposed {oe['exposed']:.2f}, unexposed {oe['unexposed']:.2f}; "
    f"their ratio, {oe['exposed'] / oe['unexposed']:.2f}, is a crude estimate of the HR "
    f"(true {TRUE_HR}; script 02 fits it properly)"
)

# %% [markdown]
# ## 4. Why censoring matters
#
# Two tempting shortcuts estimate the 3-year risk `1 - S(3 years)` without KM:
#
# - **"everyone"**: events within 3 years divided by *all* persons — it treats every censored
#   person as if they had stayed event-free, so it **underestimates** the risk;
# - **"complete cases"**: drop everyone censored before 3 years, then take the share with an
#   event — the persons dropped are precisely those who had *not* had the event while
#   observed, so it **overestimates** the risk.
#
# KM uses each person for as long as they were observed. We repeat the simulation many times
# and compare the average of each estimator with the truth.

# %%
HORIZON_YEARS = 3.0
n_reps = 20 if SMOKE else 300
rng = np.random.default_rng(2025)
rows = []
for _ in range(n_reps):
    sim = simulate_two_groups(N_PERSONS, rng)
    sim = sim[sim["group"] == "unexposed"]
    had_event = (sim["event"] == 1) & (sim["years"] <= HORIZON_YEARS)
    complete = (sim["years"] >= HORIZON_YEARS) | (sim["event"] == 1)
    km_sim = rw.kaplan_meier(sim, duration="years", event="event", times=[HORIZON_YEARS])
    rows.append(
        {
            "Kaplan-Meier": 1 - km_sim.survival_at([HORIZON_YEARS])["survival"].iloc[0],
            "everyone (censored = event-free)": had_event.mean(),
            "complete cases (drop censored)": had_event[complete].mean(),
        }
    )
risk = pd.DataFrame(rows)
truth = 1 - np.exp(-BASE_RATE * HORIZON_YEARS)
table = pd.DataFrame(
    {
        "mean estimate": risk.mean(),
        "bias": risk.mean() - truth,
        "relative bias": (risk.mean() - truth) / truth,
        "MCSE of mean": risk.std(ddof=1) / np.sqrt(n_reps),
    }
)
print(
    f"{HORIZON_YEARS:g}-year risk in the unexposed: truth {truth:.4f}; {n_reps} replicates "
    f"of {N_PERSONS // 2} unexposed persons"
)
print(table.round(4).to_string())

# %%
fig, ax = plt.subplots(figsize=(6, 3.2), layout="constrained")
jitter = np.random.default_rng(0).uniform(-0.15, 0.15, len(risk))
for row, column in enumerate(risk.columns):
    ax.scatter(risk[column], row + jitter, s=8, alpha=0.4, color=f"C{row}")
    ax.plot([risk[column].mean()] * 2, [row - 0.3, row + 0.3], color="k", lw=2)
ax.set_yticks(range(risk.shape[1]), list(risk.columns))
ax.axvline(truth, color="k", ls="--", lw=1, label=f"true risk {truth:.3f} (bars: means)")
ax.set_xlabel(f"estimated {HORIZON_YEARS:g}-year risk (one point per simulated cohort)")
ax.legend(frameon=False, loc="lower right")
show(fig, "censoring_shortcuts")

# %% [markdown]
# ## 5. Matched arms from the Flatiron-like cohort
#
# The study analyses in this project start follow-up at the day of infection. Exposure-density
# matching (script 04 explains it) gives each infected patient four controls who were still
# at risk and not yet infected that day; the arms can then be compared with KM curves of "days
# since index". Two details:
#
# - Controls who later get infected leave the control arm on that day (censored), so each arm
#   contains only the person-time it claims to.
# - Deaths without lung metastasis are censored here: 1 − KM is then the risk in a world
#   without competing deaths. Script 05 shows why the cumulative incidence is the better
#   summary when competing deaths are common.
#
# Because controls belong to matched sets, the fitting test is the log-rank test *stratified
# by matched set*: it compares each exposed patient only with their own controls.

# %%
scenario = rw.load_scenario("flatiron_lung_mets")
n_flatiron = 12_000 if SMOKE else scenario.n
flatiron = rw.simulate_cohort(scenario, np.random.default_rng(1), n=n_flatiron)
print(flatiron.summary())
matched = rw.match_exposure_density(
    flatiron.data,
    rng=np.random.default_rng(2),
    controls=4,
    exact=["stage", "her2"],
    caliper={"age": 2.0},
)
print(matched.report.summary())
arms = matched.data.assign(
    arm=np.where(matched.data["exposed"] == 1, "COVID-19", "matched controls")
)

km_arms = rw.kaplan_meier(
    arms, duration="time", event="event", group="arm", cause=1, times=[0, 365, 730, 1095, 1460]
)
print(km_arms.summary())
risk_at = km_arms.survival_at([365, 730, 1095]).assign(risk=lambda d: 1 - d["survival"])
print(risk_at[["group", "time", "n_at_risk", "risk"]].round(4).to_string(index=False))

# %%
plain = rw.logrank(arms, duration="time", event="event", group="arm", cause=1)
strat = rw.logrank(arms, duration="time", event="event", group="arm", cause=1, strata="set_id")
print(plain.summary())
print(strat.summary())

# %%
fig = plot_kaplan_meier(
    km_arms,
    ylabel="Free of lung metastasis",
    xlabel="Days since index (COVID-19 date of the exposed patient)",
    title="Matched arms, Flatiron-like cohort",
)
show(fig, "km_matched_arms")

# %% [markdown]
# ## What to take away
#
# - KM uses every person for exactly as long as they were observed; with independent censoring
#   it is unbiased where the shortcuts are not (section 4 prints by how much "everyone"
#   underestimates and "complete cases" overestimates the risk in this set-up).
# - Always show the numbers at risk: the right end of a KM curve rests on few persons, and
#   its confidence band says so.
# - The log-rank test compares observed with expected events over the whole follow-up; with
#   matched data, stratify it by matched set.
# - With competing deaths, 1 − KM of one cause is not the probability of that cause (script
#   05); with a time-varying exposure, groups must not be formed from the future (script 03).
