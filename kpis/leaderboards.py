"""Leaderboards: reps (or teams) ranked on one KPI, read from the stored KPI rows.

Calendar periods read one KpiValue row per participant (one query whatever the number of reps); a
chosen date range or a segment asks the engine once for every rep at a time. Ranking is competition
ranking (1, 2, 2, 4); ratios need a minimum activity (RecognitionSettings) and the reps below it are
listed unranked. Movement compares with the ranks the previous published KPI run left
(LeaderboardSnapshot, written by `incentives.services.leaderboards_snapshot`).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import OuterRef, Subquery
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kpis import engine
from kpis.definitions import KPI_BY_SLUG, Parts
from kpis.models import KpiRun, KpiValue, PeriodType, ScopeType
from salesteam import selectors as sales_selectors
from salesteam.models import Segment, Team, User

GOAL_ATTAINMENT = "goal_attainment"


@dataclass(frozen=True)
class Metric:
    slug: str
    name: str
    unit: str
    # The activity a ratio needs before it ranks: "closed" deals, "won" deals or "goals".
    activity: str = ""
    # The stored KPI parts its value and activity read: a company board reads these columns of a row
    # per rep, not all of them.
    parts: tuple[str, ...] = ()


METRICS: list[Metric] = [
    Metric("revenue", _("Revenue"), "money", parts=("revenue",)),
    Metric("gross_margin", _("Gross margin"), "money", parts=("revenue", "cost")),
    Metric("conversion_ratio", _("Conversion ratio"), "percent", "closed", ("won_count", "lost_count")),
    Metric("deals_won", _("Deals won"), "count", parts=("won_count",)),
    Metric("new_customers", _("New customers"), "count", parts=("new_customers",)),
    Metric("average_order_value", _("Average order value"), "money", "won", ("revenue", "won_count")),
    Metric(GOAL_ATTAINMENT, _("Goal attainment"), "percent", "goals"),
]
METRIC_BY_SLUG = {m.slug: m for m in METRICS}
CALENDAR_PERIODS = [PeriodType.MONTH, PeriodType.QUARTER, PeriodType.YEAR]
IN_LIST_MAX = 200  # participants a board names in SQL; a larger board filters the period's rows itself


@dataclass
class Entry:
    id: int
    name: str
    value: Decimal | None
    rank: int | None = None
    previous_rank: int | None = None
    is_new: bool = False
    hidden: bool = False  # the value is withheld by the privacy setting
    is_me: bool = False
    reason: str = ""

    @property
    def movement(self) -> int | None:
        """Places gained (positive) or lost since the previous run; None when not comparable."""
        if self.rank is None or self.previous_rank is None:
            return None
        return self.previous_rank - self.rank

    @property
    def movement_size(self) -> int:
        return abs(self.movement or 0)


@dataclass
class Board:
    metric: Metric
    entity: str  # "rep" or "team"
    within: tuple[str, int]  # ("company", 0), ("team", id) or ("segment", id)
    within_name: str
    start: datetime.date
    end: datetime.date
    period_type: str | None  # None for a chosen range
    ranked: list[Entry] = field(default_factory=list)
    unranked: list[Entry] = field(default_factory=list)
    money_hidden: bool = False
    min_activity: int = 0

    @property
    def key(self) -> str:
        return board_key(self.entity, self.metric.slug, self.period_type, self.start, self.within)

    @property
    def leaders(self) -> list[Entry]:
        return [e for e in self.ranked if e.rank == 1]


def board_key(entity: str, metric: str, period_type: str | None, start: datetime.date, within) -> str:
    return f"{entity}:{metric}:{period_type}:{start.isoformat()}:{within[0]}-{within[1]}"


# --- Participants and access -------------------------------------------------------------------------


def participants(*, within: tuple[str, int], day: datetime.date) -> dict[int, str]:
    """Active reps in the board: current members of the team, or of any team (company, segment)."""
    team_ids = [within[1]] if within[0] == ScopeType.TEAM else None
    reps = User.objects.filter(is_active=True, pk__in=sales_selectors.member_ids(team_ids, day))
    return sales_selectors.display_names(reps)


def board_teams(*, user: User) -> list[Team]:
    """The teams whose boards the user may open: their own and managed teams; every team for admins."""
    if user.is_admin:
        return list(Team.objects.order_by("name"))
    ids = set(sales_selectors.current_team_ids(user))
    if user.is_manager:
        ids |= set(sales_selectors.managed_team_ids(user))
    return list(Team.objects.filter(pk__in=ids).order_by("name"))


def within_get(*, user: User | None, within_type: str, within_id: int) -> tuple[tuple[str, int], str]:
    """The board's population and its name, if the user may see it; 404 otherwise (None: wallboard)."""
    if within_type == ScopeType.COMPANY:
        return (ScopeType.COMPANY, 0), str(_("Company"))
    if within_type == ScopeType.TEAM:
        teams = board_teams(user=user) if user is not None else list(Team.objects.filter(pk=within_id))
        team = next((t for t in teams if t.pk == within_id), None)
        if team is None:
            raise Http404
        return (ScopeType.TEAM, team.pk), team.name
    if within_type == ScopeType.SEGMENT:
        segment = Segment.objects.filter(pk=within_id).first()
        if segment is None:
            raise Http404
        return (ScopeType.SEGMENT, segment.pk), segment.name
    raise Http404


