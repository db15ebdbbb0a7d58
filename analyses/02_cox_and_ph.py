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
# # 02 · The Cox model, tied event times, and checking proportional hazards
#
# **Learning goals**
#
# - Fit a Cox proportional-hazards model with `rw.fit_cox` and read its table: hazard ratios,
#   confidence intervals, per-unit versus per-10-unit effects.
# - Understand what Efron's and Breslow's handling of tied event times do, and when the
#   difference matters (coarsely recorded times).
# - Test the proportional-hazards (PH) assumption with scaled Schoenfeld residuals
#   (`rw.ph_test`), and see it flag an effect that is strong shortly after infection and then
#   fades — the pattern the mouse experiments behind the reported findings suggest.
# - Estimate the effect by window of time since infection (`rw.hr_by_window`) instead of
#   forcing one average hazard ratio.
#
# **What you need to know first**: Kaplan–Meier curves and censoring (script 01); the idea of a
# hazard (the event rate among those still at risk) and of a hazard ratio.
#
# All data are simulated from the Flatiron-like scenario, so every estimate is compared with
# the truth that generated it. `REAWAKEN_SMOKE=1` shrinks the cohorts (and with them the
# power of the PH test).

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
FIGURE_DIR = Path(os.environ.get("REAWAKEN_FIGURES", "build/figures")) / "02_cox_and_ph"


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


print(f"reawaken {rw.__version__}; smoke mode: {SMOKE}")

# %% [markdown]
# ## 1. Two worlds with the same cohort and different effects
#
# We start from the Flatiron-like preset (breast cancer patients followed for 52 months,
# COVID-19 waves, lung metastasis as the outcome) and make two changes so that the truth is
# easy to read off:
#
# - every infection is documented (in the preset only half are; script 08 shows what that
#   does), and the cohort is larger than the real one, so estimates are precise;
# - the effect of infection on the lung-metastasis hazard is either **constant** (one hazard
#   ratio from infection onward) or **transient**: high in the first 90 days, smaller up to a
#   year, none afterwards.
#
# Both worlds are simulated from the same seed. The simulator draws each component from its
# own random stream, so the persons, their covariates and their infection dates are identical;
# only the outcome times differ (common random numbers).

# %%
section("1. Two worlds with the same cohort and different effects")
preset = rw.load_scenario("flatiron_lung_mets")
N = 30_000 if SMOKE else 150_000
base = dataclasses.replace(
    preset.with_n(N),
    infection=dataclasses.replace(preset.infection, documented_probability=1.0),
)
CONSTANT = rw.EffectProfile.constant(1.6)
TRANSIENT = rw.EffectProfile((0.0, 90.0, 365.0), (4.0, 1.5, 1.0))
worlds = {"constant": CONSTANT, "transient": TRANSIENT}
cohorts = {}
for name, effect in worlds.items():
    cohorts[name] = rw.simulate_cohort(base.with_effect(effect), np.random.default_rng(2025))
    print(f"{name:>9}: {effect.describe():<45} {cohorts[name].summary()}")

# %% [markdown]
# ## 2. A Cox model on (start, stop] episodes
#
# Infection happens during follow-up, so exposure is a **time-varying covariate**: each
# infected patient's follow-up is split at the infection day into an unexposed and an exposed
# episode (`rw.split_at_exposure`; script 03 shows what goes wrong if you skip this). The Cox
# model `h(t | x) = h0(t) exp(x'beta)` leaves the baseline hazard `h0` unspecified and
# estimates `beta` from the order of events alone: at each event time it asks how likely it was
# that *this* person, rather than anyone else still at risk, had the event.
#
# Stage is categorical (codes 1–4), so it enters as indicators against stage I.

# %%
section("2. A Cox model on (start, stop] episodes")
STAGE_TERMS = ["stage_2", "stage_3", "stage_4"]
COVARIATES = ["age", *STAGE_TERMS, "her2", "comorbidity"]


def with_stage_indicators(data):
    """The cohort with 0/1 columns stage_2..stage_4 (stage I is the reference)."""
    out = data.copy()
    for term in STAGE_TERMS:
        out[term] = (out["stage"] == int(term[-1])).astype(float)
    return out


data = {name: with_stage_indicators(c.data) for name, c in cohorts.items()}
episodes = rw.split_at_exposure(data["constant"], covariates=COVARIATES)
print(episodes.head(6).to_string(index=False))
print(f"{len(data['constant']):,} persons -> {len(episodes):,} episodes")

