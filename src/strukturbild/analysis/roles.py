"""Role schemes, designations, and the classification of places into roles.

A :class:`~strukturbild.config.RoleScheme` is an ordered list of roles, highest
first, each with threshold rules on place measures. :func:`classify_roles` gives
every place exactly one role and a readable reason. Designations are official role
lists (Region Skåne's regional cores and growth engines, say) kept as data with
their source and year; a designated role pins the place's role, the derived one is
kept beside it, and :func:`compare_roles` shows where they differ.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..config import Language, RoleRule, RoleScheme
from ..errors import ConfigError, StrukturbildWarning

__all__ = [
    "classify_roles",
    "compare_roles",
    "joint_designations",
    "match_designations",
    "role_agreement",
]

_MEASURE_NAMES: dict[str, tuple[str, str]] = {
    "population": ("befolkning", "population"),
    "jobs": ("arbetsplatser", "jobs"),
    "employed": ("förvärvsarbetande", "employed residents"),
    "job_ratio": ("arbetsplatskvot", "job ratio"),
    "job_share": ("andel av arbetsplatserna", "share of jobs"),
    "net_commuting": ("nettoinpendling", "net commuting"),
    "inflow_sources": ("inpendling från antal orter", "in-flow from places"),
    "inflow_share": ("andel av pendlingen", "share of commuting received"),
    "rank_in_area": ("rang i kommunen", "rank in kommun"),
    "rank_in_region": ("rang i regionen", "rank in region"),
}
_COUNT_MEASURES = {"population", "jobs", "employed", "net_commuting", "inflow_sources",
                   "rank_in_area", "rank_in_region"}
_NEGATE = {">=": "<", ">": "<=", "<=": ">", "<": ">=", "==": "!=", "!=": "=="}


def _fmt(value: float, measure: str, language: Language, *, threshold: bool) -> str:
    if measure in _COUNT_MEASURES and float(value).is_integer():
        text = f"{int(value):,}".replace(",", " ")
    elif threshold:
        text = repr(float(value))
    else:
        text = f"{value:.2f}"
    return text.replace(".", ",") if language == "sv" else text


def _holds(value: float, rule: RoleRule) -> bool:
    v, t = value, rule.value
    return {
        ">=": v >= t, ">": v > t, "<=": v <= t, "<": v < t, "==": v == t, "!=": v != t,
    }[rule.op]


def _rule_text(value: float, rule: RoleRule, language: Language, *, negate: bool = False) -> str:
    name = _MEASURE_NAMES[rule.measure][0 if language == "sv" else 1]
    op = _NEGATE[rule.op] if negate else rule.op
    return (f"{name} {_fmt(value, rule.measure, language, threshold=False)} {op} "
            f"{_fmt(rule.value, rule.measure, language, threshold=True)}")


def _unknown_text(rule: RoleRule, language: Language) -> str:
    name = _MEASURE_NAMES[rule.measure][0 if language == "sv" else 1]
    return f"{name} okänd" if language == "sv" else f"{name} not known"


def match_designations(
    designations: pd.DataFrame, scheme: RoleScheme, names: pd.Series | None = None, *,
    places: pd.Index | None = None,
) -> pd.DataFrame:
    """Check a designation list against a role scheme and attach its rows to places.

    Every check a designation list gets, in one place (``strukturbild build`` and
    ``validate`` both run it): a ``role`` that is not empty must be a role of the
    scheme, or else the row's ``fallback_role`` (an optional column) must be, and is
    pinned instead (else :class:`ConfigError` naming the file, column and row); a row
    names its place by ``place_id``, or by ``name`` when that is unique among the
    places (a name that matches several is an error); a row whose place is not among
    the places is left out with a :class:`StrukturbildWarning` (a list for a whole
    region may be used on a part of it).

    Parameters
    ----------
    designations
        A designation list (:func:`strukturbild.readers.read_designations`); its
        ``attrs["source"]`` names the file in messages, its rows are numbered from 1.
    scheme
        The role scheme.
    names
        Place names, index place ids; also gives the places.
    places
        The place ids, when no names are given.

    Returns
    -------
    pandas.DataFrame
        The rows whose place was found, with ``place_id`` set to that place's id.

    Examples
    --------
    >>> from strukturbild.config import default_role_scheme
    >>> d = pd.DataFrame({"place_id": [""], "name": ["Lund"], "designation": ["kärna"],
    ...                   "role": ["regionkarna"], "source": ["x"], "year": ["2022"]})
    >>> match_designations(d, default_role_scheme(), pd.Series({"p1": "Lund"}))
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    strukturbild.errors.ConfigError: designations: column 'role', row 1: 'regionkarna' is ...
    >>> d["role"] = ["regional_karna"]
    >>> found = match_designations(d, default_role_scheme(), pd.Series({"p1": "Lund"}))
    >>> found["place_id"].tolist()
    ['p1']
    """
    src = designations.attrs.get("source", "designations")
    keys = scheme.keys
    fallbacks = (designations["fallback_role"].tolist() if "fallback_role" in designations
                 else [""] * len(designations))
    roles: list[object] = []
    for i, (role, fallback) in enumerate(zip(designations["role"].tolist(), fallbacks,
                                             strict=True), start=1):
        if role is not None and not pd.isna(role) and str(role).strip() \
                and str(role).strip() not in keys:
            if isinstance(fallback, str) and fallback.strip() in keys:
                # a scheme without the list's role: the role the list names for it
                roles.append(fallback.strip())
                continue
            also = f" (nor its fallback_role '{fallback}')" if isinstance(fallback, str) \
                and fallback.strip() else ""
            raise ConfigError(
                f"'{role}' is not a role of the scheme '{scheme.name}'{also}; expected one "
                f"of {', '.join(keys)}, or empty for a designation that pins no role",
                source=src, column="role", row=i,
            )
        roles.append(role)
    if len(designations):
        designations = designations.assign(role=pd.Series(roles, index=designations.index,
                                                          dtype=object))
    if names is None:
        names = pd.Series(dtype=object, index=places if places is not None else None)
    index = names.index
    ids: list[object] = []
    for i, row in enumerate(designations.itertuples(index=False), start=1):
        pid: object = None
        if row.place_id:
            pid = row.place_id if row.place_id in index else None
        elif row.name:
            hits = index[(names == row.name).to_numpy(dtype=bool)]
            if len(hits) > 1:
                raise ConfigError(
                    f"name '{row.name!s}' matches {len(hits)} places "
                    f"({', '.join(str(h) for h in hits[:3])}); "
                    "give place_id", source=src, row=i,
                )
            pid = hits[0] if len(hits) else None
        if pid is None:
            warnings.warn(
                f"{src}: row {i}: designated place '{row.place_id or row.name!s}' is not among "
                "the places; the designation is ignored",
                StrukturbildWarning, stacklevel=3,
            )
        ids.append(pid)
    matched = pd.Series(ids, index=designations.index, dtype=object)
    out = designations.loc[matched.notna().to_numpy(dtype=bool)].copy()
    out["place_id"] = matched[matched.notna()].astype(str).to_numpy()
    out.attrs = dict(designations.attrs)
    return out


def classify_roles(
    measures: pd.DataFrame,
    scheme: RoleScheme,
    *,
    designations: pd.DataFrame | None = None,
    names: pd.Series | None = None,
    language: Language = "sv",
    unknown: Literal["fail", "skip"] | None = None,
) -> pd.DataFrame:
    """Give every place exactly one role, with the reason.

    Roles are tried from the highest; a place gets the first role all of whose rules
    hold. A rule on a measure that is not known for the place (no jobs data, say)
    does not hold (``unknown = "fail"``, the scheme's default): the place does not get
    that role, and its reason names the missing measure ("not regional core: job
    ratio not known"). With ``unknown = "skip"`` (strukturbild 0.1) such a rule is left
    out and the role's other rules decide; a role whose rules are all unknown is then
    given only by designation. A role with no rules is given only by designation,
    except the scheme's last role, which every remaining place gets. A designation
    whose ``role`` is a role of the scheme pins that role; with several, the scheme's
    order decides.

    Parameters
    ----------
    measures
        Place measures (see :func:`strukturbild.analysis.places.place_measures`), index place ids.
    scheme
        The role scheme.
    designations
        A designation list (:func:`strukturbild.readers.read_designations`), or several
        concatenated; checked by :func:`match_designations`.
    names
        Place names, for designations given by name.
    language
        Language of the reasons and labels.
    unknown
        ``"fail"`` or ``"skip"``; default: the scheme's ``unknown``.

    Returns
    -------
    pandas.DataFrame
        ``role`` (ordered categorical of role keys, highest first), ``role_label``,
        ``role_reason``, ``role_derived`` (the role from the rules alone),
        ``role_designated`` (the role a designation pinned, missing for none),
        ``designations`` (the place's designations, "; "-joined, "" for none).
        ``attrs["unknown_measures"]`` counts the places a missing measure kept from a
        role (``fail``) or whose rules skipped one (``skip``): ``places``, and by
        ``roles`` and ``measures``.

    Examples
    --------
    >>> from strukturbild.config import default_role_scheme
    >>> m = pd.DataFrame({"population": [41299, 45000, 1500],
    ...                   "jobs": [25779, np.nan, np.nan],
    ...                   "job_ratio": [1.25, np.nan, np.nan],
    ...                   "rank_in_area": [1, 1, 3]}, index=["k", "u", "s"])
    >>> r = classify_roles(m, default_role_scheme(), language="en")
    >>> r.loc["k", "role"]
    'regional_karna'
    >>> r.loc["k", "role_reason"]  # doctest: +NORMALIZE_WHITESPACE
    'population 41 299 >= 15 000 and jobs 25 779 >= 10 000 and job ratio 1.25 >= 0.85'
    >>> r.loc["u", "role"]
    'lokal_karna'
    >>> r.loc["u", "role_reason"].split("; ")  # doctest: +NORMALIZE_WHITESPACE
    ['rank in kommun 1 == 1 and population 45 000 >= 5 000',
     'not regional core: jobs not known, job ratio not known']
    >>> r.loc["s", "role_reason"]
    'population 1 500 < 2 000 (serviceort)'
    >>> r.attrs["unknown_measures"]["roles"]
    {'regional_karna': 1}
    """
    mode = unknown or scheme.unknown
    if mode not in ("fail", "skip"):
        raise ConfigError(f"unknown must be 'fail' or 'skip', got {mode!r}")
    keys = scheme.keys
    n = len(measures)
    derived: list[str] = [""] * n
    reasons: list[str] = [""] * n
    last = scheme.roles[-1]
    joiner = " och " if language == "sv" else " and "
    by_role: dict[str, int] = {}
    by_measure: dict[str, int] = {}
    n_places = 0
    # plain dicts: a row of a DataFrame (iloc) costs tens of microseconds, and this
    # loop runs once per place (200,000 places: seconds)
    rows = measures.to_dict("records")
    for pos in range(n):
        row = rows[pos]
        blocked: list[tuple[str, list[RoleRule]]] = []
        for role in scheme.roles[:-1]:
            if not role.rules:
                continue
            texts, missing, failed = [], [], False
            for rule in role.rules:
                v = row.get(rule.measure, np.nan)
                v = float(v) if v is not None and not pd.isna(v) else math.nan
                if math.isnan(v):
                    missing.append(rule)
                    continue
                if not _holds(v, rule):
                    failed = True
                    break
                texts.append(_rule_text(v, rule, language))
            if failed:
                continue
            if missing:
                blocked.append((role.key, missing))
            if missing and (mode == "fail" or not texts):
                continue
            reasons[pos] = joiner.join(texts) + (
                f" ({', '.join(_unknown_text(r, language) for r in missing)})" if missing
                else "")
            derived[pos] = role.key
            break
        else:
            derived[pos] = last.key
            reasons[pos] = _fallback_reason(row, scheme, language)
        if blocked:
            n_places += 1
            for key, _ in blocked:
                by_role[key] = by_role.get(key, 0) + 1
            for m in dict.fromkeys(r.measure for _, rules in blocked for r in rules):
                by_measure[m] = by_measure.get(m, 0) + 1
            if mode == "fail":
                reasons[pos] += "; " + "; ".join(
                    _blocked_text(scheme, key, rules, language) for key, rules in blocked)
    derived_s = pd.Series(derived, index=measures.index)
    final = derived_s.copy()
    pinned_s = pd.Series(None, index=measures.index, dtype=object)
    desig_text = pd.Series("", index=measures.index, dtype=object)
    if designations is not None and len(designations):
        matched = match_designations(designations, scheme, names, places=measures.index)
        for place, grp in matched.groupby("place_id", sort=True):
            pid = str(place)
            desig_text[pid] = "; ".join(dict.fromkeys(grp["designation"]))
            pinned = [r for r in keys if r in set(grp["role"])]
            if not pinned:
                continue
            chosen = pinned[0]
            g = grp[grp["role"] == chosen].iloc[0]
            chosen_label = scheme.role(chosen).label(language)
            # The reason names the list's publisher and year; the full source is in the data.
            by = f"{str(g['source']).split(',')[0]}, {g['year']}".strip(", ")
            dlabel = scheme.role(str(derived_s[pid])).label(language).lower()
            if language == "sv":
                reasons_pid = f"utpekad som {chosen_label.lower()} ({by}); enligt reglerna {dlabel}"
            else:
                reasons_pid = f"designated {chosen_label.lower()} ({by}); rules give {dlabel}"
            i = measures.index.get_loc(pid)
            assert isinstance(i, int)
            reasons[i] = reasons_pid + f": {reasons[i]}"
            final[pid] = chosen
            pinned_s[pid] = chosen
    cat = pd.CategoricalDtype(list(keys), ordered=True)
    labels = {r.key: r.label(language) for r in scheme.roles}
    out = pd.DataFrame(
        {
            "role": final.astype(cat),
            "role_label": final.map(labels).astype(object),
            "role_reason": pd.Series(reasons, index=measures.index, dtype=object),
            "role_derived": derived_s.astype(cat),
            "role_designated": pinned_s.astype(cat),
            "designations": desig_text,
        },
        index=measures.index,
    )
    out.attrs["unknown_measures"] = {"mode": mode, "places": n_places, "roles": by_role,
                                     "measures": by_measure}
    return out


def _blocked_text(scheme: RoleScheme, key: str, rules: list[RoleRule],
                  language: Language) -> str:
    label = scheme.role(key).label(language).lower()
    missing = ", ".join(_unknown_text(r, language) for r in rules)
    return f"inte {label}: {missing}" if language == "sv" else f"not {label}: {missing}"


def _fallback_reason(row: Mapping[Any, Any], scheme: RoleScheme, language: Language) -> str:
    """Why a place got the last role: the first failing rule of the lowest ruled role."""
    for role in reversed(scheme.roles[:-1]):
        for rule in role.rules:
            v = row.get(rule.measure, np.nan)
            if v is not None and not pd.isna(v) and not _holds(float(v), rule):
                return f"{_rule_text(float(v), rule, language, negate=True)} ({role.key})"
    return "inga regler uppfyllda" if language == "sv" else "no rule of a higher role holds"


def joint_designations(designations: pd.DataFrame, roles: pd.DataFrame,
                       names: pd.Series | None = None, *, scheme: RoleScheme) -> pd.Series:
    """The joint designation (``group``) each place is part of, "" for none.

    Rows of a designation list that share a ``group`` designate their places as one
    (Region Skåne's "Kristianstad–Hässleholm" growth engine). A place in several
    groups gets the group of the designation that pinned its role, else its first.

    Parameters
    ----------
    designations
        The designation list(s), with a ``group`` column (empty for single places).
    roles
        :func:`classify_roles`' result (its ``role`` column), indexed by place id.
    names
        Place names, for designations given by name.
    scheme
        The role scheme (the designations are matched as :func:`match_designations`
        matches them).

    Examples
    --------
    >>> from strukturbild.config import default_role_scheme
    >>> m = pd.DataFrame({"population": [41299, 18914], "rank_in_area": [1, 1]},
    ...                  index=["1290TC112", "1293TC105"])
    >>> d = pd.DataFrame({"place_id": ["1290TC112", "1293TC105"], "name": ["", ""],
    ...     "designation": ["tillväxtmotor"] * 2, "role": ["regional_karna"] * 2,
    ...     "source": ["Region Skåne"] * 2, "year": ["2022"] * 2,
    ...     "group": ["Kristianstad–Hässleholm"] * 2})
    >>> r = classify_roles(m, default_role_scheme(), designations=d, unknown="skip")
    >>> joint_designations(d, r, scheme=default_role_scheme()).tolist()
    ['Kristianstad–Hässleholm', 'Kristianstad–Hässleholm']
    """
    out = pd.Series("", index=roles.index, dtype=object)
    if "group" not in designations.columns or not (designations["group"] != "").any():
        return out
    with warnings.catch_warnings():  # classify_roles has warned about these already
        warnings.simplefilter("ignore", StrukturbildWarning)
        matched = match_designations(designations, scheme,
                                     names.reindex(roles.index) if names is not None else None,
                                     places=roles.index)
    matched = matched[matched["group"] != ""]
    role = roles["role"].astype(str)
    for key, grp in matched.groupby("place_id", sort=True):
        pinned = grp[grp["role"] == role[str(key)]]
        out[str(key)] = str((pinned if len(pinned) else grp)["group"].iloc[0])
    return out


def compare_roles(roles: pd.DataFrame, names: pd.Series | None = None,
                  groups: pd.Series | None = None) -> pd.DataFrame:
    """Designated against derived role for every place.

    Returns one row per place: ``name``, ``designations``, ``role`` (the role the
    place has), ``role_derived`` (from the rules alone), ``designated`` (whether a
    designation pinned the role: from ``role_designated``, the designations as data)
    and ``agree`` (role equals derived role); with ``groups``
    (:func:`joint_designations`), also ``group``, the joint designation.

    Examples
    --------
    >>> from strukturbild.config import default_role_scheme
    >>> m = pd.DataFrame({"population": [33466], "job_ratio": [np.nan],
    ...                   "rank_in_area": [1]}, index=["1282TC108"])
    >>> d = pd.DataFrame({"place_id": ["1282TC108"], "name": ["Landskrona"],
    ...     "designation": ["regional kärna"], "role": ["regional_karna"],
    ...     "source": ["Region Skåne"], "year": ["2022"]})
    >>> r = classify_roles(m, default_role_scheme(), designations=d)
    >>> compare_roles(r).loc["1282TC108", ["role", "role_derived", "agree"]].to_dict()
    {'role': 'regional_karna', 'role_derived': 'lokal_karna', 'agree': False}
    """
    out = pd.DataFrame(index=roles.index)
    if names is not None:
        out["name"] = names.reindex(roles.index)
    out["designations"] = roles["designations"]
    out["role"] = roles["role"].astype(str)
    out["role_derived"] = roles["role_derived"].astype(str)
    out["designated"] = roles["role_designated"].notna().to_numpy(dtype=bool)
    out["agree"] = np.asarray(out["role"] == out["role_derived"])
    if groups is not None:
        out["group"] = groups.reindex(roles.index).fillna("").astype(object)
    return out


def role_agreement(roles: pd.DataFrame, scheme: RoleScheme) -> dict[str, dict[str, Any]]:
    """How far the rules alone name the places a designation list names, role by role.

    A designation and a rule mean the same thing where the list pins a role that the
    scheme also derives by rules (Region Skåne's "regional kärna", not its
    "tillväxtmotor", which only designation gives). For each such role, the places
    the list puts at that role or higher (``role_designated``) are set against the
    places the rules put there (``role_derived``): a designated storstad is a
    regional kärna too. ``agreement`` is the share of the places either names that
    both name (1.0: the same places; the Jaccard index), ``designated_only`` and
    ``derived_only`` the place ids on one side only.

    Parameters
    ----------
    roles
        :func:`classify_roles`' result (``role_derived``, ``role_designated``).
    scheme
        The role scheme (its order, and which roles have rules).

    Returns
    -------
    dict
        Role key → ``designated``, ``derived``, ``both`` (counts), ``agreement``
        (rounded to 4 decimals), ``designated_only``, ``derived_only`` (sorted ids);
        empty when no designation pins a role with rules.

    Examples
    --------
    >>> from strukturbild.config import default_role_scheme
    >>> m = pd.DataFrame({"population": [325069, 94393, 33466, 29490],
    ...                   "jobs": [200565, 66093, 13023, 13657],
    ...                   "job_ratio": [1.23, 1.40, 0.78, 0.93], "rank_in_area": [1, 1, 1, 1]},
    ...                  index=["malmo", "lund", "landskrona", "angelholm"])
    >>> d = pd.DataFrame({"place_id": ["malmo", "lund", "landskrona"], "name": [""] * 3,
    ...     "designation": ["regional kärna"] * 3, "role": ["regional_karna"] * 3,
    ...     "source": ["Region Skåne"] * 3, "year": ["2022"] * 3})
    >>> r = classify_roles(m, default_role_scheme(), designations=d)
    >>> a = role_agreement(r, default_role_scheme())["regional_karna"]
    >>> a["both"], a["agreement"], a["designated_only"], a["derived_only"]
    (2, 0.5, ['landskrona'], ['angelholm'])
    """
    keys = list(scheme.keys)
    rank = {k: i for i, k in enumerate(keys)}
    n = len(keys)
    derived = np.array([rank.get(str(x), n) for x in roles["role_derived"].astype(object)])
    pinned = np.array([n if x is None or pd.isna(x) else rank.get(str(x), n)
                       for x in roles["role_designated"].astype(object)])
    ids = np.asarray([str(i) for i in roles.index], dtype=object)
    out: dict[str, dict[str, Any]] = {}
    for key in keys:
        if not scheme.role(key).rules or key == keys[-1] or not (pinned == rank[key]).any():
            continue
        d_set = pinned <= rank[key]
        r_set = derived <= rank[key]
        both = int((d_set & r_set).sum())
        either = int((d_set | r_set).sum())
        out[key] = {
            "designated": int(d_set.sum()),
            "derived": int(r_set.sum()),
            "both": both,
            "agreement": round(both / either, 4) if either else 1.0,
            "designated_only": sorted(ids[d_set & ~r_set].tolist()),
            "derived_only": sorted(ids[r_set & ~d_set].tolist()),
        }
    return out