def money_hidden_for(user: User | None, reps_see_money: bool) -> bool:
    if user is not None and (user.is_admin or user.is_manager):
        return False
    return not reps_see_money


# --- Values ------------------------------------------------------------------------------------------


def _value(metric: Metric, parts: Parts) -> Decimal | None:
    if metric.slug == "deals_won":
        return Decimal(parts.won_count)
    value = KPI_BY_SLUG[metric.slug].evaluate(parts)["value"]
    return None if value is None else Decimal(value)


def _activity(metric: Metric, parts: Parts) -> int:
    return {"closed": parts.won_count + parts.lost_count, "won": parts.won_count}.get(metric.activity, 0)


def _among(queryset, field: str, ids: list[int]):
    """`queryset` narrowed to `ids` in SQL when they are few; past IN_LIST_MAX the caller keeps its
    rows in Python. A company board's 2,000 ids as query parameters cost 15 ms of CPU to compile and
    parse, five times more than reading every rep's row of the period."""
    return queryset.filter(**{f"{field}__in": ids}) if len(ids) <= IN_LIST_MAX else queryset


def _stored_parts(
    scope_type: str, ids: list[int], period_type: str, start: datetime.date, fields: tuple[str, ...]
) -> dict[int, Parts]:
    """The stored `fields` of each scope's row (the other parts keep their defaults)."""
    rows = _among(
        KpiValue.objects.filter(scope_type=scope_type, period_type=period_type, period_start=start),
        "scope_id",
        ids,
    ).values_list("scope_id", *fields)
    wanted = set(ids)
    # Tuples, not model instances: a company board reads a row per rep.
    return {
        scope_id: Parts(**dict(zip(fields, values, strict=True)))
        for scope_id, *values in rows
        if scope_id in wanted
    }


def _computed_parts(
    scope_type: str, period_type: str | None, start: datetime.date, end: datetime.date, narrow
) -> dict[int, Parts]:
    """One engine call for every scope at once: a chosen range, or a calendar period within a segment."""
    if period_type is None:
        computed = engine.compute(scope_type, date_from=start, date_to=end, custom=True, narrow=narrow)
    else:
        computed = engine.compute(
            scope_type, period_type=period_type, date_from=start, date_to=end, narrow=narrow
        )
    return {scope_id: parts for (scope_id, period), parts in computed.items() if period == start}


def _goal_attainment(
    entity: str, ids: list[int], start: datetime.date, end: datetime.date
) -> dict[int, tuple]:
    """Mean share of target reached over each owner's goals that overlap [start, end): {id: (value, n)}."""
    from goals.models import Goal

    owner = "owner_user_id" if entity == ScopeType.REP else "owner_team_id"
    goals = Goal.objects.filter(
        **{f"{owner}__isnull": False},
        status__in=[*Goal.RUNNING, Goal.Status.ACHIEVED, Goal.Status.MISSED],
        start_on__lt=end,
        end_on__gte=start,
        percent_of_target__isnull=False,
    )
    rows = _among(goals, owner, ids).order_by().values_list(owner, "percent_of_target")
    wanted = set(ids)
    sums: dict[int, list] = {}
    for owner_id, percent in rows:
        if owner_id not in wanted:
            continue
        total = sums.setdefault(owner_id, [Decimal(0), 0])
        total[0] += percent
        total[1] += 1
    return {
        owner_id: ((total / count).quantize(Decimal("0.000001")), count)
        for owner_id, (total, count) in sums.items()
    }


# --- Ranking -----------------------------------------------------------------------------------------


def competition_ranks(values: list[tuple[int, Decimal]], *, higher_is_better: bool = True) -> dict[int, int]:
    """Competition ranking ("1224"): equal values share a rank and the next rank skips the tied places."""
    ordered = sorted(values, key=lambda item: item[1], reverse=higher_is_better)
    ranks: dict[int, int] = {}
    previous, rank = None, 0
    for position, (key, value) in enumerate(ordered, start=1):
        if value != previous:
            rank, previous = position, value
        ranks[key] = rank
    return ranks


