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

import matplotlib
import numpy as np
import pandas as pd

import reawaken as rw

IN_NOTEBOOK = "ipykernel" in sys.modules
if not IN_NOTEBOOK:
    matplotlib.use("Agg")  # run as a script: figures go to files, no window opens
import matplotlib.pyplot as plt  # noqa: E402

SMOKE = os.environ.get("REAWAKEN_SMOKE", "0") == "1"
FIGURE_DIR = Path(os.environ.get("REAWAKEN_FIGURES", "build/figures")) / "01_kaplan_meier_logrank"


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


def plot_km(result, *, xlabel, ylabel="Survival probability", title=""):
    """Step curves of an `rw.kaplan_meier` result, each with its pointwise confidence band."""
    fig, ax = plt.subplots(figsize=(6, 3.6), layout="constrained")
    for i, (group, tab) in enumerate(result.table.groupby("group", sort=False)):
        ax.step(tab["time"], tab["survival"], where="post", color=f"C{i}", label=str(group))
        ax.fill_between(
            tab["time"], tab["ci_low"], tab["ci_high"], step="post", color=f"C{i}", alpha=0.2, lw=0
        )
    bottom = np.nanmin(result.table["ci_low"])
    ax.set_ylim(0.0 if bottom < 0.5 else max(0.0, bottom - 0.01), 1.002)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend(frameon=False, loc="lower left")
    return fig


def print_medians(result, unit):
    """Median survival per group with its CI, in `unit` (NaN: the curve never reaches 0.5)."""
    for r in result.medians.itertuples():
        if np.isnan(r.median):
            print(f"  {r.group}: median not reached (survival stays above 0.5)")
            continue
        high = "not reached" if np.isnan(r.ci_high) else f"{r.ci_high:.2f}"
        print(f"  {r.group}: median {r.median:.2f} {unit} (95% CI {r.ci_low:.2f} to {high} {unit})")


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
section("1. A two-group cohort with a known truth")
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
section("2. Kaplan–Meier estimates")
years = np.arange(0, STUDY_YEARS + 1)
km = rw.kaplan_meier(cohort, duration="years", event="event", group="group", times=years)
print("Median survival, years since entry:")
print_medians(km, "years")
print("True medians: " + ", ".join(
    f"{label} {np.log(2) / (BASE_RATE * hr):.2f} years"
    for label, hr in [("exposed", TRUE_HR), ("unexposed", 1.0)]
))
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
# of the KM estimates; read it with the numbers at risk printed above (`km.at_risk`): the
# right end of each curve rests on few persons.

# %%
fig = plot_km(km, xlabel="Years since entry", title="Kaplan–Meier estimates (bands: 95% log-log CI)")
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
section("3. The log-rank test")
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
section("4. Why censoring matters")
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
section("5. Matched arms from the Flatiron-like cohort")
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
print("Median time to lung metastasis, days since index:")
print_medians(km_arms, "days")
risk_at = km_arms.survival_at([365, 730, 1095]).assign(risk=lambda d: 1 - d["survival"])
print(risk_at[["group", "time", "n_at_risk", "risk"]].round(4).to_string(index=False))

# %%
plain = rw.logrank(arms, duration="time", event="event", group="arm", cause=1)
strat = rw.logrank(arms, duration="time", event="event", group="arm", cause=1, strata="set_id")
print(plain.summary())
print(strat.summary())

# %%
fig = plot_km(
    km_arms,
    ylabel="Free of lung metastasis",
    xlabel="Days since index (COVID-19 date of the exposed patient)",
    title="Matched arms, Flatiron-like cohort",
)
show(fig, "km_matched_arms")

# %% [markdown]
# ## Exercises
#
# 1. **Risk at two years.** From `km` (section 2), estimate the 2-year risk `1 − S(2 years)`
#    of each group with its 95% CI, and compare it with the true risk `1 − exp(−rate × 2)`.
# 2. **Informative censoring.** Suppose the exposed patients who were lost to follow-up were
#    those doing worst. Which way would the exposed KM curve be biased, and would the log-rank
#    test notice?

# %% [markdown] tags=["solution"]
# **Solution 1.** `km.survival_at([2.0])` returns S(2) and its CI per group; the risk is one
# minus each of them (the CI limits swap). Check whether each true risk lies in its interval:
# as section 2 explains, a pointwise 95% interval misses the truth about one time in twenty.

# %% tags=["solution"]
section("Solution to exercise 1: the 2-year risk")
two = km.survival_at([2.0])
two["risk"] = 1 - two["survival"]
two["risk_ci_low"], two["risk_ci_high"] = 1 - two["ci_high"], 1 - two["ci_low"]
two["true_risk"] = 1 - np.exp(
    -BASE_RATE * np.where(two["group"] == "exposed", TRUE_HR, 1.0) * 2.0
)
print(two[["group", "risk", "risk_ci_low", "risk_ci_high", "true_risk"]].round(3).to_string(index=False))

# %% [markdown] tags=["solution"]
# **Solution 2.** KM assumes that the persons censored at a time have the same future hazard as
# those still followed. If the exposed who leave are the sickest, the exposed persons left at
# risk are healthier than the group was, so the exposed curve is biased *upwards* (too
# optimistic) and the HR towards 1: the log-rank test loses power and cannot detect this, since
# it relies on the same assumption. Only outside knowledge (why people were lost) or a
# sensitivity analysis can address it — script 09 simulates informative censoring.

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
