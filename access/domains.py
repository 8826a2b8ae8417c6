"""Verified domains: an organization adds a domain, publishes the TXT token the service
gives it, and asks the service to verify it; a verified domain then offers its users
nothing, a suggestion (they may ask to join: access/join_requests.py), or joining at once
with a default role, as the organization chooses and its policy allows.

The policy decides on a ``Domain`` management resource: ``manage`` (add, verify, remove)
and ``configure`` (shown ``join_mode`` and, for ``auto``, the ``role`` a join gives). Each
style reads them as its rules for inviting (policies/<style>.polar, "verified domains").

The token is looked up with dnspython at ``_orgauthz-challenge.<domain>`` (a TXT record
``orgauthz-domain-verification=<token>``), on the nameserver of the ``DNS_NAMESERVER``
setting (the system's resolvers when empty), outside any lock: the lookup may take seconds,
and only its answer is written, in a unit of work that decides again. A domain is verified
by one organization at most (``Domain.verified_name`` is unique): the second is refused
with a 409 naming ``domain``, also when two verify at once. A token not found leaves the
domain pending with why (``check_error``) and answers a 409 naming ``domain``.
"""

import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.resolver
from marshmallow import fields

from access import refusals
from access.context import Context
from access.decisions import require
from access.errors import Conflict, Invalid, NotFound
from access.events import target_domain
from access.orgs import declared_role, engine_for, org_ref
from access.refusals import Question
from access.shapes import Given, Shape, Time, opt_str, opt_time
from access.targets import TargetBuilder
from access.uow import UnitOfWork
from authz.view import OrgRef
from models import Domain, Membership, User
from models.base import IntegrityError

CHALLENGE = "_orgauthz-challenge"
PREFIX = "orgauthz-domain-verification="
DOMAIN_STATUSES = ("pending", "verified")
JOIN_MODES = ("off", "suggest", "auto")


@dataclass(frozen=True)
class Settings:
    nameserver: str = ""  # "host" or "host:port"; empty: the system's resolvers
    timeout_seconds: float = 5.0


SETTINGS = Settings()


def configure(config: Mapping[str, Any]) -> Settings:
    """Read ``DNS_NAMESERVER`` and ``DNS_TIMEOUT_SECONDS`` from the app's config."""
    global SETTINGS
    SETTINGS = Settings(
        nameserver=str(config.get("DNS_NAMESERVER") or ""),
        timeout_seconds=float(config.get("DNS_TIMEOUT_SECONDS") or Settings.timeout_seconds),
    )
    if SETTINGS.nameserver:
        _resolver()  # a nameserver that does not parse stops startup
    return SETTINGS


def _resolver() -> dns.resolver.Resolver:
    """A resolver asking the ``DNS_NAMESERVER`` (``host``, ``host:port``, ``[v6]:port``), or
    the system's resolvers when it is empty."""
    server = SETTINGS.nameserver
    if not server:
        resolver = dns.resolver.Resolver()
    else:
        host, port = server, "53"
        if server.count(":") == 1 or (server.startswith("[") and "]:" in server):
            host, _, port = server.rpartition(":")
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [host.strip("[]")]
        resolver.port = int(port)
    resolver.lifetime = resolver.timeout = SETTINGS.timeout_seconds
    return resolver


def txt_values(name: str) -> tuple[list[str], str | None]:
    """The TXT strings at ``name`` and why there are none (None: found some)."""
    try:
        answer = _resolver().resolve(name, "TXT")
    except dns.resolver.NXDOMAIN:
        return [], f"{name} does not exist"
    except dns.resolver.NoAnswer:
        return [], f"{name} has no TXT record"
    except dns.exception.Timeout:
        return [], "the DNS server did not answer in time; try again"
    except dns.exception.DNSException as exc:
        return [], f"the DNS lookup failed ({type(exc).__name__}); try again"
    found = [b"".join(r.strings).decode("utf-8", "replace") for r in answer]
    return found, None


class DomainOut(Shape):
    id = fields.String(required=True)
    org_id = fields.String(required=True)
    domain = fields.String(required=True, attribute="name")
    status = fields.String(required=True, metadata={"description": "pending or verified"})
    txt_name = fields.String(required=True, metadata={"description": "the TXT record's name"})
    txt_value = fields.String(required=True, metadata={"description": "the value to publish"})
    join_mode = fields.String(required=True, metadata={"description": "off, suggest or auto"})
    join_role = opt_str()
    added_by = opt_str()
    created_at = opt_time()
    verified_at = opt_time()
    checked_at = Time(required=True, allow_none=True, metadata={"description": "last lookup"})
    check_error = opt_str()


DOMAIN = DomainOut()


def as_dict(d: Domain) -> dict:
    """The API form of a domain (``DomainOut``), with the record to publish."""
    return DOMAIN.answer(Given(d, txt_name=f"{CHALLENGE}.{d.name}", txt_value=f"{PREFIX}{d.token}"))


def _audit_view(d: Domain) -> dict:
    return {
        "domain": d.name,
        "status": d.status,
        "join_mode": d.join_mode,
        "join_role": d.join_role,
    }


