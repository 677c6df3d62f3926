"""Popups in words: what a place and a link are, in sentences a politician reads.

A place's popup says what the place is and why ("Lund är en tillväxtmotor: 94 393
invånare, … Region Skåne utpekar den som tillväxtmotor."), its jobs and job ratio, its
commuting in and out and where most of it goes, and, where a measure is missing, which
role could not be tried. A link's popup names the link as what it is ("Regional axel
Malmö–Helsingborg: 1 949 pendlare per dag från Helsingborg till Malmö …") and says how
strong it is in words and shares.

The sentences are decided here, once, and sent to the page compactly: a table of
sentence templates (our own texts, with the thresholds of the rules written in) and, per
place or link, which templates it gets; the values (names, numbers) fill the templates'
slots (``{name}``, ``{pop}`` …) in the page, from columns the page has anyway. Data
never becomes part of a template, and a slot's value is never read for slots again, so a
place called ``{pop}`` or ``<b>`` is shown as just that; the page puts every sentence in
with ``textContent``. :func:`fill` is the page's filling in Python
(:func:`place_texts` and :func:`link_texts` use it; a browser test compares the two).

Everything is in Swedish or English (the image's language).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..config import RoleRule
from ..errors import ConfigError
from .style import ROLE_COLOURS, TEXT, format_number

if TYPE_CHECKING:
    from ._scene import Scene

__all__ = ["fill", "link_texts", "literal", "place_texts", "popup_data", "predicate",
           "predicates"]

#: The popups' texts, Swedish and English. ``{…}`` are the slots the page fills.
WORDS: dict[str, tuple[str, str]] = {
    "lead_a": ("{name} är en {role}", "{name} is a {role}"),
    "lead_an": ("{name} är en {role}", "{name} is an {role}"),
    "lead_custom": ("{name} har rollen {role}", "{name} has the role {role}"),
    "figures_jobs_ratio": (": {pop} invånare, {jobs} arbetstillfällen ({ratio} per "
                           "sysselsatt invånare{estimated}).",
                           ": {pop} inhabitants, {jobs} jobs ({ratio} per employed "
                           "resident{estimated})."),
    "figures_jobs": (": {pop} invånare, {jobs} arbetstillfällen.",
                     ": {pop} inhabitants, {jobs} jobs."),
    "figures_pop": (" med {pop} invånare.", " with {pop} inhabitants."),
    "estimated": (", uppskattat", ", estimated"),
    "kommun": ("Kommun: {kommun}", "Municipality: {kommun}"),
    "commuting_modelled": (
        "Modellerad pendling till och från andra tätorter (par med minst {min} "
        "pendlare): {in} in och {out} ut per dag",
        "Modelled commuting to and from other urban areas (pairs of {min} commuters or "
        "more): {in} in and {out} out a day"),
    "commuting_observed": (
        "Observerad pendling till och från andra tätorter: {in} in och {out} ut per dag",
        "Observed commuting to and from other urban areas: {in} in and {out} out a day"),
    "most_in": (", flest in från {top} ({topn}).", ", most in from {top} ({topn})."),
    "most_out": (", flest ut till {top} ({topn}).", ", most out to {top} ({topn})."),
    "no_commuting_modelled": (
        "Ingen modellerad pendling till eller från andra tätorter i par med minst {min} "
        "pendlare.",
        "No modelled commuting to or from other urban areas in pairs of {min} commuters "
        "or more."),
    "no_commuting_observed": ("Ingen observerad pendling till eller från andra tätorter.",
                              "No observed commuting to or from other urban areas."),
    "reason": ("Skäl: den {preds}.", "Reason: it {preds}."),
    "reason_none": ("Skäl: den uppfyller inga regler för en högre roll.",
                    "Reason: it meets no rule of a higher role."),
    "designated_by": ("{pub} utpekar den som {role}.", "{pub} designates it {article} {role}."),
    "designated": ("Den är utpekad som {role}.", "It is designated {article} {role}."),
    "designated_group_by": ("{pub} utpekar {group} gemensamt som {role}.",
                            "{pub} designates {group} jointly {article} {role}."),
    "designated_group": ("{group} är gemensamt utpekade som {role}.",
                         "{group} are designated jointly {article} {role}."),
    "rules_differ": ("Enligt reglerna vore den {derived}: den {preds}.",
                     "By the rules alone it would be {article} {derived}: it {preds}."),
    "rules_differ_none": ("Enligt reglerna vore den {derived}: den uppfyller inga regler "
                          "för en högre roll.",
                          "By the rules alone it would be {article} {derived}: it meets no "
                          "rule of a higher role."),
    "rules_agree": ("Reglerna ger samma roll: den {preds}.",
                    "The rules give the same role: it {preds}."),
    "rules_require": ("Reglerna för {role} kräver att den {preds}.",
                      "The rules for {article} {role} require that it {preds}."),
    "blocked": ("Uppgift om {measures} saknas, så reglerna kan inte pröva den som {role}.",
                "{measures} not known, so the rules cannot try it as {article} {role}."),
    "region": ("Funktionell region: {region}.", "Functional region: {region}."),
    # links
    "link_regional_axis": ("Regional axel", "Regional axis"),
    "link_regional": ("Regionalt samband", "Regional link"),
    "link_local": ("Lokalt samband", "Local link"),
    "link_weak": ("Svagt samband", "Weak link"),
    "link_lead": ("{scope} {a}–{b}: {ab} pendlare per dag från {o} till {d} och {ba} åt "
                  "andra hållet ({kind}).",
                  "{scope} {a}–{b}: {ab} commuters a day from {o} to {d} and {ba} the other "
                  "way ({kind})."),
    "link_lead_one_way": ("{scope} {a}–{b}: {ab} pendlare per dag från {o} till {d} "
                          "({kind}).",
                          "{scope} {a}–{b}: {ab} commuters a day from {o} to {d} ({kind})."),
    "modelled": ("modellerat", "modelled"),
    "observed": ("observerat", "observed"),
    "strength": ("Sambandet är {cls}: {share} % av de sysselsatta i {p} arbetar i {q} "
                 "({limits}).",
                 "The link is {cls}: {share} % of the employed residents of {p} work in {q} "
                 "({limits})."),
    "strong": ("starkt", "strong"),
    "medium": ("medelstarkt", "medium"),
    "weak": ("svagt", "weak"),
    "from": ("{cls} från {v} %", "{cls} from {v} %"),
    "axis": ("Det är det största pendlingsflödet från {p} och därför en regional axel.",
             "It is the largest commuting flow out of {p}, and so a regional axis."),
    "and": ("och", "and"),
}

#: How a rule reads: measure → (verb, object) in Swedish and English; ``{cmp}`` is the
#: comparison ("minst", "at least"), ``{v}`` the threshold.
_PREDICATES: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "population": (("har", "{cmp} {v} invånare"), ("has", "{cmp} {v} inhabitants")),
    "jobs": (("har", "{cmp} {v} arbetstillfällen"), ("has", "{cmp} {v} jobs")),
    "employed": (("har", "{cmp} {v} sysselsatta invånare"),
                 ("has", "{cmp} {v} employed residents")),
    "job_ratio": (("har", "{cmp} {v} arbetstillfällen per sysselsatt invånare"),
                  ("has", "{cmp} {v} jobs per employed resident")),
    "job_share": (("har", "{cmp} {v} % av arbetstillfällena"),
                  ("has", "{cmp} {v} % of the jobs")),
    "net_commuting": (("har", "en nettoinpendling på {cmp} {v}"),
                      ("has", "a net in-commuting of {cmp} {v}")),
    "inflow_sources": (("tar emot", "pendlare från {cmp} {v} orter"),
                       ("receives", "commuters from {cmp} {v} places")),
    "inflow_share": (("tar emot", "{cmp} {v} % av pendlingen"),
                     ("receives", "{cmp} {v} % of the commuting")),
    "rank_in_area": (("har", "rang {cmp} {v} i kommunen"),
                     ("has", "rank {cmp} {v} in its municipality")),
    "rank_in_region": (("har", "rang {cmp} {v} i regionen"),
                       ("has", "rank {cmp} {v} in its region")),
}
_PERCENT = {"job_share", "inflow_share"}
_CMP = {">=": ("minst", "at least"), ">": ("över", "over"), "<=": ("högst", "at most"),
        "<": ("under", "under"), "==": ("", ""), "!=": ("inte", "not")}
_NEGATE = {">=": "<", ">": "<=", "<=": ">", "<": ">=", "==": "!=", "!=": "=="}
#: Ranks read as words: (measure, op, value) → (verb, object), Swedish and English.
_RANKS: dict[tuple[str, str], tuple[tuple[str, str], tuple[str, str]]] = {
    ("rank_in_area", "first"): (("är", "kommunens största tätort"),
                                ("is", "the largest urban area of its municipality")),
    ("rank_in_area", "not_first"): (("är", "inte kommunens största tätort"),
                                    ("is", "not the largest urban area of its municipality")),
    ("rank_in_area", "top"): (("är", "en av kommunens {v} största tätorter"),
                              ("is", "one of the {v} largest urban areas of its "
                                     "municipality")),
    ("rank_in_region", "first"): (("är", "den största orten i sin region"),
                                  ("is", "the largest place of its region")),
    ("rank_in_region", "not_first"): (("är", "inte den största orten i sin region"),
                                      ("is", "not the largest place of its region")),
    ("rank_in_region", "top"): (("är", "en av de {v} största orterna i sin region"),
                                ("is", "one of the {v} largest places of its region")),
}
#: What a missing measure is called in "Uppgift om … saknas".
_MISSING: dict[str, tuple[str, str]] = {
    "population": ("invånare", "Inhabitants"),
    "jobs": ("arbetstillfällen", "Jobs"),
    "employed": ("sysselsatta invånare", "Employed residents"),
    "job_ratio": ("arbetstillfällen per sysselsatt", "Jobs per employed resident"),
    "job_share": ("andel av arbetstillfällena", "Share of the jobs"),
    "net_commuting": ("nettoinpendling", "Net in-commuting"),
    "inflow_sources": ("inpendling", "In-commuting"),
    "inflow_share": ("inpendling", "In-commuting"),
    "rank_in_area": ("kommun", "Municipality"),
    "rank_in_region": ("funktionell region", "Functional region"),
}
#: Measures made of jobs: not named again when jobs themselves are missing.
_OF_JOBS = {"job_ratio", "job_share", "net_commuting"}
#: Slots holding numbers, and their decimals (the page formats them as the Python side).
DECIMALS: dict[str, int] = {"pop": 0, "jobs": 0, "ratio": 2, "in": 0, "out": 0, "topn": 0,
                            "ab": 0, "ba": 0, "share": 1}
_SLOT = re.compile(r"\{([a-z]+)\}")


def _w(key: str, lang: str) -> str:
    sv, en = WORDS[key]
    return sv if lang == "sv" else en


def _number(value: Any, decimals: int, lang: str) -> str:
    """A number as the page writes it: :func:`~strukturbild.render.style.format_number`,
    which the page's ``fmt`` matches digit for digit (halves rounded to even).

    Examples
    --------
    >>> _number(1948.5, 0, "sv"), _number(0.85, 2, "sv"), _number(12345.25, 1, "en")
    ('1\\xa0948', '0,85', '12\\xa0345.2')
    """
    return format_number(float(value), lang, decimals)


def _threshold(value: float, lang: str) -> str:
    """A rule's threshold: whole numbers grouped, others with their decimals."""
    if float(value).is_integer():
        return _number(value, 0, lang)
    decimals = len(f"{value:.4f}".rstrip("0").split(".")[1])
    return _number(value, decimals, lang)


