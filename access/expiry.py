"""Access that expires: memberships, grants, team memberships and team grants may carry
``expires_at``.

A decision never allows past it: the decision facts read only what has not lapsed by the
service's clock, and cached facts carry when the first of them lapses (access/targets.py),
on the primary and on a replica alike. This job then removes what lapsed, one unit of work
per organization (the org's row locked first, so a concurrent change waits), and records
each once: an audit line and its event (``member.expired``, ``grant.expired``,
``team.member_expired``, ``team.grant_expired``), the service as actor. A lapsed
membership goes with the member's grants and places in teams, as a removal does. Any
scheduler can run it (``flask access expire``); the worker thread runs it every minute.
"""

from access.context import Context
from access.events import target_grant, target_team, target_user
from access.shapes import iso
from access.uow import UnitOfWork
from models import expiry
from models import members as member_queries


def expire_due(ctx: Context, limit: int = 500) -> int:
    """Remove and record the access past its time. Returns how many rows lapsed."""
    now = ctx.now()
    done = 0
    for org_id in expiry.orgs_with_lapsed(now, limit):
        with UnitOfWork(ctx, org_id) as uow:
            if uow.org_row is None:
                continue
            lapsed = expiry.lapsed_in(org_id, now, limit)  # read again under the lock
            for m in lapsed.memberships:
                dropped = member_queries.drop_memberships(org_id, [m])
                before: dict = {"role": m.role, "expires_at": iso(m.expires_at)}
                before["grants"] = dropped.get(m.user_id, [])
                uow.audit(org_id, "member.expire", target_user(m.user_id), before, None, None)
            gone = {m.user_id for m in lapsed.memberships}
            for g in lapsed.grants:
                if g.user_id in gone:
                    continue  # dropped with the membership above
                g.delete_instance()
                before = {"role": g.role, "expires_at": iso(g.expires_at)}
                target = target_grant(g.resource.type, g.resource.rid, g.user_id)
                uow.audit(org_id, "grant.expire", target, before, None, None)
            for tm in lapsed.team_members:
                if tm.user_id in gone:
                    continue
                tm.delete_instance()
                before = {"user": tm.user_id, "expires_at": iso(tm.expires_at)}
                uow.audit(
                    org_id, "team.member_expire", target_team(tm.team.tid), before, None, None
                )
            for tg in lapsed.team_grants:
                tg.delete_instance()
                res = {"type": tg.resource.type, "id": tg.resource.rid}
                before = {"resource": res, "role": tg.role}
                before["expires_at"] = iso(tg.expires_at)
                uow.audit(org_id, "team.grant_expire", target_team(tg.team.tid), before, None, None)
            done += sum(len(rows) for rows in lapsed)
    return done
