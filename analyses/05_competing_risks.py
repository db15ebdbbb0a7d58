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
# # 05 · Competing risks: cancer death when other deaths come first
#
# **Learning goals**
#
# - Estimate the probability of one cause of death in the presence of others with the
#   Aalen–Johansen cumulative incidence function (CIF, `rw.cumulative_incidence`), and see why
#   1 − Kaplan–Meier overstates it.
# - Compare cumulative incidence between groups with Gray's test (`rw.gray_test`).
# - Tell apart the two regression questions: the **cause-specific** hazard ratio
#   (`rw.fit_cause_specific_cox`: how fast does cancer death happen among those still alive?)
#   and the **subdistribution** hazard ratio of Fine & Gray (`rw.fit_fine_gray`: how many
#   cancer deaths happen in the end?).
#
# **What you need to know first**: Kaplan–Meier (script 01), Cox models (script 02) and the
# matched design (script 04).
#
# The setting is the UK Biobank-like preset: cancer survivors tested for SARS-CoV-2, with
# cancer death as the outcome (code 1) and non-cancer death, including COVID-19 deaths, as the
# competing event (code 2). The reported analysis counted COVID-19 deaths as *not* cancer
# deaths — so infection can remove people before they could die of cancer.

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
FIGURE_DIR = Path(os.environ.get("REAWAKEN_FIGURES", "build/figures")) / "05_competing_risks"


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
# ## 1. The cohort and the matched arms
#
# We simulate the preset at its real size and build its published design: each test-positive
# survivor is matched on the day of the positive test to 4 test-negative survivors (negative
# test within 14 days, same sex, age within 5 years). Time is days since that index day, and
# every row ends in one of three ways: censored (0), cancer death (1), non-cancer death (2).

# %%
section("1. The cohort and the matched arms")
scenario = rw.load_scenario("ukb_cancer_mortality")
print(f"outcome: {scenario.outcome_label} (code 1); competing: {scenario.competing_label} (code 2)")
print(f"effect of infection on the cancer-death hazard: {scenario.effect.describe()}")
print(
    f"effect of infection on the non-cancer death hazard: "
    f"{scenario.death_after_infection.describe()}"
)
cohort = rw.simulate_cohort(scenario, np.random.default_rng(20250730))
print(cohort.summary())


def matched_arms(frame, scenario, seed):
    """The preset's exposure-density matched sets, with an `arm` label column."""
    d = scenario.design
    sets = rw.match_exposure_density(
        frame,
        rng=np.random.default_rng(seed),
        controls=d.controls,
        exact=list(d.exact),
        caliper=dict(d.caliper),
        test_window_days=d.test_window_days,
    )
    arm = np.where(sets.data["exposed"] == 1, "test-positive", "test-negative")
    return sets, sets.data.assign(arm=pd.Categorical(arm, ["test-negative", "test-positive"]))


matched, arms = matched_arms(cohort.data, scenario, seed=6)
print(matched.report.summary())
counts = pd.crosstab(
    arms["arm"], arms["event"].map({0: "censored", 1: "cancer death", 2: "non-cancer death"})
)
print(counts.to_string())

# %% [markdown]
# ## 2. Cumulative incidence vs 1 − Kaplan–Meier
#
# KM for cancer death treats a non-cancer death as censoring: as if that person could still die
# of cancer later. 1 − KM then estimates the risk of cancer death *in a world where nobody
# dies of anything else* — not the risk our patients face. The Aalen–Johansen CIF instead adds
# up, over time, `S(t-) * d1(t) / n(t)`: the probability of being alive (free of *any* event)
# just before `t`, times the cancer-death hazard at `t`. The CIFs of all causes plus the
# all-cause survival add up to 1; the "1 − KM" of each cause add up to more than that.

