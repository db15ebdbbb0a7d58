"""Write the example registry extract used in docs/own-data.md (deterministic, seed 2025).

A simulated Flatiron-like cohort (reawaken's preset, 8,000 persons) written as the dated
tables a registry or EHR extract holds: patients (diagnosis, birth, stage as I-IV, HER2,
last contact, death date and cause), SARS-CoV-2 tests (several per person, positive, negative
or inconclusive) and lung metastases. A few records are made to need the builder's rules:
tests before the pandemic (prevalent exposure), metastases before it (prevalent outcome) and
a missing stage.

Run: python examples/own-data/make_example.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import reawaken as rw

HERE = Path(__file__).parent
ORIGIN = pd.Timestamp("2020-03-01")


def _date(days) -> pd.Series:
    return (ORIGIN + pd.to_timedelta(np.asarray(days, dtype=float), unit="D")).strftime("%Y-%m-%d")


def main() -> None:
    rng = np.random.default_rng(2025)
    scenario = rw.load_scenario("flatiron_lung_mets")
    c = rw.simulate_cohort(scenario, rng, n=8000).data
    n = len(c)
    last_day = c["event_day"].to_numpy() - 1
    dx = -rng.integers(30, 2000, n)
    died = c["event"].to_numpy() == 2
    patients = pd.DataFrame(
        {
            "patient_id": c["id"] + 100000,
            "diagnosis_date": _date(dx),
            "birth_date": _date(np.round(-c["age"].to_numpy() * 365.25)),
            "stage": c["stage"].map({1: "I", 2: "II", 3: "III", 4: "IV"}),
            "her2": c["her2"],
            "comorbidity": c["comorbidity"],
            "last_contact_date": _date(last_day),
            "death_date": np.where(died, _date(last_day), None),
            "death_cause": np.where(died, rng.choice(["breast cancer", "other"], n), None),
        }
    )
    patients.loc[rng.choice(n, 12, replace=False), "stage"] = None
    exposed = c[c["exposure_day"].notna()]
    tests = [
        pd.DataFrame(
            {
                "patient_id": exposed["id"] + 100000,
                "test_date": _date(exposed["exposure_day"]),
                "result": "positive",
            }
        )
    ]
    k = rng.poisson(1.2, n)
    who = np.repeat(np.arange(n), k)
    day = np.floor(rng.random(len(who)) * (last_day[who] + 1))
    before = np.isnan(c["exposure_day"].to_numpy()[who]) | (day < c["exposure_day"].to_numpy()[who])
    result = np.where(rng.random(len(who)) < 0.03, "inconclusive", "negative")
    tests.append(
        pd.DataFrame(
            {
                "patient_id": c["id"].to_numpy()[who][before] + 100000,
                "test_date": _date(day[before]),
                "result": result[before],
            }
        )
    )
    early = rng.choice(n, 25, replace=False)
    tests.append(
        pd.DataFrame(
            {
                "patient_id": c["id"].to_numpy()[early] + 100000,
                "test_date": _date(-rng.integers(1, 20, 25)),
                "result": "positive",
            }
        )
    )
    tests = pd.concat(tests).sort_values(["patient_id", "test_date"], kind="stable")
    mets = c[c["event"] == 1]
    metastases = pd.DataFrame(
        {"patient_id": mets["id"] + 100000, "metastasis_date": _date(mets["event_day"] - 1)}
    )
    prevalent = rng.choice(n, 6, replace=False)
    metastases = pd.concat(
        [
            metastases,
            pd.DataFrame(
                {
                    "patient_id": c["id"].to_numpy()[prevalent] + 100000,
                    "metastasis_date": _date(dx[prevalent] + 10),
                }
            ),
        ]
    ).sort_values("patient_id")
    patients.to_csv(HERE / "patients.csv", index=False)
    tests.to_csv(HERE / "covid_tests.csv", index=False)
    metastases.to_csv(HERE / "metastases.csv", index=False)


if __name__ == "__main__":
    main()