def _join(items: Sequence[str], lang: str) -> str:
    """"a, b och c" ("a, b and c")."""
    if len(items) < 2:
        return "".join(items)
    return f"{', '.join(items[:-1])} {_w('and', lang)} {items[-1]}"


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


@functools.lru_cache(maxsize=1024)
def predicate(rule: RoleRule, lang: str, *, negate: bool = False) -> tuple[str, str]:
    """A rule as (verb, object) in words: "har", "minst 15 000 invånare".

    Examples
    --------
    >>> predicate(RoleRule.parse("population >= 15000"), "sv")
    ('har', 'minst 15\\xa0000 invånare')
    >>> predicate(RoleRule.parse("rank_in_area == 1"), "en")
    ('is', 'the largest urban area of its municipality')
    >>> predicate(RoleRule.parse("population >= 2000"), "sv", negate=True)
    ('har', 'under 2\\xa0000 invånare')
    """
    i = 0 if lang == "sv" else 1
    op = _NEGATE[rule.op] if negate else rule.op
    v = rule.value
    if rule.measure in ("rank_in_area", "rank_in_region"):
        kind = None
        if (op, v) in (("==", 1), ("<=", 1), ("<", 2)):
            kind = "first"
        elif (op, v) in (("!=", 1), (">", 1), (">=", 2)):
            kind = "not_first"
        elif op in ("<=", "<"):
            kind, v = "top", v if op == "<=" else v - 1
        if kind is not None:
            verb, obj = _RANKS[(rule.measure, kind)][i]
            return verb, obj.format(v=_threshold(v, lang))
    verb, obj = _PREDICATES[rule.measure][i]
    shown = v * 100 if rule.measure in _PERCENT else v
    text = obj.format(cmp=_CMP[op][i], v=_threshold(shown, lang))
    return verb, re.sub(r" +", " ", text).strip()


