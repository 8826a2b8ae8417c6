"""The browser console for org admins and reviewers: server-rendered pages under /console.

One blueprint (``bp``, routes/console/base.py), its pages in rooms by family:

- ``sessions``: logging in and out, sessions kept on the server
  (``models.console.ConsoleSession``: the cookie holds a random id, the table its hash and
  the key's row, never the key; logging out, a revoked key, an expired or idle session end
  it at once) and CSRF on every form;
- ``results``: a change's result waits in the session, encrypted (Fernet) with a key
  derived from the server's secret and the session id, until its page shows it once;
- ``frame``: what every page of an organization shares, and post/redirect/get changes;
- ``home`` (the acting user, opening and creating organizations), ``members`` (an
  organization's page and a member's), ``invitations``, ``resources``, ``settings``,
  ``audit``, ``policies`` (matrices, diff and replay against the versions
  ops/snapshots.py lists), ``playground``, ``directory`` (SCIM provisioning), ``teams``,
  ``roles`` (an organization's own roles), ``domains`` (verified domains, requests to
  join).

Every read and change calls the domain core (``access/``) with a Context like the API's,
after the same input checks as the API (its marshmallow schemas): the console can do
nothing the API would not. Only what the acting user may see: a section the policy
refuses is absent, or one line saying why in the policy's words; buttons the policy
refuses are disabled with the reason, asked as the write asks (access/console_views.py);
the core decides again on submit. Server-rendered, no build step, no inline script (the
CSP allows none): one static script adds conveniences; every page works without it.
"""

from routes.console import (  # noqa: F401  (each registers its pages on bp)
    audit,
    directory,
    domains,
    home,
    invitations,
    members,
    playground,
    policies,
    resources,
    results,
    roles,
    sessions,
    settings,
    teams,
)
from routes.console.base import bp

__all__ = ["bp"]
