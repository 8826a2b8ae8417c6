"""An organization's Directory page: its SCIM provisioning (access/scim.py) as it stands,
the token's state, the acting user whose authority the directory's changes carry, the
role mapping and the last change it made. Read only: the token is issued and revoked
with ``flask scim token`` / ``flask scim revoke``."""

from flask.typing import ResponseReturnValue

from access import scim
from access.errors import DomainError
from routes.console.base import HTML, bp
from routes.console.frame import Frame, closed_page, open_frame, render
from routes.openapi import doc


@bp.get("/orgs/<org_id>/directory")
@doc(content_types=HTML)
def directory(org_id: str) -> ResponseReturnValue:
    """The SCIM directory: token state, acting user, default role and role mapping, last
    sync, how many users it provisioned; for those the policy lets view the members."""
    frame = open_frame(org_id, "directory")
    if not isinstance(frame, Frame):
        return frame
    if frame.closed:
        return closed_page(frame)
    found, reason = None, None
    try:
        found = scim.view(frame.context, frame.actor, org_id)
    except DomainError as exc:
        reason = exc.detail
    return render("console/directory.html", frame, directory=found, reason=reason)