# %%
section("2. Cumulative incidence vs 1 − Kaplan–Meier")
TIMES = [180, 365, 730]
rows = []
for cause, label in [(1, "cancer death"), (2, "non-cancer death")]:
    cif = rw.cumulative_incidence(arms, duration="time", event="event", cause=cause, group="arm")
    km = rw.kaplan_meier(arms, duration="time", event="event", cause=cause, group="arm")
    at = cif.cif_at(TIMES)
    at["one_minus_km"] = 1 - km.survival_at(TIMES)["survival"].to_numpy()
    at.insert(0, "cause", label)
    rows.append(at)
compare = pd.concat(rows, ignore_index=True)
compare["overstatement"] = compare["one_minus_km"] / compare["cif"] - 1
print(
    compare[
        ["cause", "group", "time", "n_at_risk", "cif", "one_minus_km", "overstatement"]
    ].to_string(
        index=False,
        formatters={
            "cif": "{:.4f}".format,
            "one_minus_km": "{:.4f}".format,
            "overstatement": "{:+.1%}".format,
        },
    )
)

# %%
cif_cancer = rw.cumulative_incidence(
    arms, duration="time", event="event", cause=1, group="arm", times=[0, 180, 365, 545, 730]
)
km_cancer = rw.kaplan_meier(arms, duration="time", event="event", cause=1, group="arm")
print("Numbers at risk by days since index:")
print(cif_cancer.at_risk.pivot(index="group", columns="time", values="n_at_risk").to_string())
fig, ax = plt.subplots(figsize=(6, 3.6), layout="constrained")
for i, group in enumerate(cif_cancer.groups):
    cif_tab = cif_cancer.table[cif_cancer.table["group"] == group]
    km_tab = km_cancer.table[km_cancer.table["group"] == group]
    ax.step(cif_tab["time"], cif_tab["cif"], where="post", color=f"C{i}", label=f"{group}: CIF")
    ax.fill_between(
        cif_tab["time"], cif_tab["ci_low"], cif_tab["ci_high"], step="post", color=f"C{i}",
        alpha=0.15, lw=0,
    )
    ax.step(km_tab["time"], 1 - km_tab["survival"], where="post", color=f"C{i}", ls="--",
            lw=1.0, label=f"{group}: 1 − KM")
top = max((1 - km_cancer.table["survival"]).max(), cif_cancer.table["ci_high"].max())
ax.set_ylim(0, 1.1 * top)
ax.set(xlabel="Days since index (positive test)", ylabel="Cumulative incidence",
       title="Cancer death: Aalen–Johansen CIF (solid) vs 1 − KM (dashed)")
ax.legend(frameon=False, loc="upper left", fontsize=8)
show(fig, "cif_vs_km_cancer_death")

# %% [markdown]
# Here competing deaths are not very common over the matched follow-up, so the overstatement
# is modest; section 5 shows a cohort where it is not.
#
# ## 3. Gray's test
#
# The log-rank test on the cause-specific hazard asks whether the *rate* of cancer death among
# those still alive differs; Gray's test asks whether the *cumulative incidence* differs. When
# one arm also dies more of other causes (COVID-19 after a positive test), fewer of its
# members remain to die of cancer, and the two tests can disagree.

# %%
for cause in (1, 2):
    print(rw.gray_test(arms, duration="time", event="event", cause=cause, group="arm").summary())
    print(
        rw.logrank(
            arms, duration="time", event="event", cause=cause, group="arm", strata="set_id"
        ).summary()
    )
    print()

# %% [markdown]
# ## 4. Cause-specific Cox vs Fine–Gray
#
# - The **cause-specific Cox model** censors other causes; its HR is the effect on the
#   cancer-death hazard among people still alive. It is the etiological question ("does
#   infection accelerate cancer death?") and the one the reported OR approximates.
# - The **Fine–Gray model** keeps people who died of other causes in the risk set (with
#   weights for censoring), so its subdistribution HR describes the effect on the cumulative
#   incidence: the prognostic question ("how many more cancer deaths?"). If infection also
#   raises non-cancer death, it removes people who could have died of cancer, and the
#   subdistribution HR of cancer death falls below the cause-specific one.
#
# The matched sets are analysed here without stratification, adjusting for the matching
# variables instead, so both models see the same data (Fine–Gray SEs are clustered on person).