def _stored(org_id: str, domain_id: str) -> Domain:
    found = Domain.of_org(org_id, domain_id)
    if found is None:
        raise NotFound(f"no domain {domain_id!r} in {org_id!r}")
    return found


def _taken(org_id: str, name: str) -> Conflict:
    return Conflict(
        f"the domain {name} is verified by another organization",
        {"domain": ["verified by another organization"]},
    )


MANAGE = {"join_mode": "off"}  # what ``manage`` shows: the attributes are not read by it


def _require_manage(
    ctx: Context, targets: TargetBuilder, actor: str, org_id: str, what: str
) -> None:
    org = org_ref(targets, org_id)
    target = targets.management(org, "Domain", MANAGE)
    require(ctx.policy, targets, actor, "manage", target, what)


def list_page(ctx: Context, actor: str, org_id: str, limit: int, after: str | None) -> dict:
    """The domains of the org by id; ``manage`` on a Domain. Raises NotFound, Forbidden."""
    targets = TargetBuilder()
    _require_manage(ctx, targets, actor, org_id, f"view the domains of {org_id}")
    found = Domain.page(org_id, limit, after)
    return {"items": [as_dict(d) for d in found.rows], "next": found.next}


def get(ctx: Context, actor: str, org_id: str, domain_id: str) -> dict:
    """One domain of the org; ``manage`` on a Domain. Raises NotFound, Forbidden."""
    targets = TargetBuilder()
    _require_manage(ctx, targets, actor, org_id, f"view the domains of {org_id}")
    return as_dict(_stored(org_id, domain_id))


def add(ctx: Context, actor: str, org_id: str, name: str) -> dict:
    """Add ``name`` (checked and lower-cased by the route) with a fresh token, pending.
    Raises NotFound, Forbidden, Conflict (added already; verified by another org)."""
    with UnitOfWork(ctx, org_id) as uow:
        uow.require_management(actor, "manage", "Domain", MANAGE, f"add the domain {name}")
        if Domain.named_in(org_id, name) is not None:
            raise Conflict(f"{org_id} added {name} already", {"domain": ["added already"]})
        if Domain.verified_by_other(org_id, name) is not None:
            raise _taken(org_id, name)
        d = Domain.create(
            id=f"dom-{uuid.uuid4().hex[:20]}",
            org=org_id,
            name=name,
            token=secrets.token_urlsafe(24),
            status="pending",
            added_by=actor,
            created_at=ctx.now(),
        )
        uow.audit(org_id, "domain.add", target_domain(d.id), None, _audit_view(d), actor)
    return as_dict(d)


def verify(ctx: Context, actor: str, org_id: str, domain_id: str) -> dict:
    """Look the token up and mark the domain verified when it is published. Raises
    NotFound, Forbidden, Conflict (the token is not found: the domain stays pending with
    why; verified by another organization)."""
    targets = TargetBuilder()
    _require_manage(ctx, targets, actor, org_id, f"verify a domain of {org_id}")
    d = _stored(org_id, domain_id)
    if d.status == "verified":
        return as_dict(d)
    record = f"{CHALLENGE}.{d.name}"
    values, error = txt_values(record)  # outside the unit: no lock held while DNS answers
    if error is None and f"{PREFIX}{d.token}" not in values:
        error = f"the TXT record {record} does not hold this domain's token"
    try:
        with UnitOfWork(ctx, org_id) as uow:
            what = f"verify the domain {d.name}"
            uow.require_management(actor, "manage", "Domain", MANAGE, what)
            d = _stored(org_id, domain_id)
            now = ctx.now()
            if error is not None:
                d.mark_checked(now, error)
            elif d.status != "verified":
                if Domain.verified_by_other(org_id, d.name) is not None:
                    raise _taken(org_id, d.name)
                before = _audit_view(d)
                d.status, d.verified_name, d.verified_at = "verified", d.name, now
                d.checked_at, d.check_error = now, None
                d.save()
                uow.audit(
                    org_id, "domain.verify", target_domain(d.id), before, _audit_view(d), actor
                )
    except IntegrityError as exc:  # another organization verified it between check and write
        raise _taken(org_id, d.name) from exc
    if error is not None:
        raise Conflict(
            f"the domain {d.name} is not verified: {error}; it stays pending",
            {"domain": [f"publish TXT {record} = {PREFIX}{d.token}, then verify again"]},
        )
    return as_dict(d)