fit = rw.fit_cox(
    episodes, start="start", stop="stop", event="event", covariates=["exposed", *COVARIATES]
)
print(fit.summary())

# %% [markdown]
# Reading the table: `hr = exp(coef)` multiplies the hazard for a one-unit increase of the
# covariate, all else equal. For a binary covariate that is the exposed-vs-unexposed hazard
# ratio; for age it is *per year*, and `exp(10 * coef)` is per decade. Because the data are
# simulated, we can set every estimate next to the log hazard ratio the simulator used (the
# preset states the age effect for age minus its mean, which changes only the baseline hazard).

# %%
truth = {"exposed": np.log(CONSTANT.hazard_ratios[0])}
for key, value in preset.outcome.log_hr.items():
    if key == "stage":
        truth.update({f"stage_{lev}": v for lev, v in zip((1, 2, 3, 4), value, strict=True)})
    else:
        truth[key] = value
table = fit.table.set_index("term")[["ratio", "ci_low", "ci_high"]]
table["true_hr"] = [np.exp(truth[t]) for t in table.index]
table["covered"] = (table["ci_low"] <= table["true_hr"]) & (table["true_hr"] <= table["ci_high"])
print(table.round(3).to_string())
age_coef = fit.coef("age")
print(f"\nage: HR {np.exp(age_coef):.3f} per year = {np.exp(10 * age_coef):.3f} per 10 years")

# %% [markdown]
# ## 3. Tied event times: Efron vs Breslow
#
# The partial likelihood assumes no two events happen at the same time. Real data are recorded
# to the day, month or year, so events tie. **Breslow** treats all tied events as if each had
# the whole risk set to itself; **Efron** removes the tied cases from the risk set
# progressively, a much better approximation to the exact (continuous-time) likelihood.
# Breslow's shortcut pulls the estimate towards HR = 1, and the more ties the larger the pull.
#
# To see it, we simulate a simple two-group cohort with common events (true HR 2) and record
# the same times ever more coarsely.

# %%
section("3. Tied event times: Efron vs Breslow")
TIES_HR = 2.0
n_ties = 1_000 if SMOKE else 4_000
rng = np.random.default_rng(7)
group = np.arange(n_ties) % 2
t_event = rng.exponential(1.0 / (0.5 * np.where(group == 1, TIES_HR, 1.0)))  # years
t_censor = rng.uniform(0.0, 3.0, n_ties)
years = np.minimum(t_event, t_censor)
event = (t_event <= t_censor).astype(int)
rows = []
for unit, days in [
    ("day", 1.0),
    ("week", 7.0),
    ("month", 30.44),
    ("quarter", 91.31),
    ("year", 365.25),
]:
    frame = pd.DataFrame({"group": group, "time": np.ceil(years * 365.25 / days), "event": event})
    row = {"recorded to the": unit, "distinct times": frame["time"].nunique()}
    for ties in ("efron", "breslow"):
        res = rw.fit_cox(frame, duration="time", event="event", covariates=["group"], ties=ties)
        row[f"HR {ties}"] = res.row("group")["ratio"]
    rows.append(row)
ties_table = pd.DataFrame(rows)
print(f"{n_ties:,} persons, {event.sum():,} events, true HR {TIES_HR}")
print(ties_table.round(3).to_string(index=False))

# %% [markdown]
# With day-resolution data (the study cohorts here) the two agree closely; with a few coarse
# time points Breslow's estimate is visibly attenuated. reawaken defaults to Efron, as R's
# `coxph` does.
#
# ## 4. Is the hazard ratio constant? The Grambsch–Therneau test
#
# The PH assumption says `beta` does not change over follow-up. The **scaled Schoenfeld
# residuals** of a covariate, added to its coefficient, estimate `beta(t)` at each event time;
# if `beta` is constant they scatter around a flat line. `rw.ph_test` regresses them on a
# function of time (default `1 - KM(t)`) and tests for a slope (chi-square, 1 df per
# covariate, plus a global test).
#
# **Which time scale?** The transient effect depends on *time since infection*. In the
# time-varying model above the time axis is calendar time since March 2020, and infections are
# spread over several waves, so "early after infection" falls at many different calendar times
# and the non-proportionality is diluted. Following patients from their infection day — an
# exposure-density matched cohort (script 04) whose time axis *is* time since infection —
# lines it up. We fit both models in both worlds.


