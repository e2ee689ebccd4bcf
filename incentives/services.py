"""Every state change of recognition: leaderboard snapshots, badges, kudos, wallboard links, preferences.

`recognition_after_kpi_run` is what the nightly KPI run triggers (settings.KPI_RUN_FOLLOW_UP_TASKS):
it stores the run's leaderboard ranks, tells reps who moved into a top 3, and awards badges. Every
step is idempotent, keyed by a unique constraint, so a task that runs twice changes nothing more.
"""

from __future__ import annotations

import datetime
import logging
import secrets
from collections import defaultdict

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from incentives import selectors
from incentives.models import (
    KUDOS_MAX_LENGTH,
    Badge,
    BadgeKind,
    BadgeRule,
    Kudos,
    KudosReaction,
    LeaderboardSnapshot,
    NotificationPreference,
    RecognitionSettings,
    WallboardLink,
)
from kpis import engine
from kpis import leaderboards as boards
from kpis.models import KpiRun, KpiValue, PeriodType, ScopeType
from salesteam.i18n import Message, render_for
from salesteam.models import Deal, Stage, Team, User

logger = logging.getLogger(__name__)

# Boards whose top 3 is announced: the month's, company-wide and within each team.
ANNOUNCED_PERIODS = (PeriodType.MONTH,)


# --- Notifications -----------------------------------------------------------------------------------


def notify(*, recipients: list[User], kind: str, key: str, message: Message) -> int:
    """Creates one in-app notification per recipient unless one with this key exists (repeats are
    no-ops), and e-mails each new one after commit unless the recipient opted out. Returns how many
    were created. A callable `message` is written in each recipient's language. Uses the
    notifications of goals/ (the bell), shared by the whole app."""
    from goals.models import Notification
    from goals.tasks import send_notification_email

    people = {r.pk: r for r in recipients if r is not None}
    opted_out = selectors.email_opted_out(list(people))
    created = 0
    for recipient in people.values():
        notification, is_new = Notification.objects.get_or_create(
            recipient=recipient,
            key=key[:120],
            defaults={"kind": kind, "message": render_for(recipient, message)[:500]},
        )
        if not is_new:
            continue
        created += 1
        if recipient.email and recipient.pk not in opted_out:
            transaction.on_commit(lambda pk=notification.pk: send_notification_email.delay(pk))
        else:
            # Marked as handled so that the e-mail task never sends it.
            Notification.objects.filter(pk=notification.pk).update(emailed_at=timezone.now())
    return created


@transaction.atomic
def notification_preference_set(*, user: User, email: bool) -> NotificationPreference:
    """Turns recognition e-mails on or off for the user. Idempotent."""
    preference, _created = NotificationPreference.objects.update_or_create(
        user=user, defaults={"email": email}
    )
    return preference


# --- After a KPI run ---------------------------------------------------------------------------------


def recognition_after_kpi_run(*, run_id: int, today: datetime.date | None = None) -> dict:
    """Snapshots the leaderboards, announces new top 3 places and awards badges for a published run.

    Idempotent: snapshots are keyed by (run, board), notifications by their key, badges by their
    achievement. Called by `incentives.tasks.after_kpi_run`.
    """
    run = KpiRun.objects.filter(pk=run_id, status=KpiRun.Status.SUCCEEDED).first()
    if run is None:
        logger.info("KPI run %s is not published; no recognition to update", run_id)
        return {}
    today = today or timezone.localdate()
    moved = leaderboards_snapshot(run=run, today=today)
    awarded = badges_award(run=run, today=today)
    return {"top3": moved, "badges": awarded}


def _boards_to_snapshot(today: datetime.date):
    teams = list(Team.objects.values_list("pk", "name"))
    reps_by_within = {(ScopeType.COMPANY, 0): boards.participants(within=(ScopeType.COMPANY, 0), day=today)}
    for team_id, _name in teams:
        within = (ScopeType.TEAM, team_id)
        reps_by_within[within] = boards.participants(within=within, day=today)
    team_names = dict(teams)
    for period_type in boards.CALENDAR_PERIODS:
        start = engine.period_start(period_type, today)
        for metric in boards.METRICS:
            for within, names in reps_by_within.items():
                yield ScopeType.REP, metric.slug, within, period_type, start, names
            yield ScopeType.TEAM, metric.slug, (ScopeType.COMPANY, 0), period_type, start, team_names