@functools.lru_cache(maxsize=1024)
def predicates(parts: tuple[tuple[str, str], ...], lang: str) -> str:
    """Predicates joined, each verb said once for its run of objects: "är kommunens
    största tätort och har minst 5 000 invånare".

    Examples
    --------
    >>> predicates((("har", "a"), ("har", "b"), ("är", "c")), "sv")
    'har a och b och är c'
    """
    runs: list[tuple[str, list[str]]] = []
    for verb, obj in parts:
        if runs and runs[-1][0] == verb:
            runs[-1][1].append(obj)
        else:
            runs.append((verb, [obj]))
    return _join([f"{verb} {_join(objs, lang)}" for verb, objs in runs], lang)


def literal(text: str) -> str:
    """``text`` as part of a template: its braces as the slots ``{lb}`` and ``{rb}``.

    Examples
    --------
    >>> literal("a {b}")
    'a {lb}b{rb}'
    """
    return re.sub(r"[{}]", lambda m: "{lb}" if m.group() == "{" else "{rb}", text)


def fill(template: str, value: Callable[[str], str]) -> str:
    """Fill the slots of ``template`` with ``value(slot)``, in one pass (a value is never
    read for slots again), as the page does; ``{lb}`` and ``{rb}`` are braces.

    Examples
    --------
    >>> fill("{name} har {pop} invånare {lb}", {"name": "{pop}", "pop": "12"}.__getitem__)
    '{pop} har 12 invånare {'
    """
    braces = {"lb": "{", "rb": "}"}
    return _SLOT.sub(lambda m: braces.get(m.group(1)) or value(m.group(1)), template)