# %%
def matched_cox(frame, seed):
    """Match 1:4 on the infection day (same stage and HER2, age within 2 years), then fit a
    set-stratified Cox model on days since the index day."""
    matched = rw.match_exposure_density(
        frame,
        rng=np.random.default_rng(seed),
        controls=4,
        exact=["stage", "her2"],
        caliper={"age": 2.0},
        covariates=["age", "stage", "her2", "comorbidity"],
    )
    return rw.fit_matched_cox(matched.data, covariates=["comorbidity"])


rows, models = [], {}
for name, frame in data.items():
    eps = rw.split_at_exposure(frame, covariates=COVARIATES)
    tv = rw.fit_cox(
        eps, start="start", stop="stop", event="event", covariates=["exposed", *COVARIATES]
    )
    mc = matched_cox(frame, seed=1)
    models[name] = mc
    for label, model in [
        ("time-varying Cox, calendar time", tv),
        ("matched Cox, time since infection", mc),
    ]:
        test = rw.ph_test(model).table.set_index("term")
        rows.append(
            {
                "world": name,
                "model": label,
                "HR exposed": model.row("exposed")["ratio"],
                "PH chi2 (exposed)": test.loc["exposed", "statistic"],
                "PH p (exposed)": test.loc["exposed", "p_value"],
                "PH p (global)": test.loc["GLOBAL", "p_value"],
            }
        )
ph = pd.DataFrame(rows)
print(ph.to_string(index=False, float_format=lambda v: f"{v:.3g}"))

# %%
for name in worlds:
    p = ph.query("world == @name and model.str.startswith('matched')")["PH p (exposed)"].iloc[0]
    verdict = "flags non-proportional hazards" if p < 0.05 else "does not flag non-PH"
    print(f"{name:>9} effect, matched Cox: PH test p = {p:.2g} -> {verdict} at the 5% level")
print(rw.ph_test(models["transient"]).summary())

# %% [markdown]
# A single "average" hazard ratio can look similar in both worlds although the effects differ
# completely in shape. The residual plot shows the difference: we bin the scaled Schoenfeld
# residuals of `exposed` by days since infection and plot `exp(mean)`, an estimate of the
# hazard ratio at that time, against the truth.

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True, layout="constrained")
for ax, (name, effect) in zip(axes, worlds.items(), strict=True):
    res = rw.ph_test(models[name]).scaled_residuals.reset_index()
    bins = np.quantile(res["time"], np.linspace(0, 1, 9))
    res["bin"] = pd.cut(res["time"], bins, include_lowest=True)
    binned = res.groupby("bin", observed=True).agg(
        time=("time", "median"), beta=("exposed", "mean")
    )
    ax.scatter(res["time"], np.exp(res["exposed"]), s=4, alpha=0.15, color="0.5")
    ax.plot(binned["time"], np.exp(binned["beta"]), "o-", color="C0", label="binned residuals")
    grid = np.linspace(0, res["time"].max(), 400)
    ax.step(grid, effect.hazard_ratio(grid), where="post", color="C3", ls="--", label="true HR")
    ax.axhline(
        models[name].row("exposed")["ratio"], color="C0", ls=":", lw=1, label="Cox HR (one number)"
    )
    ax.set_yscale("log")
    ax.set_ylim(0.3, 30)
    ax.set_title(f"{name} effect")
    ax.set_xlabel("days since infection (index)")
axes[0].set_ylabel("exp(beta(t)) from scaled Schoenfeld residuals")
axes[1].legend(frameon=False, loc="upper right")
show(fig, "schoenfeld_residuals")

# %% [markdown]
# ## 5. Estimating the effect by window: `rw.hr_by_window`
#
# When the effect changes with time since infection, estimate it by window: follow-up is split
# at the infection day and at each window start after it, and each window gets its own
# indicator in one time-varying Cox model (robust SEs clustered on person, since a person now
# contributes several rows). We use the windows the simulator used. In one cohort each window
# estimate scatters around its truth with the printed CI (the first window holds the fewest
# events, so it scatters most); section 6 averages over many cohorts.

# %%
section("5. Estimating the effect by window: rw.hr_by_window")
rows = []
for name, effect in worlds.items():
    win = rw.hr_by_window(data[name], window_start_days=(0.0, 90.0, 365.0), covariates=COVARIATES)
    t = win.table[win.table["term"].str.startswith("window_")].copy()
    starts = np.array([0.0, 90.0, 365.0])
    t["true_hr"] = effect.hazard_ratio(starts)
    t.insert(0, "world", name)
    rows.append(t[["world", "term", "ratio", "ci_low", "ci_high", "true_hr"]])