@transaction.atomic
def leaderboards_snapshot(*, run: KpiRun, today: datetime.date) -> int:
    """Stores the ranks of every calendar leaderboard of the current month, quarter and year for the
    run, and notifies reps who moved into a top 3 of a monthly board. Returns how many moved in.
    Idempotent: keyed by (run, board)."""
    settings_row = RecognitionSettings.load()
    existing = set(LeaderboardSnapshot.objects.filter(run=run).values_list("board", flat=True))
    moved_in = 0
    new_rows = []
    for entity, metric, within, period_type, start, names in _boards_to_snapshot(today):
        key = boards.board_key(entity, metric, period_type, start, within)
        if key in existing:
            continue
        ranks = boards.ranks_for_snapshot(
            metric=metric,
            entity=entity,
            within=within,
            period_type=period_type,
            start=start,
            names=names,
            settings_row=settings_row,
        )
        new_rows.append(LeaderboardSnapshot(run=run, board=key, ranks={str(k): v for k, v in ranks.items()}))
        if entity == ScopeType.REP and period_type in ANNOUNCED_PERIODS:
            moved_in += _announce_top3(run, key, metric, within, ranks)
    LeaderboardSnapshot.objects.bulk_create(new_rows, ignore_conflicts=True)
    return moved_in


def _announce_top3(run: KpiRun, key: str, metric: str, within, ranks: dict[int, int]) -> int:
    previous = boards.previous_ranks(key=key, before_run_id=run.pk)
    if previous is None:  # the first snapshot of a board: nobody "moved"
        return 0
    newcomers = [pk for pk, rank in ranks.items() if rank <= 3 and (previous.get(pk) or 99) > 3]
    if not newcomers:
        return 0
    team_name = None if within[0] == ScopeType.COMPANY else Team.objects.get(pk=within[1]).name
    name = boards.METRIC_BY_SLUG[metric].name
    count = 0
    for user in User.objects.filter(pk__in=newcomers):

        def message(rank=ranks[user.pk]) -> str:
            where = team_name or _("the company")
            return _("You moved into the top 3 on %(board)s in %(where)s: number %(rank)s.") % {
                "board": name,
                "where": where,
                "rank": rank,
            }

        count += notify(recipients=[user], kind="top3", key=f"top3:{key}:{run.pk}", message=message)
    return count


# --- Badges ------------------------------------------------------------------------------------------