# --------------------------------------------------------------------------- the data


class _Templates:
    """Sentence templates, each stored once: ``add`` gives its index."""

    def __init__(self) -> None:
        self.items: list[list[str]] = []
        self._index: dict[tuple[str, str], int] = {}

    def add(self, text: str, cls: str = "") -> int:
        key = (text, cls)
        if key not in self._index:
            self._index[key] = len(self.items)
            self.items.append([text, cls])
        return self._index[key]


def _pack(lists: Sequence[Sequence[int]]) -> dict[str, Any]:
    """Lists of ints as their distinct lists (``u``) and an index per item (``i``)."""
    uniques: dict[tuple[int, ...], int] = {}
    index = []
    for item in lists:
        index.append(uniques.setdefault(tuple(item), len(uniques)))
    return {"u": [list(u) for u in uniques], "i": index}


def _rules(scene: Scene) -> dict[str, tuple[RoleRule, ...]]:
    """Each role's rules, from the provenance (the scheme the image was built with)."""
    roles = (scene.image.provenance.get("parameters") or {}).get("roles") or {}
    out: dict[str, tuple[RoleRule, ...]] = {}
    for role in roles.get("roles") or []:
        if not isinstance(role, Mapping):
            continue
        try:
            out[str(role.get("key"))] = tuple(RoleRule.parse(str(r))
                                              for r in role.get("rules") or [])
        except ConfigError:  # an image made elsewhere: no reasons rather than no map
            out[str(role.get("key"))] = ()
    return out


