"""Tests for the ``regions`` and ``hierarchy`` subcommands (strukturbild.cli.regions).

They run the real command line, :func:`strukturbild.cli.main`, on small CSV files and
check exit codes (0 success, 2 bad input) and the files written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import pytest

from strukturbild.cli import main
from strukturbild.cli import regions as _cli_regions

# The SCB LA toy of test_regions (without the zero unit): LA C1 {C1, S1, S2, S3, S4, T}
# (the 4-link chain S4 -> S3 -> S2 -> S1 -> C1 kept whole), Q {P, Q} (a pair of centres),
# I {I}; with --max-chain 3 the chain is cut at S2 -> S1.
FLOWS_CSV = """origin;destination;antal
C1;C1;950
C1;S1;50
S1;S1;60
S1;C1;40
S2;S2;85
S2;S1;15
S3;S3;70
S3;S2;30
S4;S4;75
S4;S3;25
T;T;50
T;C1;25
T;I;25
P;P;50
P;Q;50
Q;Q;60
Q;P;40
I;I;100
"""


@pytest.fixture
def flows_csv(tmp_path: Path) -> Path:
    p = tmp_path / "pendling.csv"
    p.write_text(FLOWS_CSV, encoding="utf-8")
    return p


def run(*argv: str | Path) -> int:
    return main([str(a) for a in argv])


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_regions_scb_la(flows_csv: Path, tmp_path: Path,
                        capsys: pytest.CaptureFixture[str]) -> None:
    out, stats = tmp_path / "out" / "assignment.csv", tmp_path / "stats.csv"
    code = run("regions", flows_csv, "--method", "scb-la", "--count", "antal",
               "--output", out, "--stats", stats)
    assert code == 0
    a = read(out)
    assert list(a.columns) == ["unit", "region", "status", "step", "links", "target",
                               "out_share", "top_share"]
    assert dict(zip(a["unit"], a["region"], strict=True)) == {
        "C1": "C1", "I": "I", "P": "Q", "Q": "Q", "S1": "C1", "S2": "C1", "S3": "C1",
        "S4": "C1", "T": "C1"}
    # SCB's step codes: 11 centres (P and Q as a pair), 20/30/50/70 by links
    assert dict(zip(a["unit"], a["step"], strict=True)) == {
        "C1": "11", "I": "11", "P": "11", "Q": "11", "S1": "20", "S2": "30", "S3": "50",
        "S4": "70", "T": "20"}
    assert a.set_index("unit").loc["S2", "target"] == "S1"
    assert a.set_index("unit").loc["I", "target"] == ""
    assert set(a["status"]) == {"assigned"}
    s = read(stats)
    assert list(s.columns) == ["region", "name", "residents", "jobs", "internal",
                               "sc_supply", "sc_demand", "validity", "n_units", "leader"]
    assert s["region"].tolist() == ["C1", "I", "Q"]
    assert s.set_index("region").loc["C1", "residents"] == "1500.0"
    err = capsys.readouterr().err
    assert "3 regions from 9 units (scb-la)" in err
    assert "SCB step codes: 11: 4, 20: 2, 30: 1, 50: 1, 70: 1" in err
    # no temporary files left beside the outputs
    assert sorted(p.name for p in out.parent.iterdir()) == ["assignment.csv"]


@pytest.mark.parametrize("spelling", ["scb_la", "SCB-LA"])
def test_regions_scb_la_either_spelling(flows_csv: Path, tmp_path: Path,
                                        spelling: str) -> None:
    out = tmp_path / "a.csv"
    assert run("regions", flows_csv, "--method", spelling, "--count", "antal", "--output",
               out, "-q") == 0
    assert read(out)["step"].tolist()[:2] == ["11", "11"]


def test_regions_scb_la_parameters(flows_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "a.csv"
    assert run("regions", flows_csv, "--method", "scb-la", "--count", "antal",
               "--max-chain", "3", "--output", out, "-q") == 0
    a = read(out).set_index("unit")
    assert set(a.loc[["S2", "S3", "S4"], "region"]) == {"S2"}
    assert a.loc[["S2", "S3", "S4"], "step"].tolist() == ["11", "20", "30"]


def test_regions_help_shows_defaults_from_the_params_classes(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert run("regions", "--help") == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--max-outflow X largest share of employed residents working in other units " \
        "for a centre (default: 0.2)" in text
    assert "(default: 0.6667)" in text and "(default: 0.15)" in text
    assert "--max-chain N" in text and "--multiple" in text and "--core-job-shares X,X" in text


def test_regions_commuting_zone(flows_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "cz.csv"
    # S1 sends 40 % to C1; T 25 % to C1 and 25 % to I (tie -> C1, more jobs);
    # S2 sends 15 % to S1 (not a core) -> alone
    assert run("regions", flows_csv, "--method", "commuting-zone", "--cores", "C1, I",
               "--count", "antal", "--output", out) == 0
    a = read(out).set_index("unit")["region"]
    assert a["S1"] == "C1" and a["T"] == "C1" and a["S2"] == "S2" and a["I"] == "I"


# Region Halland-style zones (the hand-worked toy of test_regions): cores by their
# share of all jobs, zones at 10 %, several memberships, a core nobody joins merged.
HALLAND_CSV = """origin,destination,count
A,A,600
B,B,250
C,C,60
C,B,10
u,u,20
u,A,15
u,B,10
v,v,30
v,A,10
"""


def test_regions_commuting_zone_halland_style(tmp_path: Path) -> None:
    p = tmp_path / "f.csv"
    p.write_text(HALLAND_CSV, encoding="utf-8")
    out, ext = tmp_path / "z.csv", tmp_path / "ext.csv"
    assert run("regions", p, "--method", "commuting_zone", "--core-job-shares",
               "0.5,0.2,0.05", "--share", "0.1", "--multiple", "--merge-invalid",
               "--external-min-flow", "15", "--output", out, "--external", ext, "-q") == 0
    a = read(out).set_index("unit")
    assert list(a.columns) == ["region", "status", "regions", "share", "level"]
    assert a["region"].to_dict() == {"A": "A", "B": "B", "C": "B", "u": "A", "v": "A"}
    assert a.loc["u", "regions"] == "A;B"
    assert a["level"].to_dict() == {"A": "1", "B": "2", "C": "3", "u": "", "v": ""}
    e = read(ext)
    assert list(e.columns) == ["region", "unit", "sent", "received"]
    assert [tuple(r) for r in e.itertuples(index=False)] == [("B", "A", "15.0", "0.0")]


# Halland beside Göteborg, the hand-worked toy of test_regions: H, K, L, O, h, k inside
# the region; G, g and e outside.
REGION_CSV = """origin,destination,count
G,G,40000
g,g,50
g,G,50
e,e,30
e,H,10
H,H,900
K,K,300
K,G,150
K,H,10
L,L,90
L,H,30
O,O,40
O,G,60
O,K,20
O,H,15
h,h,20
h,H,30
h,L,10
k,k,20
k,K,25
k,G,15
"""
ZONE_ARGS = ["--method", "commuting-zone", "--core-job-shares", "0.5,0.2,0.025",
             "--share", "0.1", "--multiple", "--merge-invalid"]


@pytest.mark.parametrize("units", ["file", "csv", "list"])
def test_regions_zones_with_job_shares_of_the_region(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], units: str) -> None:
    p = tmp_path / "f.csv"
    p.write_text(REGION_CSV, encoding="utf-8")
    if units == "file":  # one id per line
        (tmp_path / "halland.txt").write_text("H\nK\nL\nO\nh\nk\n", encoding="utf-8")
        given = str(tmp_path / "halland.txt")
    elif units == "csv":  # a table with a column unit, e.g. an earlier assignment
        (tmp_path / "halland.csv").write_text(
            "name,unit\nHalmstad,H\nKungsbacka,K\nLaholm,L\nOnsala,O\nx,h\ny,k\n",
            encoding="utf-8")
        given = str(tmp_path / "halland.csv")
    else:
        given = "H,K,L,O,h,k"
    out = tmp_path / "z.csv"
    assert run("regions", p, *ZONE_ARGS, "--share-of", "region", "--region-units", given,
               "--output", out) == 0
    a = read(out).set_index("unit")
    assert a["region"].to_dict() == {"G": "", "H": "H", "K": "K", "L": "L", "O": "K",
                                     "e": "H", "g": "", "h": "H", "k": "K"}
    assert a["status"].to_dict()["G"] == "excluded"
    assert a["level"].to_dict() == {"G": "", "H": "1", "K": "2", "L": "3", "O": "3",
                                    "e": "", "g": "", "h": "", "k": ""}
    assert "3 regions from 9 units (commuting-zone); 2 excluded" in capsys.readouterr().err
    # of all jobs, only Göteborg is a core
    assert run("regions", p, *ZONE_ARGS, "--output", out, "-q") == 0
    assert set(read(out)["region"]) == {"G", "H", "L", "e", "h"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--share-of", "region"], "share_of = 'region' needs region_units"),
        (["--region-units", "H,K"], "region_units applies to share_of = 'region'"),
        (["--share-of", "region", "--region-units", "H,X9"],
         "region unit 'X9' is not a unit of the flows"),
        (["--share-of", "county", "--region-units", "H"], "invalid choice: 'county'"),
        (["--share-of", "region", "--region-units", "nowhere/halland.txt"],
         "file not found: nowhere/halland.txt"),
        (["--share-of", "region", "--region-units", "EMPTY"], "no unit ids"),
    ],
    ids=["no-units", "units-without-region", "unknown-unit", "bad-share-of",
         "missing-file", "empty-file"],
)
def test_regions_zones_of_the_region_bad_input_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
        message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "f.csv").write_text(REGION_CSV, encoding="utf-8")
    (tmp_path / "empty.txt").write_text("\n", encoding="utf-8")
    args = [a.replace("EMPTY", "empty.txt") for a in args]
    assert run("regions", "f.csv", *ZONE_ARGS, *args, "--output", "z.csv") == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "z.csv").exists()


def test_regions_output_may_not_overwrite_the_units_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "f.csv"
    p.write_text(REGION_CSV, encoding="utf-8")
    units = tmp_path / "halland.txt"
    units.write_text("H\nK\nL\nO\nh\nk\n", encoding="utf-8")
    assert run("regions", p, *ZONE_ARGS, "--share-of", "region", "--region-units", units,
               "--output", units) == 2
    assert units.read_text(encoding="utf-8") == "H\nK\nL\nO\nh\nk\n"
    assert "halland.txt" in capsys.readouterr().err


def test_regions_nodal(flows_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "n.csv"
    assert run("regions", flows_csv, "--method", "nodal", "--k", "1", "--count", "antal",
               "--output", out) == 0
    a = read(out)
    assert len(a) == 9 and set(a["status"]) == {"assigned"}


def test_regions_lma_with_excluded_unit(tmp_path: Path) -> None:
    p = tmp_path / "f.csv"
    # the hand-checked LMA toy of test_regions, plus X: residents but no jobs, no self
    p.write_text("origin,destination,count\n"
                 "0101,0101,900\n0101,0102,80\n0102,0102,700\n0102,0101,150\n"
                 "0103,0103,800\n0103,0104,40\n0104,0104,30\n0104,0103,90\n0101,0103,20\n"
                 "0199,0103,5\n", encoding="utf-8")
    out, stats = tmp_path / "a.csv", tmp_path / "s.csv"
    assert run("regions", p, "--method", "lma", "--min-size", "500",
               "--min-self-containment", "0.6", "--target-size", "1000",
               "--target-self-containment", "0.7", "--output", out, "--stats", stats) == 0
    a = read(out).set_index("unit")
    assert a["region"].to_dict() == {"0101": "0101", "0102": "0102", "0103": "0103",
                                     "0104": "0103", "0199": ""}
    assert a.loc["0199", "status"] == "excluded"
    s = read(stats).set_index("region")
    assert float(str(s.loc["0101", "validity"])) == pytest.approx(0.7 / 0.6)


def test_hierarchy(tmp_path: Path) -> None:
    p = tmp_path / "f.csv"
    # the Nystuen–Dacey toy of test_dominant
    p.write_text("from,to,n\nS,S,1000\na,T,40\na,S,10\nb,T,30\nT,S,50\nT,a,5\nc,S,20\n"
                 "c,b,3\nd,c,7\nS,T,2\n", encoding="utf-8")
    edges, units = tmp_path / "e.csv", tmp_path / "u.csv"
    assert run("hierarchy", p, "--origin", "from", "--destination", "to", "--count", "n",
               "--output", edges, "--units", units) == 0
    e = read(edges)
    assert list(e.columns) == ["origin", "destination", "count"]
    assert set(zip(e["origin"], e["destination"], strict=True)) == {
        ("a", "T"), ("b", "T"), ("T", "S"), ("c", "S")}
    u = read(units).set_index("unit")
    assert list(u.columns) == ["inflow", "outflow", "indegree", "outdegree", "class", "head"]
    assert u["class"].to_dict() == {"S": "dominant", "T": "intermediary", "a": "dominated",
                                    "b": "dominated", "c": "dominated", "d": "isolated"}
    assert u["head"].to_dict() == {"S": "S", "T": "S", "a": "S", "b": "S", "c": "S",
                                   "d": "d"}
    assert u.loc["S", "inflow"] == "80.0"
    # a larger k: T -> S (80/72) is dropped
    assert run("hierarchy", p, "--origin", "from", "--destination", "to", "--count", "n",
               "--k", "1.2", "--output", edges) == 0
    assert ("T", "S") not in set(zip(read(edges)["origin"], read(edges)["destination"],
                                     strict=True))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--method", "nodal", "--min-size", "5"], "--min-size does not apply"),
        (["--method", "commuting-zone"], "needs --cores"),
        (["--method", "commuting-zone", "--cores", "C1", "--core-job-shares", "0.2"],
         "not both"),
        (["--method", "nodal", "--external", "x.csv"], "--external needs"),
        (["--method", "scb-la", "--share", "0.1"], "--share does not apply to --method scb-la"),
        (["--method", "commuting-zone", "--cores", "XX"], "core 'XX'"),
        (["--method", "lma", "--min-size", "20000"], "min_size <= target_size"),
        (["--method", "scb-la", "--max-chain", "0"], "max_chain"),
        (["--method", "nodal", "--k", "0"], "k must be"),
        (["--method", "scb-la", "--count", "count"], "column 'count'"),
    ],
    ids=["param-not-for-method", "no-cores", "cores-and-shares", "external-without-min",
         "share-for-scb-la", "unknown-core", "min-above-target",
         "max-chain-zero", "k-zero", "missing-column"],
)
def test_regions_bad_input_exit_2(flows_csv: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str], args: list[str],
                                  message: str) -> None:
    out = tmp_path / "a.csv"
    argv = ["regions", str(flows_csv), *args, "--output", str(out)]
    if "--count" not in args:
        argv += ["--count", "antal"]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_regions_without_self_flows_exit_2(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "f.csv"
    p.write_text("origin,destination,count\nA,B,5\nB,A,3\n", encoding="utf-8")
    assert run("regions", p, "--method", "scb-la", "--output", tmp_path / "a.csv") == 2
    assert "intra-unit flows" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("origin,destination,count\nA,B,-5\nB,A,3\n", "negative"),
        ("origin,destination,count\nA,B,x\n", "not a number"),
        ("origin,destination,count\n", "no rows"),
        ("origin,destination,count\nA,B,1\nA,B,2\n", "more than once"),
    ],
    ids=["negative-count", "text-count", "empty", "duplicate-pair"],
)
def test_hierarchy_bad_flows_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    content: str, message: str) -> None:
    p = tmp_path / "f.csv"
    p.write_text(content, encoding="utf-8")
    edges = tmp_path / "e.csv"
    assert run("hierarchy", p, "--output", edges) == 2
    assert message in capsys.readouterr().err
    assert not edges.exists()


def test_missing_file_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("hierarchy", tmp_path / "nope.csv", "--output", tmp_path / "e.csv") == 2
    assert "file not found" in capsys.readouterr().err
    assert run("regions", tmp_path / "nope.csv", "--output", tmp_path / "a.csv") == 2


def test_usage_errors_exit_2(flows_csv: Path, tmp_path: Path) -> None:
    # argparse: unknown method, missing --output
    assert run("regions", flows_csv, "--method", "kmeans", "--output", tmp_path / "a") == 2
    assert run("hierarchy", flows_csv) == 2


def test_register_adds_both_subcommands() -> None:
    p = argparse.ArgumentParser()
    _cli_regions.register(p.add_subparsers(dest="command"))
    args = p.parse_args(["regions", "f.csv", "--output", "a.csv", "--cores", "A,B"])
    assert args.method == "lma" and args.cores == ("A", "B") and args.func is not None
    assert args.origin == "origin" and args.count == "count" and args.stats is None
    h = p.parse_args(["hierarchy", "f.csv", "--output", "e.csv"])
    assert h.k == 1.0 and h.units is None


# -- red team after issue 15: ids with invisible characters ------------------------------

@pytest.mark.parametrize("code", ["Ö\x1b[31mred", "A\u202eB", "U\n1", "U\x851"])
def test_an_id_with_an_invisible_character_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], code: str) -> None:
    # 0.2.0 wrote the unit "Ö\x1b[31mred" into the assignment CSV as it was, for the
    # terminal that shows the file to run; ids are refused (names are cleaned)
    rows = [("U0", "U0", 900), ("U1", "U1", 800), (code, code, 700), (code, "U0", 300),
            ("U0", "U1", 100)]
    flows = tmp_path / "flows.csv"
    pd.DataFrame(rows, columns=["origin", "destination", "count"]).to_csv(flows, index=False)
    out = tmp_path / "regions.csv"
    assert main(["regions", str(flows), "--output", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"strukturbild: error: {flows}: column 'origin', row 3: code ")
    assert f"holds the invisible character U+{ord(code[1]):04X}" in err
    assert "\x1b" not in err and "\u202e" not in err and "\n" not in err
    assert not out.exists()


@pytest.mark.parametrize("kind", ["object", "string", "category"])
def test_every_path_of_the_codes_refuses_an_invisible_character(kind: str) -> None:
    from strukturbild._validate import to_codes
    from strukturbild.errors import InvalidValueError

    values = pd.Series(["0114", "0115", "01\u200f16", "0114"]).astype(kind)
    with pytest.raises(InvalidValueError, match=r"^k\.csv: column 'kommun', row 3: code "
                                                r".* holds the invisible character U\+200F"):
        to_codes(values, source="k.csv", column="kommun")
    assert to_codes(pd.Series(["0114", " 0115"]).astype(kind)).tolist() == ["0114", "0115"]
