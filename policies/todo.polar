# The Todo application of the OpenID AuthZEN working group's interop scenario: a shared
# todo list, asked about through the AuthZEN Authorization API (docs/authzen.md).
# Source, cited by key beside each rule:
#   [T] OpenID AuthZEN interop, "Payload Spec" of the Todo scenario (repository
#       openid/authzen, interop/authzen-interop-website/docs/scenarios/todo-1.1/index.md)
# Quotes below are from that page. Its five actions, each with its permission:
#
#   View a user's information   can_read_user
#   View all Todos              can_read_todos
#   Create a Todo               can_create_todo
#   (Un)complete a Todo         can_update_todo
#   Delete a Todo               can_delete_todo
#
# [T] "There are four roles defined:
#   viewer - able to view the shared todo list (can_read_todos), as well as information
#            about each of the owners of a Todo (notably, their picture) (can_read_user)
#   editor - viewer + the ability to create new Todos (can_create_todo), as well as edit
#            and delete Todos that are owned by that user
#   admin - editor + the ability to delete any Todos (can_delete_todo)
#   evil_genius - editor + the ability to edit Todos that don't belong to the user
#            (can_update_todo)"
#
# The resource types are named as the scenario's requests name them: `user` and `todo`.
# A todo is not stored here: [T] "since the PDPs are not assumed to be stateful,
# resource.properties.ownerID is passed in as a way to designate a Todo's owner." The
# setting authzen_owner_property below makes that property the todo's owner.
#
# One role per member: the scenario gives Rick two ("roles": ["admin", "evil_genius"]), and
# no user admin alone. Here admin includes evil_genius (an admin may also edit any todo),
# so each of the scenario's five users has exactly the rights the scenario gives them.

# ---------------------------------------------------------------- settings
# The page states no invitation lifetime or batch: the service-wide defaults.
setting("invitation_lifetime_hours", 168);
setting("invitation_batch_limit", 100);
# No roles on resources in this style; the service-wide cap applies to the (empty) batch.
setting("grant_batch_limit", 100);
# docs/API.md: the creator of an organization holds its top role.
setting("creator_role", "admin");
# [T] "The resource.properties contains an attribute called ownerID which contains the id
# of the owner (which is ... the email address of the owner)." The AuthZEN endpoints take
# this property of a resource as its owner (a user's id or email: docs/authzen.md).
setting("authzen_owner_property", "ownerID");

# ---------------------------------------------------------------- the todo list
resource Organization {
  roles = ["admin", "evil_genius", "editor", "viewer"];
  permissions = [
    "view", "view_members", "view_invitations", "view_audit", "view_closed_audit",
    "invite_members", "change_roles", "remove_members", "close"
  ];

  # [T] "admin - editor + ...", "evil_genius - editor + ...", "editor - viewer + ...".
  # An admin includes evil_genius here (see the top of this file).
  "evil_genius" if "admin";
  "editor" if "evil_genius";
  "viewer" if "editor";

  "view" if "viewer";
  "view_members" if "viewer";
  # Our addition: the list's members are managed by its admins.
  "view_invitations" if "admin";
  "view_audit" if "admin";
  "view_closed_audit" if "admin";
  "invite_members" if "admin";
  "change_roles" if "admin";
  "remove_members" if "admin";
  "close" if "admin";
}

has_role(actor: User, role: String, org: Organization) if role in actor.roles_on(org);

# [T] "GET /users/{userID}: Get information (e.g. email, picture) associated with a user.
# ... For simplicity, the policy always returns true." Read as: for every user of the list.
resource user {
  permissions = ["can_read_user"];
  relations = { organization: Organization };

  # [T] "viewer - able to view ... information about each of the owners of a Todo"
  "can_read_user" if "viewer" on "organization";
}

resource todo {
  roles = ["owner"];
  permissions = ["can_read_todos", "can_create_todo", "can_update_todo", "can_delete_todo"];
  relations = { organization: Organization };

  # [T] "viewer - able to view the shared todo list (can_read_todos)"
  "can_read_todos" if "viewer" on "organization";
  # [T] "editor - viewer + the ability to create new Todos (can_create_todo)"
  "can_create_todo" if "editor" on "organization";
  # [T] "editor - ... as well as edit and delete Todos that are owned by that user"
  "can_update_todo" if "owner";
  "can_delete_todo" if "owner";
  # [T] "evil_genius - editor + the ability to edit Todos that don't belong to the user"
  "can_update_todo" if "evil_genius" on "organization";
  # [T] "admin - editor + the ability to delete any Todos (can_delete_todo)"
  "can_delete_todo" if "admin" on "organization";
}

# [T] "The policy allows the operation if ... the subject's roles contains the editor role
# AND the subject is the owner of the todo." A viewer who owns a todo is no owner here.
has_role(actor: User, "owner", item: todo) if
    actor.owns(item) and has_role(actor, "editor", item.organization);
