"""Popups in words (render/popups.py): what the page says of a place and of a link.

The sentences are checked as the page fills them (:func:`place_texts`, :func:`link_texts`
on the page's own data; ``tests/test_browser.py`` checks that the browser shows the same
words): on the toy region (observed flows, jobs, English) by hand, on the bundled example
(modelled, SCB's jobs with employed residents estimated, designations, Swedish and
English) and on Sörmland without jobs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from strukturbild.config import RoleRule, load_project
from strukturbild.image import StructureImage
from strukturbild.pipeline import build
from strukturbild.render.popups import fill, link_texts, literal, place_texts, predicate
from strukturbild.render.web import web_map_html
from strukturbild.sources.example import example_dir, example_project

from .._support.web import HOSTILE, MIB, page_data

NB = "\u00a0"  # numbers are grouped with a no-break space


def texts(image: StructureImage) -> tuple[dict[str, list[str]], list[list[str]], dict[str, Any]]:
    """Every place's sentences by name, every drawn link's, and the page's data."""
    data = page_data(web_map_html(image))
    names, roles = data["places"]["n"], data["places"]["k"]
    places = {n: place_texts(data["pop"], names, roles, j, image.language)
              for j, n in enumerate(names)}
    links = [link_texts(data["pop"], data["links"], names, j, image.language)
             for j in range(len(data["links"]["o"]))] if "links" in data else []
    return places, links, data


def link_of(data: dict[str, Any], links: list[list[str]], a: str, b: str) -> list[str]:
    names = data["places"]["n"]
    for j, (o, d) in enumerate(zip(data["links"]["o"], data["links"]["d"], strict=True)):
        if {names[o], names[d]} == {a, b}:
            return links[j]
    raise AssertionError(f"no link {a}–{b} drawn")


@pytest.fixture(scope="module")
def example() -> StructureImage:
    return build(example_project())


# --------------------------------------------------------------------------- places


def test_toy_places_by_hand(toy_dir: Path) -> None:
    """Observed flows, jobs and employed residents given (English): Storby receives
    2 000 + 1 500 + 300 and sends 1 000 + 300 + 100 commuters."""
    places, _, _ = texts(build(load_project(toy_dir / "project.toml")))
    assert places["Storby"] == [
        f"Storby is a metropolis: 250{NB}000 inhabitants, 140{NB}000 jobs (1.17 per employed "
        "resident).",
        f"Observed commuting to and from other urban areas: 3{NB}800 in and 1{NB}400 out a "
        f"day, most in from Mellanstad (2{NB}000).",
        f"Reason: it has at least 200{NB}000 inhabitants."]
    assert places["Mellanstad"][1:] == [
        f"Observed commuting to and from other urban areas: 1{NB}800 in and 2{NB}000 out a "
        f"day, most out to Storby (2{NB}000).",
        f"Reason: it has at least 15{NB}000 inhabitants, at least 10{NB}000 jobs and at least "
        "0.85 jobs per employed resident."]
    assert places["Småort"][-1] == ("Reason: it is the largest urban area of its "
                                    f"municipality and has at least 5{NB}000 inhabitants.")
    # the last role: why no higher one
    assert places["Hamlet"][0] == ("Hamlet is an other urban area: 900 inhabitants, 100 jobs "
                                   "(0.25 per employed resident).")
    assert places["Hamlet"][-1] == f"Reason: it has under 2{NB}000 inhabitants."


def test_example_places_in_swedish(example: StructureImage) -> None:
    """Modelled flows, SCB's jobs with employed residents estimated, Region Skåne's
    designations: what the place is, its jobs and job ratio (estimated), its commuting
    (modelled, and from which pairs), who designated it and what the rules say."""
    places, _, _ = texts(example)
    assert places["Lund"] == [
        "Kommun: Lund",
        f"Lund är en tillväxtmotor: 94{NB}393 invånare, 66{NB}093 arbetstillfällen (1,40 per "
        "sysselsatt invånare, uppskattat).",
        "Modellerad pendling till och från andra tätorter (par med minst 50 pendlare): "
        f"33{NB}050 in och 19{NB}048 ut per dag, flest in från Malmö (10{NB}295).",
        "Region Skåne utpekar den som tillväxtmotor.",
        f"Enligt reglerna vore den regional kärna: den har minst 15{NB}000 invånare, minst "
        f"10{NB}000 arbetstillfällen och minst 0,85 arbetstillfällen per sysselsatt invånare."]
    # the joint growth engine is named as one, in both its places' popups
    for town in ("Kristianstad", "Hässleholm"):
        assert "Region Skåne utpekar Kristianstad–Hässleholm gemensamt som tillväxtmotor." \
            in places[town]
    # a designation the rules do not give: what the rules would give, and what they ask
    assert places["Landskrona"][3:] == [
        "Region Skåne utpekar den som regional kärna.",
        "Enligt reglerna vore den lokal kärna: den är kommunens största tätort och har minst "
        f"5{NB}000 invånare.",
        "Reglerna för regional kärna kräver att den har minst 0,85 arbetstillfällen per "
        "sysselsatt invånare."]
    assert places["Trelleborg"][-1] == (
        f"Reglerna för regional kärna kräver att den har minst 10{NB}000 arbetstillfällen och "
        "minst 0,85 arbetstillfällen per sysselsatt invånare.")
    assert places["Svalöv"][-1] == f"Skäl: den har minst 2{NB}000 invånare."
    # no sentence reads like code
    for sentences in places.values():
        for s in sentences:
            assert not any(op in s for op in (">=", "<=", "==", "!=", "rang i kommunen"))


