"""QIDO-RS searches over the index, limited to the cases the caller may see (PS3.18 §10.6).

UID keys and the caller's cases narrow the rows in SQL; every other key is matched
on the DICOM JSON of each candidate (:mod:`server.imaging.qido`). A study or series
is represented by its first instance's header plus the attributes computed from the
index (ModalitiesInStudy, NumberOfStudyRelatedSeries, …). Every search is audited,
once per case it returned data of.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, false, func, select, true
from sqlalchemy.orm import Session

from server.accounts.models import Role
from server.audit.service import record_event
from server.cases.access import CasePrincipal
from server.cases.models import Case
from server.imaging.dicom_json import DicomJson, common_attributes, make_element, tag_of
from server.imaging.models import Instance, Series, Study
from server.imaging.qido import Level, SearchQuery, default_tags, result
from server.imaging.wado import AuditedPrincipal

__all__ = ["SearchResult", "search", "visible_case_ids"]

_CHUNK = 500


@dataclass
class SearchResult:
    """One page of answers, whether more follow, and the cases they came from."""

    items: list[DicomJson] = field(default_factory=list)
    more: bool = False
    case_ids: set[str] = field(default_factory=set)


def visible_case_ids(principal: CasePrincipal) -> Select[tuple[str]]:
    """The ids of the cases ``principal`` may see: the rule of
    :func:`server.cases.access.load_case_for`, as a subquery for searches."""
    query = select(Case.id)
    if principal.role is Role.PATIENT:
        return query.where(Case.patient_user_id == principal.user_id)
    if principal.role is Role.RADIOLOGIST:
        return query.where(Case.assigned_radiologist_id == principal.user_id)
    if principal.role is Role.ADMIN:
        return query
    return query.where(false())


def _in(column: Any, uids: list[str] | None) -> ColumnElement[bool]:
    return true() if uids is None else column.in_(uids)


def search(
    session: Session,
    *,
    principal: AuditedPrincipal,
    level: Level,
    query: SearchQuery,
    study_uid: str | None = None,
    series_uid: str | None = None,
    retrieve_url: Callable[..., str],
) -> SearchResult:
    """Search at ``level``, within a study or series when their UIDs come from the path.

    ``retrieve_url(study, series=None, instance=None)`` builds each answer's RetrieveURL.
    Commits the audit events.
    """
    study_uids = _narrow(query.uids("StudyInstanceUID"), study_uid)
    series_uids = _narrow(query.uids("SeriesInstanceUID"), series_uid)
    sop_uids = query.uids("SOPInstanceUID")
    visible = Study.case_id.in_(visible_case_ids(principal))
    finder = {Level.STUDY: _studies, Level.SERIES: _series, Level.INSTANCE: _instances}[level]
    candidates = finder(session, visible, study_uids, series_uids, sop_uids, retrieve_url)
    defaults = default_tags(
        level, study_given=study_uid is not None, series_given=series_uid is not None
    )
    page, more = _page(candidates, query)
    if query.include_all and level is not Level.INSTANCE:
        _widen_to_common(session, page, level)
    out = SearchResult(
        [result(c.record, query, defaults) for c in page], more, {c.case_id for c in page}
    )
    _audit(session, principal=principal, level=level, found=out)
    return out


def _page(candidates: Iterable[_Candidate], query: SearchQuery) -> tuple[list[_Candidate], bool]:
    """The page of matches ``query`` asks for, and whether more follow; candidates are
    drawn lazily, so a search stops reading the index once its page is full."""
    skipped, page = 0, []
    for candidate in candidates:
        if not query.accepts(candidate.record):
            continue
        if skipped < query.offset:
            skipped += 1
        elif len(page) == query.limit:
            return page, True
        else:
            page.append(candidate)
    return page, False


def _narrow(from_query: list[str] | None, from_path: str | None) -> list[str] | None:
    if from_path is None:
        return from_query
    if from_query is None or from_path in from_query:
        return [from_path]
    return []


@dataclass
class _Candidate:
    """A study, series or instance found: its case, index row, and the JSON it is matched
    on (the first instance's header overlaid with ``computed``)."""

    case_id: str
    row_id: int
    head: DicomJson
    computed: DicomJson

    @property
    def record(self) -> DicomJson:
        return {**self.head, **self.computed}


UidFilter = list[str] | None
UrlFor = Callable[..., str]


def _first_instances(session: Session, group: Any, ids: Sequence[int]) -> dict[int, DicomJson]:
    """``group`` (Series.study_id or Instance.series_id) -> the header of its first instance."""
    firsts: dict[int, int] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        rows = session.execute(
            select(group, func.min(Instance.id))
            .select_from(Instance)
            .join(Series, Instance.series_id == Series.id)
            .where(group.in_(chunk))
            .group_by(group)
        )
        firsts.update({key: first for key, first in rows})
    metadata: dict[int, DicomJson] = {}
    wanted = list(firsts.values())
    for start in range(0, len(wanted), _CHUNK):
        rows = session.execute(
            select(Instance.id, Instance.metadata_json).where(
                Instance.id.in_(wanted[start : start + _CHUNK])
            )
        )
        metadata.update({key: value for key, value in rows})
    return {key: metadata.get(first, {}) for key, first in firsts.items()}


def _computed(**values: Any) -> DicomJson:
    """Attributes computed from the index, by keyword."""
    return {tag_of(k): make_element(tag_of(k), v) for k, v in values.items()}


def _studies(
    session: Session,
    visible: ColumnElement[bool],
    study_uids: UidFilter,
    _series_uids: UidFilter,
    _sop_uids: UidFilter,
    retrieve_url: UrlFor,
) -> Iterator[_Candidate]:
    rows = session.scalars(
        select(Study).where(visible, _in(Study.study_instance_uid, study_uids)).order_by(Study.id)
    ).all()
    for chunk in _chunks(_first_per_uid(rows, lambda s: s.study_instance_uid)):
        ids = [s.id for s in chunk]
        heads = _first_instances(session, Series.study_id, ids)
        counts = _study_counts(session, ids)
        for study in chunk:
            n_series, n_instances, modalities = counts.get(study.id, (0, 0, []))
            computed = _computed(
                StudyInstanceUID=study.study_instance_uid,
                ModalitiesInStudy=modalities,
                NumberOfStudyRelatedSeries=n_series,
                NumberOfStudyRelatedInstances=n_instances,
                InstanceAvailability="ONLINE",
                RetrieveURL=retrieve_url(study.study_instance_uid),
            )
            yield _Candidate(study.case_id, study.id, heads.get(study.id, {}), computed)


def _study_counts(session: Session, ids: Sequence[int]) -> dict[int, tuple[int, int, list[str]]]:
    counts: dict[int, tuple[int, int, list[str]]] = {}
    modalities: dict[int, set[str]] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        rows = session.execute(
            select(Series.study_id, Series.modality, func.count(Instance.id))
            .join(Instance, Instance.series_id == Series.id)
            .where(Series.study_id.in_(chunk))
            .group_by(Series.study_id, Series.id, Series.modality)
        )
        for study_id, modality, n in rows:
            n_series, n_instances, _ = counts.get(study_id, (0, 0, []))
            counts[study_id] = (n_series + 1, n_instances + n, [])
            modalities.setdefault(study_id, set()).add(modality)
    return {k: (s, i, sorted(modalities[k])) for k, (s, i, _) in counts.items()}


def _series(
    session: Session,
    visible: ColumnElement[bool],
    study_uids: UidFilter,
    series_uids: UidFilter,
    _sop_uids: UidFilter,
    retrieve_url: UrlFor,
) -> Iterator[_Candidate]:
    rows = session.execute(
        select(Series.id, Series.series_instance_uid, Study.study_instance_uid, Study.case_id)
        .join(Study, Series.study_id == Study.id)
        .where(
            visible,
            _in(Study.study_instance_uid, study_uids),
            _in(Series.series_instance_uid, series_uids),
        )
        .order_by(Study.id, Series.series_number, Series.id)
    ).all()
    for chunk in _chunks(_first_per_uid(rows, lambda r: (r[2], r[1]))):
        ids = [r[0] for r in chunk]
        heads = _first_instances(session, Instance.series_id, ids)
        sizes = _series_sizes(session, ids)
        for series_id, series_uid, study_uid, case_id in chunk:
            computed = _computed(
                StudyInstanceUID=study_uid,
                SeriesInstanceUID=series_uid,
                NumberOfSeriesRelatedInstances=sizes.get(series_id, 0),
                InstanceAvailability="ONLINE",
                RetrieveURL=retrieve_url(study_uid, series_uid),
            )
            yield _Candidate(case_id, series_id, heads.get(series_id, {}), computed)


def _series_sizes(session: Session, ids: Sequence[int]) -> dict[int, int]:
    sizes: dict[int, int] = {}
    for start in range(0, len(ids), _CHUNK):
        rows = session.execute(
            select(Instance.series_id, func.count(Instance.id))
            .where(Instance.series_id.in_(ids[start : start + _CHUNK]))
            .group_by(Instance.series_id)
        )
        sizes.update({key: value for key, value in rows})
    return sizes


def _instances(
    session: Session,
    visible: ColumnElement[bool],
    study_uids: UidFilter,
    series_uids: UidFilter,
    sop_uids: UidFilter,
    retrieve_url: UrlFor,
) -> Iterator[_Candidate]:
    rows = session.execute(
        select(
            Instance.id,
            Instance.case_id,
            Instance.sop_instance_uid,
            Series.series_instance_uid,
            Study.study_instance_uid,
        )
        .join(Series, Instance.series_id == Series.id)
        .join(Study, Series.study_id == Study.id)
        .where(
            visible,
            _in(Study.study_instance_uid, study_uids),
            _in(Series.series_instance_uid, series_uids),
            _in(Instance.sop_instance_uid, sop_uids),
        )
        .order_by(Study.id, Series.series_number, Series.id, Instance.instance_number, Instance.id)
    ).all()
    for chunk in _chunks(_first_per_uid(rows, lambda r: r[2])):
        query = select(Instance.id, Instance.metadata_json).where(
            Instance.id.in_([r[0] for r in chunk])
        )
        headers = {key: value for key, value in session.execute(query)}
        for row_id, case_id, sop, series_uid, study_uid in chunk:
            computed = _computed(
                InstanceAvailability="ONLINE", RetrieveURL=retrieve_url(study_uid, series_uid, sop)
            )
            yield _Candidate(case_id, row_id, headers.get(row_id, {}), computed)


def _chunks(rows: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _first_per_uid(rows: Iterable[Any], key: Callable[[Any], Any]) -> list[Any]:
    """One answer per UID: the same study sent to two cases an admin sees is listed once."""
    seen: set[Any] = set()
    out = []
    for row in rows:
        if (k := key(row)) not in seen:
            seen.add(k)
            out.append(row)
    return out


def _widen_to_common(session: Session, page: list[_Candidate], level: Level) -> None:
    """``includefield=all`` above instance level: every attribute the study's (series')
    instances share, plus the computed ones."""
    group = Series.study_id if level is Level.STUDY else Instance.series_id
    for candidate in page:
        headers = session.scalars(
            select(Instance.metadata_json)
            .join(Series, Instance.series_id == Series.id)
            .where(group == candidate.row_id)
            .order_by(Instance.id)
        )
        candidate.head = common_attributes(headers)


def _audit(
    session: Session, *, principal: AuditedPrincipal, level: Level, found: SearchResult
) -> None:
    for case_id in sorted(found.case_ids) or [None]:
        record_event(
            session,
            actor=principal.actor,
            action="dicomweb.search",
            object_type=str(level),
            case_id=case_id,
            detail=f"results={len(found.items)}",
        )
    session.commit()