def configure_join(
    ctx: Context, actor: str, org_id: str, domain_id: str, mode: str, role: str | None
) -> dict:
    """Set what a verified domain offers its users: ``off``, ``suggest`` or ``auto`` with
    ``role`` (``configure`` on the Domain, shown the mode and, for auto, the role). The
    domain then carries the actor's authority: an automatic join asks the policy whether
    they may still invite as that role. Raises Invalid (no or undeclared role for auto),
    NotFound, Forbidden, Conflict (not verified)."""
    with UnitOfWork(ctx, org_id) as uow:
        org = uow.org()
        d = _stored(org_id, domain_id)
        attrs: dict = {"join_mode": mode}
        if mode == "auto":
            if not role:
                raise Invalid("automatic joining needs a role", {"join_role": ["required"]})
            attrs["role"] = declared_role(engine_for(ctx, org), role, "join_role", org)
        what = f"let the users of {d.name} " + (
            f"join as {role}"
            if mode == "auto"
            else "see the organization"
            if mode == "suggest"
            else "no longer join"
        )
        uow.require_management(actor, "configure", "Domain", attrs, what)
        if mode != "off" and d.status != "verified":
            raise Conflict(
                f"the domain {d.name} is not verified yet", {"join_mode": ["verify it first"]}
            )
        before = _audit_view(d)
        d.join_mode, d.join_role = mode, (role if mode == "auto" else None)
        d.configured_by = actor
        d.save()
        uow.audit(org_id, "domain.configure", target_domain(d.id), before, _audit_view(d), actor)
    return as_dict(d)


def remove(ctx: Context, actor: str, org_id: str, domain_id: str) -> dict:
    """Remove a domain (``manage``); a verified one is free for another organization then.
    Raises NotFound, Forbidden."""
    with UnitOfWork(ctx, org_id) as uow:
        d = _stored(org_id, domain_id)
        uow.require_management(actor, "manage", "Domain", MANAGE, f"remove the domain {d.name}")
        body = as_dict(d)
        d.delete_instance()
        uow.audit(org_id, "domain.remove", target_domain(d.id), _audit_view(d), None, actor)
    return body


def email_domain(email_key: str) -> str:
    """The domain of an email key (``ann@example.com`` -> ``example.com``)."""
    return email_key.rpartition("@")[2]


def offer_for(org_id: str, email_key: str) -> Domain | None:
    """The verified domain of ``org_id`` that offers something (suggest or auto) to the
    users of ``email_key``'s domain, or None."""
    for d in Domain.offering(email_domain(email_key)):
        if d.org_id == org_id:
            return d
    return None


def suggestions(ctx: Context, user_id: str) -> dict:
    """The open organizations whose verified domain is the user's email domain and offers
    something, that the user is not a member of (of the key's scope): ``{"items": [{"org_id",
    "org_name", "style", "domain", "join"}]}``, ``join`` ``auto`` (asking joins at once) or
    ``request``. Raises NotFound (no such user)."""
    user = User.find(user_id)
    if user is None:
        raise NotFound(f"no user {user_id!r}")
    mine = Membership.org_ids_of(user_id)
    items = []
    for d in Domain.offering(email_domain(user.email_key)):
        if d.org_id in mine or (ctx.orgs is not None and d.org_id not in ctx.orgs):
            continue
        items.append(
            {
                "org_id": d.org_id,
                "org_name": d.org.name,
                "style": d.org.style,
                "domain": d.name,
                "join": "auto" if d.join_mode == "auto" else "request",
            }
        )
    return {"items": items}


def screen_refusals(
    ctx: Context, targets: TargetBuilder, actor: str, org_id: str, roles: list
) -> dict:
    """What the Domains page's buttons would answer, asked as the writes ask (each a
    decision, logged; the write decides again): ``{"manage": why not or None, "suggest":
    ..., "auto": {role: ...}}``. Raises NotFound."""
    org = org_ref(targets, org_id)

    def why(action: str, attrs: dict) -> str | None:
        target = targets.management(org, "Domain", attrs)
        return refusals.denial(ctx.policy, targets, actor, action, target)

    return {
        "manage": why("manage", MANAGE),
        "suggest": why("configure", {"join_mode": "suggest"}),
        "auto": {r: why("configure", {"join_mode": "auto", "role": r}) for r in roles},
    }


def manage_refusal(ctx: Context, actor: str, org_id: str) -> str | None:
    """Why ``actor`` may not manage the org's domains (None: they may): whether the console
    shows its Domains tab. Raises NotFound."""
    targets = TargetBuilder()
    target = targets.management(org_ref(targets, org_id), "Domain", MANAGE)
    return refusals.denial(ctx.policy, targets, actor, "manage", target)


def preview_plan(
    ctx: Context, targets: TargetBuilder, org: OrgRef, action: str, attrs: dict
) -> list[Question]:
    """What ``manage`` or ``configure`` on a Domain asks the policy, for a preview on
    /v1/authorize (access/previews.py), as the writes ask it. Raises Invalid (a mode or
    role the write would refuse)."""
    if action == "manage":
        return [Question("manage", targets.management(org, "Domain", MANAGE), "manage domains")]
    mode = attrs.get("join_mode")
    if mode not in JOIN_MODES:
        raise Invalid(f"a Domain's configure names attributes.join_mode: {', '.join(JOIN_MODES)}")
    shown: dict = {"join_mode": mode}
    if mode == "auto":
        shown["role"] = declared_role(
            engine_for(ctx, org), str(attrs.get("role") or ""), "role", org
        )
    target = targets.management(org, "Domain", shown)
    return [Question("configure", target, f"configure a domain: {mode}")]