def rank_board(
    *,
    metric: Metric,
    entity: str,
    within: tuple[str, int],
    start: datetime.date,
    end: datetime.date,
    period_type: str | None,
    names: dict[int, str],
    settings_row,
    stored: dict[int, Parts] | None = None,
) -> tuple[list[Entry], list[Entry]]:
    """Ranked and unranked entries of a board; values are not yet masked. `stored`: the calendar
    period's stored parts of the participants, when the caller read them for several boards at once."""
    ids = sorted(names)
    scope_type = ScopeType.REP if entity == ScopeType.REP else ScopeType.TEAM
    minimum = {"closed": settings_row.min_closed_deals, "won": settings_row.min_won_deals, "goals": 1}.get(
        metric.activity, 0
    )
    entries: list[Entry] = []
    if metric.slug == GOAL_ATTAINMENT:
        attainment = _goal_attainment(entity, ids, start, end)
        for pk in ids:
            value, count = attainment.get(pk, (None, 0))
            entries.append(Entry(pk, names[pk], value, reason="" if count >= minimum else "no_goal"))
    else:
        narrow = within if within[0] == ScopeType.SEGMENT else None
        if period_type is None or narrow is not None:
            parts = _computed_parts(scope_type, period_type, start, end, narrow)
        elif stored is not None:
            parts = stored
        else:
            parts = _stored_parts(scope_type, ids, period_type, start, metric.parts)
        empty = engine.empty_parts(scope_type)
        for pk in ids:
            p = parts.get(pk) or empty
            value = _value(metric, p)
            reason = ""
            if (metric.activity and _activity(metric, p) < minimum) or value is None:
                reason = "too_little"
            entries.append(Entry(pk, names[pk], value, reason=reason))
    rankable = [e for e in entries if not e.reason]
    ranks = competition_ranks([(e.id, e.value) for e in rankable])
    for entry in rankable:
        entry.rank = ranks[entry.id]
    ranked = sorted(rankable, key=lambda e: (e.rank, e.name.lower()))
    unranked = sorted((e for e in entries if e.reason), key=lambda e: e.name.lower())
    return ranked, unranked


def previous_ranks(*, key: str, before_run_id: int | None) -> dict[int, int] | None:
    """Ranks the newest snapshot before `before_run_id` holds for the board; None if there is none."""
    from incentives.models import LeaderboardSnapshot

    snapshots = LeaderboardSnapshot.objects.filter(board=key)
    if before_run_id is not None:
        snapshots = snapshots.filter(run_id__lt=before_run_id)
    snapshot = snapshots.order_by("-run_id").only("ranks").first()
    return None if snapshot is None else {int(k): v for k, v in snapshot.ranks.items()}


def previous_ranks_of(*, keys: list[str], before_run_id: int | None) -> dict[str, dict[int, int] | None]:
    """`previous_ranks` of several boards in one query."""
    from incentives.models import LeaderboardSnapshot

    earlier = LeaderboardSnapshot.objects.filter(board=OuterRef("board"))
    if before_run_id is not None:
        earlier = earlier.filter(run_id__lt=before_run_id)
    newest = LeaderboardSnapshot.objects.filter(
        board__in=keys, run_id=Subquery(earlier.order_by("-run_id").values("run_id")[:1])
    ).values_list("board", "ranks")
    found = {board: {int(k): v for k, v in ranks.items()} for board, ranks in newest}
    return {key: found.get(key) for key in keys}


def latest_run_id() -> int | None:
    return (
        KpiRun.objects.filter(status=KpiRun.Status.SUCCEEDED)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )


def leaderboard(
    *,
    user: User | None,
    metric: str,
    entity: str = ScopeType.REP,
    within_type: str = ScopeType.COMPANY,
    within_id: int = 0,
    period_type: str | None = PeriodType.MONTH,
    day: datetime.date | None = None,
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
    settings_row=None,
) -> Board:
    """One leaderboard as `user` may see it (None: a wallboard, which sees what a rep sees).

    A calendar period (`period_type` and a `day` in it) or a chosen range [date_from, date_to) with
    `period_type=None`. Teams are ranked company-wide only. A bounded number of queries whatever the
    number of reps.
    """
    from incentives.models import RecognitionSettings

    if metric not in METRIC_BY_SLUG:
        raise Http404
    if entity == ScopeType.TEAM:
        within, within_name = (ScopeType.COMPANY, 0), str(_("Company"))
        names = {t.pk: t.name for t in Team.objects.all()}
    else:
        within, within_name = within_get(user=user, within_type=within_type, within_id=within_id)
        names = participants(within=within, day=timezone.localdate())
    return _board(
        user=user,
        metric=METRIC_BY_SLUG[metric],
        entity=entity,
        within=within,
        within_name=within_name,
        names=names,
        period_type=period_type,
        day=day,
        date_from=date_from,
        date_to=date_to,
        settings_row=settings_row or RecognitionSettings.load(),
        latest_run=latest_run_id(),
    )