def _holds(value: float, rule: RoleRule) -> bool:
    v, t = value, rule.value
    return {">=": v >= t, ">": v > t, "<=": v <= t, "<": v < t, "==": v == t,
            "!=": v != t}[rule.op]


def _value(row: Mapping[str, Any], measure: str) -> float:
    v = row.get(measure)
    if v is None:
        return math.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _commuting(scene: Scene, ids: Sequence[str]) -> dict[str, np.ndarray[Any, Any]]:
    """Per place (in ``ids`` order): commuters in and out over all the image's links,
    and the place most of them come from (when more come in) or go to, with its flow."""
    pos = {pid: k for k, pid in enumerate(ids)}
    n = len(ids)
    inn, out = np.zeros(n), np.zeros(n)
    best_in, best_out = np.full(n, -1), np.full(n, -1)
    top_in, top_out = np.zeros(n), np.zeros(n)
    links = scene.image.links
    if len(links) and "flow_od" in links:
        o = [pos.get(str(v), -1) for v in links["origin"]]
        d = [pos.get(str(v), -1) for v in links["destination"]]
        od = pd.to_numeric(links["flow_od"], errors="coerce").fillna(0.0).to_numpy()
        do = pd.to_numeric(links["flow_do"], errors="coerce").fillna(0.0).to_numpy()
        for a, b, f_ab, f_ba in zip(o, d, od, do, strict=True):
            if a < 0 or b < 0:
                continue
            for src, dst, f in ((a, b, f_ab), (b, a, f_ba)):
                out[src] += f
                inn[dst] += f
                if f > top_out[src]:
                    top_out[src], best_out[src] = f, dst
                if f > top_in[dst]:
                    top_in[dst], best_in[dst] = f, src
    more_in = inn > out
    return {"in": inn, "out": out, "more_in": more_in,
            "top": np.where(more_in, best_in, best_out),
            "topn": np.where(more_in, top_in, top_out), "largest_out": top_out}