def _period_label(period_type: str, start: datetime.date) -> str:
    if period_type == PeriodType.MONTH:
        return date_format(start, "F Y")
    if period_type == PeriodType.QUARTER:
        return _("Q%(q)s %(year)s") % {"q": (start.month - 1) // 3 + 1, "year": start.year}
    return str(start.year)


def _last_completed(period_type: str, today: datetime.date) -> datetime.date:
    return engine.previous_start(period_type, engine.period_start(period_type, today))


def _candidates(rule: BadgeRule, today: datetime.date, settings_row) -> list[tuple[int, str, str]]:
    """(user id, achievement key, achievement text) of everyone who meets the rule now."""
    n, period_type = rule.threshold, rule.period_type
    if rule.kind == BadgeKind.FIRST_WON_DEAL:
        rows = (
            Deal.objects.filter(stage=Stage.WON).values("rep_id").annotate(first=Min("closed_on")).order_by()
        )
        return [
            (r["rep_id"], "first-won", _("First deal won, on %(day)s") % {"day": date_format(r["first"])})
            for r in rows
        ]
    if rule.kind in (BadgeKind.DEALS_WON, BadgeKind.NEW_CUSTOMERS):
        column = "won_count" if rule.kind == BadgeKind.DEALS_WON else "new_customers"
        text = (
            _("%(n)s deals won in %(period)s")
            if rule.kind == BadgeKind.DEALS_WON
            else _("%(n)s new customers in %(period)s")
        )
        rows = KpiValue.objects.filter(
            scope_type=ScopeType.REP, period_type=period_type, **{f"{column}__gte": n}
        ).values_list("scope_id", "period_start", column)
        return [
            (
                rep,
                f"{period_type}:{start.isoformat()}",
                text % {"n": value, "period": _period_label(period_type, start)},
            )
            for rep, start, value in rows
        ]
    if rule.kind == BadgeKind.GOAL_ACHIEVED:
        return [
            (goal.owner_user_id, f"goal:{goal.pk}", _("Goal achieved: %(goal)s") % {"goal": goal})
            for goal in selectors.goals_achieved(user_ids=list(User.objects.values_list("pk", flat=True)))
        ]
    if rule.kind == BadgeKind.GOAL_STREAK:
        ids = list(User.objects.filter(goals__isnull=False).values_list("pk", flat=True).distinct())
        return [
            (user_id, f"goals-from:{first}", _("%(n)s goals achieved in a row") % {"n": length})
            for user_id, (length, first) in selectors.goal_streaks(user_ids=ids).items()
            if length >= n
        ]
    if rule.kind == BadgeKind.ACTIVITY_STREAK:
        ids = list(User.objects.filter(is_active=True).values_list("pk", flat=True))
        return [
            (
                user_id,
                f"days-from:{streak.started_on.isoformat()}",
                _("%(n)s working days in a row with deal activity, from %(day)s")
                % {"n": n, "day": date_format(streak.started_on)},
            )
            for user_id, streak in selectors.activity_streaks(user_ids=ids, today=today).items()
            if streak.length >= n
        ]
    if rule.kind == BadgeKind.TOP_N:
        if rule.metric not in boards.METRIC_BY_SLUG:
            return []
        start = _last_completed(period_type, today)
        names = boards.participants(within=(ScopeType.COMPANY, 0), day=today)
        ranks = boards.ranks_for_snapshot(
            metric=rule.metric,
            entity=ScopeType.REP,
            within=(ScopeType.COMPANY, 0),
            period_type=period_type,
            start=start,
            names=names,
            settings_row=settings_row,
        )
        label = boards.METRIC_BY_SLUG[rule.metric].name
        return [
            (
                rep,
                f"{rule.metric}:{period_type}:{start.isoformat()}",
                _("Number %(rank)s on %(board)s in %(period)s")
                % {"rank": rank, "board": label, "period": _period_label(period_type, start)},
            )
            for rep, rank in ranks.items()
            if rank <= n
        ]
    if rule.kind == BadgeKind.BIGGEST_DEAL:
        start = _last_completed(period_type, today)
        won = Deal.objects.filter(
            stage=Stage.WON, closed_on__gte=start, closed_on__lt=engine.period_end(period_type, start)
        )
        top = won.aggregate(top=Max("amount"))["top"]
        if top is None:
            return []
        return [
            (
                rep,
                f"{period_type}:{start.isoformat()}",
                _("Biggest deal of %(period)s") % {"period": _period_label(period_type, start)},
            )
            for rep in won.filter(amount=top).values_list("rep_id", flat=True).distinct()
        ]
    return []


def badges_award(*, run: KpiRun | None = None, today: datetime.date | None = None) -> int:
    """Awards every active rule's badges to whoever now meets it, once per achievement, and notifies
    them. Idempotent: a (rule, user, achievement) unique constraint, and existing ones are skipped.
    Returns how many badges were created. Called after each published KPI run."""
    today = today or timezone.localdate()
    settings_row = RecognitionSettings.load()
    created = 0
    for rule in BadgeRule.objects.filter(is_active=True).order_by("pk"):
        candidates = _candidates(rule, today, settings_row)
        if not candidates:
            continue
        with transaction.atomic():
            existing = set(Badge.objects.filter(rule=rule).values_list("user_id", "achievement_key"))
            fresh: dict[tuple[int, str], str] = {}
            for user_id, key, text in candidates:
                if (user_id, key) not in existing:
                    fresh[(user_id, key)] = text
            if not fresh:
                continue
            Badge.objects.bulk_create(
                [
                    Badge(
                        rule=rule,
                        user_id=u,
                        achievement_key=k,
                        achievement=t[:300],
                        awarded_on=today,
                        run=run,
                    )
                    for (u, k), t in fresh.items()
                ],
                ignore_conflicts=True,
            )
            created += len(fresh)
            by_user = defaultdict(list)
            for (user_id, key), text in fresh.items():
                by_user[user_id].append((key, text))
            for user in User.objects.filter(pk__in=list(by_user)):
                for key, text in by_user[user.pk]:
                    notify(
                        recipients=[user],
                        kind="badge",
                        key=f"badge:{rule.pk}:{key}",
                        message=lambda text=text, rule=rule: (
                            _("New badge %(icon)s %(badge)s: %(achievement)s")
                            % {"icon": rule.icon, "badge": rule.name, "achievement": text}
                        ),
                    )
    return created


# --- Kudos -------------------------------------------------------------------------------------------


def _clean_message(message: str) -> str:
    text = (message or "").strip()
    if not text:
        raise ValidationError({"message": _("Write a few words of thanks.")})
    if len(text) > KUDOS_MAX_LENGTH:
        raise ValidationError(
            {
                "message": _("Keep it to %(max)s characters (this one has %(n)s).")
                % {"max": KUDOS_MAX_LENGTH, "n": len(text)}
            }
        )
    return text


@transaction.atomic
def kudos_give(
    *,
    sender: User,
    message: str,
    recipient: User | None = None,
    team: Team | None = None,
    deal_id: int | None = None,
    goal_id: int | None = None,
) -> Kudos:
    """Thanks a colleague (recipient), or, for a manager, posts a shout-out to a whole team (team).

    Refuses kudos to oneself, an empty or too long message, a recipient outside the teams the sender
    sees, and a linked deal or goal that either of them cannot see. Notifies the recipient, or each
    member of the team for a shout-out. Called by the page and the API.
    """
    text = _clean_message(message)
    if (recipient is None) == (team is None):
        raise ValidationError({"recipient": _("Choose a colleague, or a team for a shout-out.")})
    if recipient is not None:
        if recipient.pk == sender.pk:
            raise ValidationError({"recipient": _("Kudos go to a colleague, not to yourself.")})
        if not selectors.kudos_recipient_choices(user=sender).filter(pk=recipient.pk).exists():
            raise ValidationError({"recipient": _("Choose a colleague from your teams.")})
        today = timezone.localdate()
        team_id = selectors.main_team_ids([recipient.pk], today).get(recipient.pk)
        audience = [sender, recipient]
    else:
        if team.pk not in selectors.shout_out_team_ids(sender):
            raise ValidationError({"team": _("Only the team's managers can post a shout-out to it.")})
        if deal_id:
            raise ValidationError({"deal": _("A shout-out can link a goal of the team, not a deal.")})
        team_id = team.pk
        audience = [sender]
    if deal_id and not selectors.deal_visible_to(deal_id=deal_id, users=audience):
        raise ValidationError({"deal": _("Link a deal that both of you can see.")})
    if goal_id:
        from goals.models import Goal

        visible = selectors.goal_visible_to(goal_id=goal_id, users=audience)
        if visible and team is not None:
            visible = Goal.objects.filter(pk=goal_id, owner_team=team).exists()
        if not visible:
            raise ValidationError({"goal": _("Link a goal that everyone who reads this can see.")})
    kudos = Kudos.objects.create(
        sender=sender, recipient=recipient, team_id=team_id, message=text, deal_id=deal_id, goal_id=goal_id
    )
    if recipient is not None:
        recipients = [recipient]
        note = gettext_lazy("%(who)s sent you kudos: %(message)s")
    else:
        recipients = [u for u in selectors.team_members(team=team) if u.pk != sender.pk]
        note = gettext_lazy("%(who)s gave the team a shout-out: %(message)s")
    notify(
        recipients=recipients,
        kind="kudos",
        key=f"kudos:{kudos.pk}",
        message=lambda: note % {"who": sender.display_name, "message": text},
    )
    return kudos


@transaction.atomic
def kudos_react(*, user: User, kudos: Kudos, emoji: str) -> bool:
    """Adds the user's reaction to kudos they can see, or takes it back if it is there already.
    Returns whether the reaction is now present."""
    if emoji not in KudosReaction.Emoji.values:
        raise ValidationError({"emoji": _("Choose one of the reactions offered.")})
    deleted, _details = KudosReaction.objects.filter(kudos=kudos, user=user, emoji=emoji).delete()
    if deleted:
        return False
    KudosReaction.objects.get_or_create(kudos=kudos, user=user, emoji=emoji)
    return True


# --- Wallboard links ---------------------------------------------------------------------------------


@transaction.atomic
def wallboard_link_create(*, actor: User, team: Team, label: str = "") -> WallboardLink:
    """Creates a secret wallboard link for a team (admins only)."""
    if not actor.is_admin:
        raise ValidationError(_("Only admins create wallboard links."))
    return WallboardLink.objects.create(
        team=team, label=label, token=secrets.token_urlsafe(32), created_by=actor
    )


@transaction.atomic
def wallboard_link_revoke(*, actor: User, link: WallboardLink) -> WallboardLink:
    """Revokes a wallboard link: the screen shows 404 from its next refresh. Idempotent."""
    if not actor.is_admin:
        raise ValidationError(_("Only admins revoke wallboard links."))
    WallboardLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    link.refresh_from_db()
    return link