# %%
section("4. Cause-specific Cox vs Fine–Gray")
COVARIATES = ["exposed", "age", "female", "comorbidity"]
rows = []
for cause, label in [(1, "cancer death"), (2, "non-cancer death")]:
    cs = rw.fit_cause_specific_cox(
        arms, duration="time", event="event", cause=cause, covariates=COVARIATES, robust=True
    )
    fg = rw.fit_fine_gray(arms, duration="time", event="event", cause=cause, covariates=COVARIATES)
    for model_label, model in [("cause-specific HR", cs), ("subdistribution HR", fg)]:
        r = model.row("exposed")
        rows.append(
            {
                "cause": label,
                "model": model_label,
                "HR": r["ratio"],
                "ci_low": r["ci_low"],
                "ci_high": r["ci_high"],
                "p": r["p_value"],
                "events": model.events,
            }
        )
models = pd.DataFrame(rows)
print(models.to_string(index=False, float_format=lambda v: f"{v:.3g}"))

# %% [markdown]
# One cohort of this size is one noisy draw: the preset is calibrated so that the matched OR
# averages the reported 1.85 over many cohorts, but single cohorts scatter widely around it
# (script 07 shows the whole sampling distribution).
#
# ## 5. A frailer cohort: when competing deaths are common
#
# To see the two phenomena clearly, make non-cancer death six times more common at baseline
# (an older, sicker cohort), keeping everything else. A scenario is a frozen dataclass, so
# `dataclasses.replace` makes the changed copy: the baseline hazard of competing death
# (`scenario.death.baseline`, a constant Gompertz hazard here) gets six times its rate.

# %%
section("5. A frailer cohort: when competing deaths are common")
death = scenario.death
frailer_baseline = dataclasses.replace(
    death.baseline, rate_per_day=6 * death.baseline.rate_per_day
)
frail = dataclasses.replace(scenario, death=dataclasses.replace(death, baseline=frailer_baseline))
print(f"baseline non-cancer death: {death.baseline} -> {frail.death.baseline}")
frail = frail.with_n(scenario.n if SMOKE else 4 * scenario.n)
frail_cohort = rw.simulate_cohort(frail, np.random.default_rng(7))
print(frail_cohort.summary())
_, frail_arms = matched_arms(frail_cohort.data, frail, seed=8)

cif = rw.cumulative_incidence(frail_arms, duration="time", event="event", cause=1, group="arm")
km = rw.kaplan_meier(frail_arms, duration="time", event="event", cause=1, group="arm")
at = cif.cif_at(TIMES)
at["one_minus_km"] = 1 - km.survival_at(TIMES)["survival"].to_numpy()
at["overstatement"] = at["one_minus_km"] / at["cif"] - 1
print(
    at[["group", "time", "cif", "one_minus_km", "overstatement"]].to_string(
        index=False,
        formatters={
            "cif": "{:.4f}".format,
            "one_minus_km": "{:.4f}".format,
            "overstatement": "{:+.1%}".format,
        },
    )
)
cs = rw.fit_cause_specific_cox(
    frail_arms, duration="time", event="event", cause=1, covariates=COVARIATES, robust=True
)
fg = rw.fit_fine_gray(frail_arms, duration="time", event="event", cause=1, covariates=COVARIATES)
print(
    f"cancer death, exposed: cause-specific HR {cs.row('exposed')['ratio']:.2f} "
    f"({cs.row('exposed')['ci_low']:.2f}-{cs.row('exposed')['ci_high']:.2f}); "
    f"subdistribution HR {fg.row('exposed')['ratio']:.2f} "
    f"({fg.row('exposed')['ci_low']:.2f}-{fg.row('exposed')['ci_high']:.2f})"
)

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True, layout="constrained")
for ax, (label, data) in zip(
    axes, [("preset cohort", arms), ("frail cohort", frail_arms)], strict=True
):
    c = rw.cumulative_incidence(data, duration="time", event="event", cause=1, group="arm")
    k = rw.kaplan_meier(data, duration="time", event="event", cause=1, group="arm")
    for i, group in enumerate(c.groups):
        ct = c.table[c.table["group"] == group]
        kt = k.table[k.table["group"] == group]
        ax.plot(ct["time"], ct["cif"], drawstyle="steps-post", color=f"C{i}", label=f"{group}: CIF")
        ax.plot(
            kt["time"],
            1 - kt["survival"],
            drawstyle="steps-post",
            color=f"C{i}",
            ls="--",
            label=f"{group}: 1 − KM",
        )
    ax.set_title(label)
    ax.set_xlabel("days since index")