def _place_sentences(scene: Scene, tpl: _Templates, places: Any,
                     commuting: Mapping[str, np.ndarray[Any, Any]]) -> list[list[int]]:
    """The templates of each place's popup, in order."""
    lang = scene.language
    rules = _rules(scene)
    order = [s.key for s in scene.styles]
    labels = {s.key: s.label.lower() for s in scene.styles}
    known = set(ROLE_COLOURS)
    publishers = list(dict.fromkeys(str(s).split(",")[0].strip() for s in
                                    scene.image.provenance.get("designation_sources") or []))
    link_params = (scene.image.provenance.get("parameters") or {}).get("links") or {}
    min_flow = _threshold(float(link_params.get("min_flow", 0) or 0), lang)
    modelled = scene.image.modelled
    has_estimate = "employed_estimated" in places
    out: list[list[int]] = []
    records: list[dict[str, Any]] = [
        {str(k): v for k, v in r.items()}
        for r in pd.DataFrame(places.drop(columns=places.geometry.name)).to_dict("records")]
    for k, row in enumerate(records):
        role, derived = str(row["role"]), str(row.get("role_derived", row["role"]))
        designated = row.get("role_designated")
        designated = None if designated is None or designated != designated \
            or str(designated) in ("", "nan") else str(designated)
        ids: list[int] = []
        if isinstance(row.get("area_name"), str) and row["area_name"]:
            ids.append(tpl.add(_w("kommun", lang), "sub"))
        # what it is, with its figures
        article = _article(labels.get(role, role))
        lead = _w("lead_custom" if role not in known else f"lead_{article}", lang)
        jobs, ratio = _value(row, "jobs"), _value(row, "job_ratio")
        if math.isfinite(jobs) and math.isfinite(ratio):
            est = _w("estimated", lang) if has_estimate and bool(row["employed_estimated"]) \
                else ""
            figures = _w("figures_jobs_ratio", lang).replace("{estimated}", est)
        elif math.isfinite(jobs):
            figures = _w("figures_jobs", lang)
        else:
            figures = _w("figures_pop", lang)
        ids.append(tpl.add(lead + figures))
        # commuting, modelled or observed
        kind = "modelled" if modelled else "observed"
        if commuting["in"][k] > 0 or commuting["out"][k] > 0:
            text = _w(f"commuting_{kind}", lang).replace("{min}", min_flow)
            text += _w("most_in" if commuting["more_in"][k] else "most_out", lang) \
                if commuting["top"][k] >= 0 else "."
            ids.append(tpl.add(text))
        else:
            ids.append(tpl.add(_w(f"no_commuting_{kind}", lang).replace("{min}", min_flow)))
        # why it has its role
        reason = _reason(row, derived, rules, order, lang)
        if designated is not None:
            group = row.get("designation_group")
            grouped = isinstance(group, str) and bool(group)
            by = len(publishers) == 1
            key = ("designated_group" if grouped else "designated") + ("_by" if by else "")
            ids.append(tpl.add(_w(key, lang).replace("{article}", _article(labels.get(
                role, role)))))
            if derived != designated:
                key = "rules_differ" if reason else "rules_differ_none"
                text = _w(key, lang).replace("{article}", _article(labels.get(derived,
                                                                               derived)))
                ids.append(tpl.add(text.replace("{preds}", reason)))
                # what the designated role's rules ask that the place does not have
                failing = tuple(predicate(r, lang) for r in rules.get(designated, ())
                                if math.isfinite(_value(row, r.measure))
                                and not _holds(_value(row, r.measure), r))
                if failing:
                    text = _w("rules_require", lang).replace("{article}", article)
                    ids.append(tpl.add(text.replace("{preds}", predicates(failing, lang))))
            elif reason:
                ids.append(tpl.add(_w("rules_agree", lang).replace("{preds}", reason)))
        elif reason:
            ids.append(tpl.add(_w("reason", lang).replace("{preds}", reason)))
        else:
            ids.append(tpl.add(_w("reason_none", lang)))
        for blocked_role, missing in _blocked(row, derived, rules, order):
            names = _missing_names(missing, lang)
            text = _w("blocked", lang).replace("{measures}", names).replace(
                "{article}", _article(labels.get(blocked_role, blocked_role)))
            ids.append(tpl.add(text.replace("{role}", literal(labels.get(blocked_role,
                                                                          blocked_role)))))
        if isinstance(row.get("region"), str) and row["region"]:
            ids.append(tpl.add(_w("region", lang)))
        out.append(ids)
    return out


def _reason(row: Mapping[str, Any], role: str, rules: Mapping[str, tuple[RoleRule, ...]],
            order: Sequence[str], lang: str) -> str:
    """Why the rules give ``role``: its rules that hold, in words; for the last role,
    the first failing rule of the lowest role with rules. "" when nothing says."""
    own = rules.get(role, ())
    if own:
        parts = tuple(predicate(r, lang) for r in own if math.isfinite(_value(row, r.measure)))
        return predicates(parts, lang)
    for key in reversed(order[:order.index(role)] if role in order else []):
        for rule in rules.get(key, ()):
            v = _value(row, rule.measure)
            if math.isfinite(v) and not _holds(v, rule):
                return predicates((predicate(rule, lang, negate=True),), lang)
    return ""


def _blocked(row: Mapping[str, Any], role: str, rules: Mapping[str, tuple[RoleRule, ...]],
             order: Sequence[str]) -> list[tuple[str, list[str]]]:
    """The roles above ``role`` that a missing measure kept from the place: every rule
    it could test held, some it could not test."""
    out = []
    for key in order[:order.index(role)] if role in order else []:
        own = rules.get(key, ())
        if not own:
            continue
        missing = [r.measure for r in own if not math.isfinite(_value(row, r.measure))]
        held = all(_holds(_value(row, r.measure), r) for r in own
                   if math.isfinite(_value(row, r.measure)))
        if missing and held:
            out.append((key, list(dict.fromkeys(missing))))
    return out


def _missing_names(missing: Sequence[str], lang: str) -> str:
    i = 0 if lang == "sv" else 1
    if "jobs" in missing:
        missing = [m for m in missing if m not in _OF_JOBS]
    names = list(dict.fromkeys(_MISSING.get(m, (m, m))[i] for m in missing))
    if lang == "en":
        names = [names[0]] + [n.lower() for n in names[1:]]
    return _join(names, lang)