def test_example_places_in_english(example: StructureImage) -> None:
    places, _, _ = texts(dataclasses.replace(example, language="en"))
    assert places["Kristianstad"] == [
        "Municipality: Kristianstad",
        f"Kristianstad is a growth engine: 41{NB}299 inhabitants, 25{NB}779 jobs (1.25 per "
        "employed resident, estimated).",
        "Modelled commuting to and from other urban areas (pairs of 50 commuters or more): "
        f"7{NB}948 in and 4{NB}379 out a day, most in from Åhus (2{NB}471).",
        "Region Skåne designates Kristianstad–Hässleholm jointly a growth engine.",
        f"By the rules alone it would be a regional core: it has at least 15{NB}000 "
        f"inhabitants, at least 10{NB}000 jobs and at least 0.85 jobs per employed resident."]
    assert places["Landskrona"][-1] == ("The rules for a regional core require that it has "
                                        "at least 0.85 jobs per employed resident.")


def test_estimated_employed_are_said_so_only_where_estimated(example: StructureImage) -> None:
    """The job ratio rests on an estimate of the employed residents where the image says
    so (``employed_estimated``), and only there."""
    given = example.places.assign(employed_estimated=False)
    places, _, _ = texts(dataclasses.replace(example, places=given))
    assert places["Lund"][1] == (f"Lund är en tillväxtmotor: 94{NB}393 invånare, 66{NB}093 "
                                 "arbetstillfällen (1,40 per sysselsatt invånare).")
    no_jobs = example.places.assign(jobs=float("nan"), job_ratio=float("nan"))
    places, _, _ = texts(dataclasses.replace(example, places=no_jobs))
    assert places["Lund"][1] == f"Lund är en tillväxtmotor med 94{NB}393 invånare."


def test_sormland_without_jobs_says_what_the_rules_could_not_try(
        sormland: StructureImage) -> None:
    """Sörmland from SCB's tätorter alone: Eskilstuna is large enough for a regional core,
    but without jobs the rules cannot try it."""
    places, _, _ = texts(sormland)
    assert places["Eskilstuna"][-1] == ("Uppgift om arbetstillfällen saknas, så reglerna kan "
                                        "inte pröva den som regional kärna.")
    assert places["Ärla"][-1] == f"Skäl: den har under 2{NB}000 invånare."
    assert places["Flen"][-1] == ("Skäl: den är kommunens största tätort och har minst "
                                  f"5{NB}000 invånare.")


# --------------------------------------------------------------------------- links


def test_an_axis_is_named_an_axis(example: StructureImage) -> None:
    """Malmö–Ystad, a weak link that is Ystad's largest flow (683 of Ystad's employed
    residents to Malmö, 326 to Tomelilla next): an axis; Malmö–Helsingborg, weak too but
    not Helsingborg's largest flow (Ödåkra's 2 851 is): a weak link."""
    _, links, data = texts(example)
    assert link_of(data, links, "Malmö", "Ystad") == [
        "Regional axel Malmö–Ystad: 683 pendlare per dag från Ystad till Malmö och 253 åt "
        "andra hållet (modellerat).",
        "Sambandet är svagt: 6,8 % av de sysselsatta i Ystad arbetar i Malmö "
        "(medelstarkt från 7,5 %).",
        "Det är det största pendlingsflödet från Ystad och därför en regional axel."]
    assert link_of(data, links, "Malmö", "Helsingborg") == [
        f"Svagt samband Malmö–Helsingborg: 2{NB}214 pendlare per dag från Helsingborg till "
        f"Malmö och 1{NB}325 åt andra hållet (modellerat).",
        "Sambandet är svagt: 3,9 % av de sysselsatta i Helsingborg arbetar i Malmö "
        "(medelstarkt från 7,5 %)."]
    lund = link_of(data, links, "Malmö", "Lund")
    assert lund[0].startswith("Regionalt samband Malmö–Lund: ")
    assert lund[1].startswith("Sambandet är starkt: ") and lund[1].endswith(
        "av de sysselsatta i Lund arbetar i Malmö (starkt från 15 %).")