windows = pd.concat(rows, ignore_index=True)
print(windows.round(3).to_string(index=False))

# %% [markdown]
# ## 6. Over many cohorts: size and power of the PH test, bias of the window HRs
#
# One cohort is one draw. We now simulate both worlds repeatedly at the size of the real
# Flatiron cohort (common random numbers again) and record how often the PH test of the
# matched Cox model rejects at the 5% level — its *size* in the constant world (it should be
# close to 5%) and its *power* in the transient one — and the geometric mean of each window HR.

# %%
section("6. Over many cohorts: size and power of the PH test, bias of the window HRs")
N_REP = 10_000 if SMOKE else preset.n
REPS = 2 if SMOKE else 40
seeds = np.random.SeedSequence(99).spawn(REPS)
records = []
for rep, child in enumerate(seeds):
    for name, effect in worlds.items():
        scenario = base.with_n(N_REP).with_effect(effect)
        frame = with_stage_indicators(
            rw.simulate_cohort(scenario, np.random.default_rng(child)).data
        )
        p_exposed = rw.ph_test(matched_cox(frame, seed=rep)).table["p_value"].iloc[0]
        win = rw.hr_by_window(frame, window_start_days=(0.0, 90.0, 365.0), covariates=COVARIATES)
        coefs = win.table.set_index("term")["coef"]
        records.append(
            {
                "world": name,
                "rep": rep,
                "ph_reject": p_exposed < 0.05,
                **{t: coefs[t] for t in coefs.index if t.startswith("window_")},
            }
        )
reps = pd.DataFrame(records)
window_terms = [c for c in reps.columns if c.startswith("window_")]
summary = reps.groupby("world").agg(
    ph_rejection_rate=("ph_reject", "mean"),
    **{f"gm HR {t[7:]}": (t, lambda x: float(np.exp(x.mean()))) for t in window_terms},
)
summary["reps"] = REPS
print(f"{REPS} cohorts of {N_REP:,} persons per world")
print(summary.round(3).to_string())
for name, effect in worlds.items():
    print(f"  true window HRs, {name}: {effect.describe()}")

# %% [markdown]
# With few replicates (smoke mode) these rates are very rough; with the default 40 the Monte
# Carlo SE of a rejection rate is at most `sqrt(0.25 / 40)`, about 0.08.

# %% [markdown]
# ## Exercises
#
# 1. **Per decade.** From `fit` (section 2), report the hazard ratio of age *per 10 years* with
#    its 95% CI, and the true value the simulator used.
# 2. **"No evidence against PH."** A colleague fits one HR to a cohort the size of the real one,
#    gets a PH test p-value of 0.3 and concludes that the effect of infection is constant over
#    time. What do you reply?

# %% [markdown] tags=["solution"]
# **Solution 1.** A CI for `exp(10 β)` is `exp(10 × (β ± 1.96 SE))`: rescale the coefficient
# and its SE, then exponentiate.

# %% tags=["solution"]
section("Solution to exercise 1: the HR of age per 10 years")
age = fit.row("age")
low, high = np.exp(10 * (age["coef"] + np.array([-1.96, 1.96]) * age["se"]))
print(
    f"age: HR per 10 years {np.exp(10 * age['coef']):.3f} (95% CI {low:.3f}-{high:.3f}); "
    f"true {np.exp(10 * truth['age']):.3f}"
)

# %% [markdown] tags=["solution"]
# **Solution 2.** Absence of evidence is not evidence of absence: section 6 prints how often the
# test detects the transient effect at the real cohort's size, and it is far from always. Test
# on the time scale where the effect should change (time since infection), show the window HRs
# (`rw.hr_by_window`) with their CIs, and let the reader judge whether a constant HR is
# compatible with them.

# %% [markdown]
# ## What to take away
#
# - A Cox hazard ratio is a per-unit multiplier of the hazard; rescale continuous covariates
#   (per 10 years) before you interpret them.
# - With day-resolution data Efron and Breslow agree; with coarse times use Efron (the
#   default) — Breslow's approximation pulls the estimate towards 1.
# - A single HR is an average over follow-up. Test proportionality, and test it on the time
#   scale on which the effect is expected to change: here time since infection, which the
#   matched design provides and the calendar-time model hides.
# - When the effect is transient, report it by window (`rw.hr_by_window`): the reported
#   UK Biobank association was also strongest in the first months after infection.
# - At the size of the real cohort the PH test can easily miss a transient effect (section 6
#   prints its power); "no evidence against PH" is not evidence of a constant effect.