def _link_sentences(scene: Scene, tpl: _Templates, population: Mapping[str, float],
                    largest_out: Mapping[str, float]) -> list[list[int]]:
    """The templates of each drawn link's popup."""
    lang = scene.language
    params = (scene.image.provenance.get("parameters") or {}).get("links") or {}
    strong = float(params.get("strong", 0.15))
    medium = float(params.get("medium", 0.075))
    limit = {c: _w("from", lang).format(cls=_w(c, lang), v=_threshold(t * 100, lang))
             for c, t in (("strong", strong), ("medium", medium))}
    limits = {"strong": limit["strong"], "medium": f"{limit['medium']}, {limit['strong']}",
              "weak": limit["medium"]}
    links = scene.links
    out: list[list[int]] = []
    cols = {c: links[c].tolist() if c in links else [None] * len(links)
            for c in ("origin", "destination", "flow_od", "flow_do", "strength",
                      "share_of_origin", "style", "modelled")}
    for o, d, f_od, f_do, strength, share_o, style, mod in zip(*cols.values(), strict=True):
        scope_key, cls = str(style).split("-")
        scope = {("regional", "weak"): "link_regional_axis"}.get(
            (scope_key, cls), f"link_{scope_key}" if cls != "weak" else "link_weak")
        first_o = population.get(str(o), 0.0) >= population.get(str(d), 0.0)
        one_way = not (f_do is not None and float(f_do) > 0)
        lead = _w("link_lead_one_way" if one_way else "link_lead", lang)
        lead = lead.replace("{scope}", _w(scope, lang)).replace(
            "{kind}", _w("modelled" if bool(mod) else "observed", lang))
        lead = lead.replace("{a}–{b}", "{o}–{d}" if first_o else "{d}–{o}")
        ids = [tpl.add(lead)]
        if strength is not None and strength == strength:
            from_o = share_o is not None and share_o == share_o and \
                abs(float(share_o) - float(strength)) <= 1e-9
            text = _w("strength", lang).replace("{cls}", _w(cls, lang)).replace(
                "{limits}", limits.get(cls, ""))
            text = text.replace("{p}", "{o}" if from_o else "{d}").replace(
                "{q}", "{d}" if from_o else "{o}")
            ids.append(tpl.add(text))
        if (scope_key, cls) == ("regional", "weak"):
            # an axis: the largest flow out of one of its places (the origin's, if both)
            end = "o" if float(f_od or 0.0) >= largest_out.get(str(o), 0.0) - 1e-9 else "d"
            ids.append(tpl.add(_w("axis", lang).replace("{p}", "{" + end + "}")))
        out.append(ids)
    return out


def popup_data(scene: Scene, places: Any) -> dict[str, Any]:
    """What the page needs for its popups: the templates, each place's and each drawn
    link's template indices, and the values of the place slots.

    ``places`` are the image's places in the page's order. The page's other columns
    give the rest (names, roles, the links' flows and strengths).

    Examples
    --------
    >>> from strukturbild import build, example_project
    >>> from strukturbild.render._scene import scene_of
    >>> img = build(example_project())
    >>> scene = scene_of(img, img.map_options, "web")
    >>> data = popup_data(scene, img.places.iloc[scene.order])
    >>> data["tpl"][data["place"]["u"][0][1]][0]
    '{name} är en {role}: {pop} invånare, {jobs} arbetstillfällen ({ratio} per sysselsatt \
invånare, uppskattat).'
    """
    tpl = _Templates()
    ids = [str(i) for i in places.index]
    commuting = _commuting(scene, ids)
    place_ids = _place_sentences(scene, tpl, places, commuting)
    population = dict(zip(ids, pd.to_numeric(places["population"], errors="coerce")
                          .fillna(0.0).tolist(), strict=True))
    largest_out = dict(zip(ids, commuting["largest_out"].tolist(), strict=True))
    link_ids = _link_sentences(scene, tpl, population, largest_out) if len(scene.links) \
        else []
    role_index = {s.key: i for i, s in enumerate(scene.styles)}
    derived = [role_index.get(str(v), 0) for v in places.get("role_derived", places["role"])]

    def numbers(values: Any, decimals: int) -> list[Any]:
        arr = pd.to_numeric(pd.Series(list(values)), errors="coerce").to_numpy(float)
        return [None if not math.isfinite(v) else
                (round(v) if decimals == 0 else round(float(v), decimals)) for v in arr]

    def texts(column: str) -> list[str]:
        if column not in places:
            return [""] * len(places)
        return ["" if not isinstance(v, str) else v for v in places[column]]

    publishers = list(dict.fromkeys(str(s).split(",")[0].strip() for s in
                                    scene.image.provenance.get("designation_sources") or []))
    values: dict[str, Any] = {
        "pop": numbers(places["population"], 0),
        "jobs": numbers(places["jobs"] if "jobs" in places else [math.nan] * len(places), 0),
        "ratio": numbers(places["job_ratio"] if "job_ratio" in places
                         else [math.nan] * len(places), 2),
        "in": numbers(commuting["in"], 0), "out": numbers(commuting["out"], 0),
        "top": [int(v) for v in commuting["top"]],
        "topn": numbers(commuting["topn"], 0),
        "derived": derived,
        "kommun": texts("area_name"), "group": texts("designation_group"),
        "region": texts("region"),
    }
    return {"tpl": tpl.items, "place": _pack(place_ids), "link": _pack(link_ids),
            "v": values, "dec": DECIMALS,
            "c": {"pub": publishers[0] if len(publishers) == 1 else ""},
            "rl": [s.label.lower() for s in scene.styles]}


