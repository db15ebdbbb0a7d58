"""OMOP route: bad input gives one line naming the table/column/concept and the fix (never a
password); the CLI writes and extracts."""

from __future__ import annotations

import json
import re
from importlib import resources

import duckdb
import numpy as np
import pandas as pd
import pytest

import reawaken as rw
from reawaken.cli import main
from reawaken.errors import AnalysisError, InputFileError
from reawaken.omop import connect, day_rounded, extract_cohort, load_study, mask_url, write_omop

STUDY = "ukb_cancer_mortality"


@pytest.fixture(scope="module")
def cdm(tmp_path_factory):
    """A small UK Biobank-like CDM in DuckDB."""
    scenario = rw.load_scenario(STUDY)
    cohort = day_rounded(rw.simulate_cohort(scenario, np.random.default_rng(2), n=800).data)
    path = tmp_path_factory.mktemp("cdm") / "synth.duckdb"
    write_omop(cohort, load_study(STUDY), str(path))
    return path, cohort


def _copy_with(cdm_path, tmp_path, statement: str):
    target = tmp_path / "edited.duckdb"
    target.write_bytes(cdm_path.read_bytes())
    con = duckdb.connect(str(target))
    con.execute(statement)
    con.close()
    return str(target)


def test_missing_table_and_column(cdm, tmp_path):
    path, _ = cdm
    no_death = _copy_with(path, tmp_path, "DROP TABLE death")
    with pytest.raises(InputFileError, match=r"has no table 'death' \(CDM v5\.4\).*fix:"):
        extract_cohort(no_death, STUDY)
    no_cause = _copy_with(path, tmp_path, "ALTER TABLE death DROP COLUMN cause_concept_id")
    with pytest.raises(InputFileError, match=r"table death has no column cause_concept_id.*fix:"):
        extract_cohort(no_cause, STUDY)


def _study_file(tmp_path, old: str, new: str):
    text = (resources.files("reawaken.omop") / "studies" / f"{STUDY}.toml").read_text()
    assert old in text
    file = tmp_path / "study.toml"
    file.write_text(text.replace(old, new))
    return file


def test_unknown_concept_and_no_qualifying_person(cdm, tmp_path):
    path, _ = cdm
    study = _study_file(tmp_path, "conditions = [443392]", "conditions = [443392, 99999999]")
    with pytest.raises(InputFileError, match=r"99999999 \(population\.conditions\).*fix:"):
        extract_cohort(str(path), str(study))
    empty = _study_file(
        tmp_path, "[population]\nconditions = [443392]", "[population]\nconditions = [32817]"
    )
    with pytest.raises(AnalysisError, match=r"no person of the CDM qualifies.*800 persons, 0 with"):
        extract_cohort(str(path), str(empty))


def test_bad_targets_and_masked_password(tmp_path):
    with pytest.raises(InputFileError, match=r"unsupported database 'mysql://u:\*\*\*@h/db'"):
        connect("mysql://u:pw123@h/db")
    with pytest.raises(InputFileError, match=r"no DuckDB database at .*missing\.duckdb; fix:"):
        connect(str(tmp_path / "missing.duckdb"))
    with pytest.raises(InputFileError, match="not a DuckDB file name"):
        connect(str(tmp_path / "cohort.csv"))
    assert mask_url("postgresql://ann:pa:ss@h:5432/db") == "postgresql://ann:***@h:5432/db"
    url = f"postgresql://ann:hunter2@/db?host={tmp_path}"  # no server on this socket folder
    with pytest.raises(InputFileError) as info:
        connect(url)
    assert "hunter2" not in str(info.value) and "ann:***@" in str(info.value)
    assert "fix:" in str(info.value) and "\n" not in str(info.value)


def test_writer_rejects_what_a_cdm_cannot_hold(cdm, tmp_path):
    _, cohort = cdm
    study = load_study(STUDY)
    with pytest.raises(AnalysisError, match="not at day resolution"):
        write_omop(
            cohort.assign(exposure_day=cohort["exposure_day"] + 0.5),
            study,
            str(tmp_path / "x.duckdb"),
        )
    with pytest.raises(AnalysisError, match="no column female"):
        write_omop(cohort.drop(columns="female"), study, str(tmp_path / "x.duckdb"))
    assert not (tmp_path / "x.duckdb").exists()


def test_postgres_refuses_to_overwrite(cdm, postgres_url):
    _, cohort = cdm
    study = load_study(STUDY)
    write_omop(cohort, study, postgres_url, db_schema="twice", replace=True)
    with pytest.raises(InputFileError, match=r"already has CDM table\(s\) person.*--replace"):
        write_omop(cohort, study, postgres_url, db_schema="twice")
    with pytest.raises(InputFileError, match=r"has no table 'person'.*in schema nowhere"):
        extract_cohort(postgres_url, STUDY, db_schema="nowhere")


def test_cli_write_then_extract(tmp_path, capsys):
    db = tmp_path / "synth.duckdb"
    assert (
        main(
            [
                "omop",
                "write",
                "--scenario",
                STUDY,
                "--seed",
                "4",
                "--n",
                "500",
                "--out",
                str(db),
                "--json",
            ]
        )
        == 0
    )
    written = json.loads(capsys.readouterr().out)
    assert written["rows"]["person"] == 500
    out = tmp_path / "cohort.parquet"
    assert main(["omop", "extract", "--db", str(db), "--study", STUDY, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert re.search(r"persons in the CDM person table\s+500", text)
    assert "cohort: 500 persons" in text
    cohort = rw.read_cohort(out)
    expected = day_rounded(
        rw.simulate_cohort(rw.load_scenario(STUDY), np.random.default_rng(4), n=500).data
    )
    np.testing.assert_array_equal(cohort["event_day"], expected["event_day"])
    flow = pd.read_csv(tmp_path / "cohort_flow.csv")
    assert flow["description"].iloc[0] == "persons in the CDM person table"
    assert (
        main(
            [
                "omop",
                "extract",
                "--db",
                str(tmp_path / "nope.duckdb"),
                "--study",
                STUDY,
                "--out",
                str(out),
            ]
        )
        == 2
    )
    assert "no DuckDB database" in capsys.readouterr().err