def _board(
    *,
    user: User | None,
    metric: Metric,
    entity: str,
    within: tuple[str, int],
    within_name: str,
    names: dict[int, str],
    period_type: str | None,
    day: datetime.date | None,
    date_from: datetime.date | None,
    date_to: datetime.date | None,
    settings_row,
    latest_run: int | None,
    stored: dict[int, Parts] | None = None,
    previous: dict[str, dict[int, int] | None] | None = None,
) -> Board:
    """The board of `names` (its participants, already resolved and allowed) ranked on `metric`.
    `stored` and `previous` (ranks by board key) are what the caller read for several boards at once."""
    today = timezone.localdate()
    if period_type is None:
        if date_from is None or date_to is None or date_from >= date_to:
            raise Http404
        start, end = date_from, date_to
    else:
        start = engine.period_start(period_type, day or today)
        end = engine.period_end(period_type, start)
    ranked, unranked = rank_board(
        metric=metric,
        entity=entity,
        within=within,
        start=start,
        end=end,
        period_type=period_type,
        names=names,
        settings_row=settings_row,
        stored=stored,
    )
    board = Board(
        metric=metric,
        entity=entity,
        within=within,
        within_name=within_name,
        start=start,
        end=end,
        period_type=period_type,
        ranked=ranked,
        unranked=unranked,
        money_hidden=money_hidden_for(user, settings_row.reps_see_money) and metric.unit == "money",
        min_activity={"closed": settings_row.min_closed_deals, "won": settings_row.min_won_deals}.get(
            metric.activity, 0
        ),
    )
    if period_type is not None and within[0] != ScopeType.SEGMENT:
        ranks = (
            previous[board.key]
            if previous is not None
            else previous_ranks(key=board.key, before_run_id=latest_run)
        )
        if ranks is not None:
            for entry in ranked:
                entry.previous_rank = ranks.get(entry.id)
                entry.is_new = entry.previous_rank is None
    me = user.pk if user is not None and entity == ScopeType.REP else None
    for entry in (*ranked, *unranked):
        entry.is_me = entry.id == me
        if board.money_hidden and not entry.is_me:
            entry.hidden = True
            entry.value = None
    return board


def ranks_for_snapshot(
    *,
    metric: str,
    entity: str,
    within: tuple[str, int],
    period_type: str,
    start: datetime.date,
    names: dict[int, str],
    settings_row,
) -> dict[int, int]:
    """The ranks of a calendar board, unmasked, for the nightly snapshot."""
    ranked, _unranked = rank_board(
        metric=METRIC_BY_SLUG[metric],
        entity=entity,
        within=within,
        start=start,
        end=engine.period_end(period_type, start),
        period_type=period_type,
        names=names,
        settings_row=settings_row,
    )
    return {entry.id: entry.rank for entry in ranked}


def hall_of_fame(*, user: User | None, team_id: int, day: datetime.date, settings_row=None) -> list[Board]:
    """The month's board of every metric within a team, for the recognition page and the wallboard.
    The team, its people, the latest run, the month's stored parts and the boards' previous ranks are
    read once for all the boards."""
    from incentives.models import RecognitionSettings

    settings_row = settings_row or RecognitionSettings.load()
    within, within_name = within_get(user=user, within_type=ScopeType.TEAM, within_id=team_id)
    names = participants(within=within, day=timezone.localdate())
    latest_run = latest_run_id()
    month = engine.period_start(PeriodType.MONTH, day)
    fields = tuple(dict.fromkeys(part for metric in METRICS for part in metric.parts))
    stored = _stored_parts(ScopeType.REP, sorted(names), PeriodType.MONTH, month, fields)
    previous = previous_ranks_of(
        keys=[board_key(ScopeType.REP, m.slug, PeriodType.MONTH, month, within) for m in METRICS],
        before_run_id=latest_run,
    )
    return [
        _board(
            user=user,
            metric=m,
            entity=ScopeType.REP,
            within=within,
            within_name=within_name,
            names=names,
            period_type=PeriodType.MONTH,
            day=day,
            date_from=None,
            date_to=None,
            settings_row=settings_row,
            latest_run=latest_run,
            stored=stored,
            previous=previous,
        )
        for m in METRICS
    ]