def test_toy_links_by_hand(toy_dir: Path) -> None:
    """Observed, English: the larger place first, the larger flow first, the share of
    the employed residents that makes the class."""
    _, links, data = texts(build(load_project(toy_dir / "project.toml")))
    assert link_of(data, links, "Storby", "Mellanstad") == [
        f"Regional link Storby–Mellanstad: 2{NB}000 commuters a day from Mellanstad to Storby "
        f"and 1{NB}000 the other way (observed).",
        "The link is medium: 10.0 % of the employed residents of Mellanstad work in Storby "
        "(medium from 7.5 %, strong from 15 %)."]
    assert link_of(data, links, "Byn", "Hamlet") == [
        "Weak link Byn–Hamlet: 20 commuters a day from Hamlet to Byn (observed).",
        "The link is weak: 5.0 % of the employed residents of Hamlet work in Byn (medium "
        "from 7.5 %)."]
    assert link_of(data, links, "Mellanstad", "Förort")[0].startswith("Local link ")


# --------------------------------------------------------------------------- as text


def test_names_are_slots_never_part_of_a_template(hostile_image: StructureImage) -> None:
    """A place's name fills a slot; it is never read for slots again, and the templates
    are our own words: a place called "{pop}" or "<img …>" shows as just that."""
    image = hostile_image
    places = image.places.copy()
    places.loc["P3", "name"] = "{pop} {name} {lb}"
    image = dataclasses.replace(image, places=places)
    by_name, links, data = texts(image)
    assert by_name["{pop} {name} {lb}"][1].startswith("{pop} {name} {lb} har rollen ort")
    assert by_name[HOSTILE][1].startswith(f"{HOSTILE} har rollen nav <em>ett</em>")
    for text_, _cls in data["pop"]["tpl"]:
        assert HOSTILE not in text_ and "<em>" not in text_ and "{pop} {name}" not in text_
    assert any(HOSTILE in s for link in links for s in link)


def test_fill_is_one_pass_and_braces_are_kept() -> None:
    assert fill("{a} {b}", {"a": "{b}", "b": "x"}.__getitem__) == "{b} x"
    assert fill(literal("Roll {name}") + " {name}", {"name": "N"}.__getitem__) == \
        "Roll {name} N"


@pytest.mark.parametrize(("rule", "language", "negate", "words"), [
    ("population >= 15000", "sv", False, ("har", f"minst 15{NB}000 invånare")),
    ("population >= 2000", "en", True, ("has", f"under 2{NB}000 inhabitants")),
    ("job_ratio >= 0.85", "sv", False, ("har", "minst 0,85 arbetstillfällen per sysselsatt "
                                               "invånare")),
    ("rank_in_area == 1", "sv", False, ("är", "kommunens största tätort")),
    ("rank_in_area <= 2", "en", False, ("is", "one of the 2 largest urban areas of its "
                                              "municipality")),
    ("rank_in_area == 1", "sv", True, ("är", "inte kommunens största tätort")),
    ("job_share >= 0.01", "en", False, ("has", "at least 1 % of the jobs")),
    ("inflow_sources > 3", "sv", False, ("tar emot", "pendlare från över 3 orter")),
], ids=["population", "negated", "job-ratio", "largest", "top-two", "not-largest", "share",
        "inflow"])
def test_rules_read_as_words(rule: str, language: str, negate: bool,
                             words: tuple[str, str]) -> None:
    assert predicate(RoleRule.parse(rule), language, negate=negate) == words


def test_swedish_popups_of_the_shipped_data_need_no_english(example: StructureImage) -> None:
    places, links, _ = texts(example)
    words = " ".join(s for p in places.values() for s in p) + " ".join(
        s for link in links for s in link)
    for english in (" the ", " and ", " commuters", "designated", "Reason"):
        assert english not in words


def test_unknown_values_are_said_so(example: StructureImage) -> None:
    """A place without inhabitants' figure still reads (no "nan", no "None")."""
    places, links, _ = texts(example)
    for sentence in [s for p in places.values() for s in p] + [s for link in links
                                                              for s in link]:
        assert "nan" not in sentence and "None" not in sentence and "{" not in sentence


def test_popups_use_the_projects_own_scheme(tmp_path: Path) -> None:
    """A role of a custom scheme with a label the default scheme does not know reads
    "har rollen …" (no article is guessed)."""
    folder = example_dir()
    text = (folder / "project.toml").read_text(encoding="utf-8")
    text = text.replace('label = "Serviceort"', 'label = "Servicecentrum"').replace(
        'key = "serviceort"', 'key = "servicecentrum"')
    text = text.replace('path = "', f'path = "{folder.as_posix()}/')
    (tmp_path / "p.toml").write_text(text, encoding="utf-8")
    places, _, _ = texts(build(load_project(tmp_path / "p.toml")))
    assert places["Svalöv"][1] == (f"Svalöv har rollen servicecentrum: 4{NB}216 invånare, "
                                   f"1{NB}549 arbetstillfällen (0,73 per sysselsatt invånare, "
                                   "uppskattat).")
    assert places["Svalöv"][-1] == f"Skäl: den har minst 2{NB}000 invånare."


def test_the_whole_country_page_stays_small(country_image: StructureImage) -> None:
    """Popups in words cost the country page next to nothing: templates are shared."""
    page = web_map_html(country_image)
    data = page_data(page)
    assert len(page.encode("utf-8")) < 0.75 * MIB
    assert len(data["pop"]["tpl"]) < 200 and len(data["pop"]["place"]["u"]) < 200