has_relation(org: Organization, "organization", person: user) if org = person.organization;
has_relation(org: Organization, "organization", item: todo) if org = item.organization;

# ---------------------------------------------------------------- management
# Our addition (the page manages no members): an admin manages the list's members.
rank("admin", 4);
rank("evil_genius", 3);
rank("editor", 2);
rank("viewer", 1);

resource NewOrganization {
  permissions = ["create"];
}
# Anyone may start a todo list.
has_permission(_actor: User, "create", _request: NewOrganization);

resource Invitation {
  permissions = ["invite", "cancel", "accept", "change_role"];
}
has_permission(actor: User, "invite", invitation: Invitation) if
    has_permission(actor, "invite_members", invitation.organization) and
    rank(invitation.role, _);
has_permission(actor: User, "cancel", invitation: Invitation) if
    has_permission(actor, "invite_members", invitation.organization);
has_permission(actor: User, "change_role", invitation: Invitation) if
    has_permission(actor, "change_roles", invitation.organization) and
    rank(invitation.to_role, _);
has_permission(_actor: User, "accept", invitation: Invitation) if
    invitation.email_matches = true;

resource RoleChange {
  permissions = ["change_role"];
}
# A list keeps at least one admin, so someone can manage its members.
has_permission(actor: User, "change_role", change: RoleChange) if
    has_permission(actor, "change_roles", change.organization) and
    rank(change.to_role, _) and
    not (change.from_role = "admin" and change.last_of_role = true);

resource Membership {
  permissions = ["remove"];
}
has_permission(actor: User, "remove", membership: Membership) if
    has_permission(actor, "remove_members", membership.organization) and
    not (membership.role = "admin" and membership.last_of_role = true);
# Any member may leave, except the last admin.
has_permission(_actor: User, "remove", membership: Membership) if
    membership.is_self = true and
    not (membership.role = "admin" and membership.last_of_role = true);

resource Grant {
  permissions = ["grant", "revoke"];
}
# No roles on resources: access comes from the member's role alone (no rule for Grant).

# The scenario has no teams and no verified domains: nothing allows them (no rule for
# either), so a todo organization refuses them as the policy's answer.
resource Team {
  permissions = ["manage", "assign_role"];
}
resource Domain {
  permissions = ["manage", "configure"];
}
# Nor roles of an organization's own: nothing is delegable and no rule allows defining one.
resource CustomRole {
  permissions = ["define"];
}
reason(_actor: User, "define", _role: CustomRole, "the todo scenario has no custom roles");
reason(_actor: User, "manage", _team: Team, "the todo scenario has no teams");
reason(_actor: User, "assign_role", _team: Team, "the todo scenario has no teams");
reason(_actor: User, "manage", _domain: Domain, "the todo scenario has no verified domains");
reason(_actor: User, "configure", _domain: Domain, "the todo scenario has no verified domains");

# ---------------------------------------------------------------- why a refusal
reason(actor: User, "invite", invitation: Invitation,
       "{a actor_role} may not invite people; Admins do") if
    not has_permission(actor, "invite_members", invitation.organization);
reason(_actor: User, "invite", invitation: Invitation,
       "the todo list has no role {role}: a member is an Admin, Evil Genius, Editor or Viewer") if
    not rank(invitation.role, _);
reason(actor: User, "cancel", invitation: Invitation,
       "{a actor_role} may not cancel invitations; Admins do") if
    not has_permission(actor, "invite_members", invitation.organization);
reason(actor: User, "change_role", invitation: Invitation,
       "{a actor_role} may not change the role of an invitation; Admins do") if
    not has_permission(actor, "change_roles", invitation.organization);
reason(_actor: User, "change_role", invitation: Invitation,
       "the todo list has no role {to_role}") if
    not rank(invitation.to_role, _);
reason(_actor: User, "accept", invitation: Invitation,
       "this invitation was sent to another email address") if
    not invitation.email_matches = true;
reason(actor: User, "change_role", change: RoleChange,
       "{a actor_role} may not change roles; Admins do") if
    not has_permission(actor, "change_roles", change.organization);
reason(_actor: User, "change_role", change: RoleChange,
       "the todo list has no role {to_role}") if
    not rank(change.to_role, _);
reason(_actor: User, "change_role", change: RoleChange,
       "a todo list keeps at least one Admin, and this member is the last one") if
    change.from_role = "admin" and change.last_of_role = true;
reason(_actor: User, "remove", membership: Membership,
       "a todo list keeps at least one Admin, and this member is the last one") if
    membership.role = "admin" and membership.last_of_role = true;
reason(actor: User, "remove", membership: Membership,
       "{a actor_role} may not remove other members; Admins do") if
    membership.is_self = false and
    not has_permission(actor, "remove_members", membership.organization);
reason(_actor: User, "grant", _grant: Grant,
       "the todo list has no roles on resources: access comes from the member's role alone");
reason(_actor: User, "revoke", _grant: Grant,
       "the todo list has no roles on resources: access comes from the member's role alone");