axes[0].set_ylabel("probability of cancer death")
axes[1].legend(frameon=False, loc="upper left", fontsize=8)
show(fig, "cif_vs_km_preset_and_frail")

# %% [markdown]
# ## Exercises
#
# 1. **Everything adds up.** At 730 days, in each arm of the preset cohort, check that the
#    cumulative incidence of cancer death plus that of non-cancer death plus the all-cause
#    Kaplan–Meier survival equals 1. Why does `1 − KM` of each cause not add up the same way?
# 2. **Which model for which question?** A patient asks "if I test positive, how likely am I to
#    die of my cancer in the next two years?"; a biologist asks "does infection speed up the
#    cancer?". Which model of section 4 answers each?

# %% [markdown] tags=["solution"]
# **Solution 1.** Aalen–Johansen splits the all-cause risk `1 − S(t)` exactly between the
# causes, so the three columns sum to 1. Each cause's `1 − KM` treats the other cause as
# censoring, i.e. pretends that those persons could still die of this cause later: the two
# `1 − KM` values add up to more than `1 − S(t)`.

# %% tags=["solution"]
section("Solution to exercise 1: the cumulative incidences and survival add up to 1")
t = [730.0]
check = rw.cumulative_incidence(arms, duration="time", event="event", cause=1, group="arm").cif_at(t)
check = check[["group", "cif"]].rename(columns={"cif": "cif_cancer"})
check["cif_other"] = rw.cumulative_incidence(
    arms, duration="time", event="event", cause=2, group="arm"
).cif_at(t)["cif"].to_numpy()
check["survival_all_causes"] = rw.kaplan_meier(
    arms, duration="time", event="event", group="arm"
).survival_at(t)["survival"].to_numpy()
check["sum"] = check[["cif_cancer", "cif_other", "survival_all_causes"]].sum(axis=1)
check["sum of 1 - KM by cause"] = sum(
    1 - rw.kaplan_meier(arms, duration="time", event="event", cause=c, group="arm")
    .survival_at(t)["survival"].to_numpy()
    for c in (1, 2)
)
check["1 - survival"] = 1 - check["survival_all_causes"]
print(check.round(5).to_string(index=False))

# %% [markdown] tags=["solution"]
# **Solution 2.** The patient's question is about the probability of an event in a world where
# other deaths happen: the cumulative incidence, modelled by Fine–Gray (subdistribution HR).
# The biologist's is about the rate of cancer death among those still alive: the
# cause-specific hazard, modelled by the cause-specific Cox model.

# %% [markdown]
# ## What to take away
#
# - With competing deaths, 1 − KM answers a question about a world without them and
#   overstates the real risk; the Aalen–Johansen CIF is the probability a patient actually
#   faces. The overstatement grows with the share of competing deaths and with time.
# - Gray's test compares cumulative incidences; the (stratified) log-rank test compares
#   cause-specific hazards. Say which one you mean.
# - Cause-specific HR (etiology: the rate among the living) and subdistribution HR (prognosis:
#   the final incidence) differ when the exposure also changes the competing hazard — as
#   SARS-CoV-2 infection does for non-cancer death. Report cause-specific HRs for both causes,
#   or both kinds of model, so readers can tell the two apart.