# --------------------------------------------------------------------------- in Python


def place_texts(data: Mapping[str, Any], names: Sequence[str], roles: Sequence[int],
                j: int, lang: str) -> list[str]:
    """The sentences of place ``j``'s popup, filled as the page fills them.

    ``data`` is :func:`popup_data`'s, ``names`` and ``roles`` the page's place names and
    role indices (in the same order).

    Examples
    --------
    >>> data = {"tpl": [["{name} är en {role} med {pop} invånare.", ""]],
    ...         "place": {"u": [[0]], "i": [0]}, "v": {"pop": [94393]}, "c": {},
    ...         "rl": ["tillväxtmotor"]}
    >>> place_texts(data, ["Lund"], [0], 0, "sv")
    ['Lund är en tillväxtmotor med 94\xa0393 invånare.']
    """
    v = data["v"]

    def value(slot: str) -> str:
        if slot == "name":
            return str(names[j])
        if slot == "role":
            return str(data["rl"][roles[j]])
        if slot == "derived":
            return str(data["rl"][v["derived"][j]])
        if slot == "top":
            return str(names[v["top"][j]])
        if slot in data["c"]:
            return str(data["c"][slot])
        if slot in DECIMALS:
            x = v[slot][j]
            return TEXT["unknown"][0 if lang == "sv" else 1] if x is None else \
                _number(x, DECIMALS[slot], lang)
        return str(v[slot][j])

    packed = data["place"]
    return [fill(data["tpl"][t][0], value) for t in packed["u"][packed["i"][j]]]


def link_texts(data: Mapping[str, Any], links: Mapping[str, Any], names: Sequence[str],
               j: int, lang: str) -> list[str]:
    """The sentences of drawn link ``j``'s popup, filled as the page fills them
    (``links`` is the page's link data: ``o``, ``d``, ``a``, ``b``, ``s``).

    Examples
    --------
    >>> data = {"tpl": [["{o} → {d}: {ab}, {share} %", ""]], "link": {"u": [[0]], "i": [0]}}
    >>> link_texts(data, {"o": [0], "d": [1], "a": [1949], "b": [12], "s": [0.041]},
    ...            ["Helsingborg", "Malmö"], 0, "sv")
    ['Helsingborg → Malmö: 1\xa0949, 4,1 %']
    """

    def value(slot: str) -> str:
        if slot in ("o", "d"):
            return str(names[links[slot][j]])
        if slot == "ab":
            return _number(links["a"][j], 0, lang)
        if slot == "ba":
            return _number(links["b"][j], 0, lang)
        if slot == "share":
            return _number(float(links["s"][j]) * 100, 1, lang)
        return "{" + slot + "}"

    packed = data["link"]
    return [fill(data["tpl"][t][0], value) for t in packed["u"][packed["i"][j]]]
