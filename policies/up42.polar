# UP42 accounts (an Organization here).
# Source, cited by key beside each rule:
#   [U] UP42 documentation, "User management" (docs.up42.com, getting-started/account/users)
# Quotes below are from that page. Its permission table (Member / Admin) shows each cell as
# a check mark; "[U] table" cells are quoted as "<permission>: Member yes|no, Admin yes|no":
#
#   permission                                  Member  Admin
#   Ordering and asset management
#     Create catalog orders                     yes     yes
#     Create tasking orders                     yes     yes
#     Accept tasking quotations                 no      yes
#     Create processing jobs                    yes     yes
#     See storage assets of other account users yes     yes
#     Switch workspaces                         yes     yes
#   Finance and compliance
#     Buy credits                               no      yes
#     View transaction history                  no      yes
#     Modify organization details               no      yes
#   User management
#     Invite new users                          no      yes
#     Change user roles                         no      yes
#     Remove a user                             no      yes
#     Delete an account                         no      yes
#
# Two roles: member ("A regular user.") and admin ("A user with administrative
# permissions."). An admin can do everything a member can (every "yes" of Member is a
# "yes" of Admin in the table).

# ---------------------------------------------------------------- settings
# [U] "The invitations are valid for 48 hours."
setting("invitation_lifetime_hours", 48);
# [U] "You can invite a maximum of 10 users at a time."
setting("invitation_batch_limit", 10);
# No resource grants in this style; the service-wide cap applies to the (empty) batch form.
setting("grant_batch_limit", 100);
# docs/API.md: the creator of an account becomes its Admin.
setting("creator_role", "admin");
# [U] "The invited users will have their own workspace." The service gives the account's
# creator and each user who accepts an invitation a Workspace of their own (its owner is
# that user; its id this pattern, {user} the user's id), in the same unit of work as the
# membership. Removing the user keeps it ([U] "The removed user's workspace and assets in
# storage will remain accessible to existing users."): see the Workspace block.
setting("personal_resource_type", "Workspace");
setting("personal_resource_id", "ws-{user}");

# ---------------------------------------------------------------- request context
# docs/API.md 1.3, "Request context"; kept together here, apart from the role rules. The
# organization's setting `admin_ip_allowlist` (a list of CIDR ranges) limits where its
# settings may be changed from: the edits of details, legal and billing information ([U]
# table "Modify organization details"). A check of one of these actions on the Organization
# of an org that set a list is allowed only when its context names an `ip` in the list;
# without one, or outside it, it is refused with the reason below. Without a list (or null)
# nothing changes. [U] states no restriction by network: our addition, reading "organization
# details" as the three edit_* actions.
context_attribute("Organization", "ip", "ip");
attribute("Organization", "admin_ip_allowlist");
ip_guarded("edit_details");
ip_guarded("edit_legal");
ip_guarded("edit_billing");
context_refuses(actor: User, action: String, org: Organization) if
  ip_guarded(action) and
  org.admin_ip_allowlist != nil and
  not actor.context.ip_in(org.admin_ip_allowlist);
# A refusal says which: no address sent, or one outside the list.
reason(actor: User, "edit_details", org: Organization,
  "the organization accepts changes to its settings only from its IP allow-list, and the check's context names no ip") if
  context_refuses(actor, "edit_details", org) and actor.context.ip = nil;
reason(actor: User, "edit_details", org: Organization,
  "the organization accepts changes to its settings only from its IP allow-list, and the check's context ip is not in it") if
  context_refuses(actor, "edit_details", org) and actor.context.ip != nil;
reason(actor: User, "edit_legal", org: Organization,
  "the organization accepts changes to its settings only from its IP allow-list, and the check's context names no ip") if
  context_refuses(actor, "edit_legal", org) and actor.context.ip = nil;
reason(actor: User, "edit_legal", org: Organization,
  "the organization accepts changes to its settings only from its IP allow-list, and the check's context ip is not in it") if
  context_refuses(actor, "edit_legal", org) and actor.context.ip != nil;
reason(actor: User, "edit_billing", org: Organization,
  "the organization accepts changes to its settings only from its IP allow-list, and the check's context names no ip") if
  context_refuses(actor, "edit_billing", org) and actor.context.ip = nil;
reason(actor: User, "edit_billing", org: Organization,
  "the organization accepts changes to its settings only from its IP allow-list, and the check's context ip is not in it") if
  context_refuses(actor, "edit_billing", org) and actor.context.ip != nil;

# ---------------------------------------------------------------- account
resource Organization {
  roles = ["admin", "member"];
  permissions = [
    "view", "view_members", "view_invitations", "view_audit", "view_closed_audit",
    "create_catalog_order", "create_tasking_order", "accept_tasking_quotation",
    "create_processing_job", "buy_credits", "view_transactions",
    "edit_details", "edit_legal", "edit_billing",
    "invite_members", "change_roles", "remove_members", "close"
  ];

  "member" if "admin";

  "view" if "member";
  # [U] "To view users who have access to your account, click ... User management. You'll
  # be able to see names, email addresses, and roles of users in your account."
  "view_members" if "member";
  # [U] "Admins will see two tabs: ... To see users invited to your account, go to Pending
  # users."
  "view_invitations" if "admin";
  # Our addition: the audit trail of user management, for those who manage users.
  "view_audit" if "admin";
  # Our addition: a closed organization allows nothing else, but its audit trail stays
  # readable to those who read it before (asked on the facts as they stood when it closed).
  "view_closed_audit" if "admin";

  # [U] table, "Ordering and asset management":
  "create_catalog_order" if "member";        # Create catalog orders: Member yes, Admin yes
  "create_tasking_order" if "member";        # Create tasking orders: Member yes, Admin yes
  "accept_tasking_quotation" if "admin";     # Accept tasking quotations: Member no, Admin yes
  "create_processing_job" if "member";       # Create processing jobs: Member yes, Admin yes
  # "Finance and compliance":
  "buy_credits" if "admin";                  # Buy credits: Member no, Admin yes
  "view_transactions" if "admin";            # View transaction history: Member no, Admin yes
  "edit_details" if "admin";                 # Modify organization details: Member no, Admin yes
  "edit_legal" if "admin";                   #   (legal and billing details are such details)
  "edit_billing" if "admin";
  # "User management":
  "invite_members" if "admin";               # Invite new users: Member no, Admin yes
  "change_roles" if "admin";                 # Change user roles: Member no, Admin yes
  "remove_members" if "admin";               # Remove a user: Member no, Admin yes
  "close" if "admin";                        # Delete an account: Member no, Admin yes
}

has_role(actor: User, role: String, org: Organization) if role in actor.roles_on(org);

# ---------------------------------------------------------------- workspaces and assets
# [U] "The invited users will have their own workspace." A Workspace's owner is its user.
resource Workspace {
  roles = ["owner"];
  permissions = ["view", "switch_to", "create", "edit", "delete"];
  relations = { organization: Organization };

  # [U] table: Switch workspaces: Member yes, Admin yes.
  "view" if "member" on "organization";
  "switch_to" if "member" on "organization";
  # Our reading: a user manages their own workspace; an admin manages every workspace.
  "create" if "owner";
  "edit" if "owner";
  "create" if "admin" on "organization";
  "edit" if "admin" on "organization";
  "delete" if "admin" on "organization";
}

# An Asset sits in a Workspace; its owner is its creator (docs/VOCABULARY.md).
resource Asset {
  roles = ["owner"];
  permissions = ["view", "download", "create", "edit", "delete"];
  relations = { organization: Organization, workspace: Workspace };

  # [U] table: See storage assets of other account users: Member yes, Admin yes.
  # [U] "The removed user's workspace and assets in storage will remain accessible to
  # existing users."
  "view" if "member" on "organization";
  "download" if "member" on "organization";
  # Creating processing jobs and orders (Member yes) creates assets.
  "create" if "member" on "organization";
  # Our reading: an asset's creator and the account's admins may change or delete it.
  "edit" if "owner";
  "delete" if "owner";
  "edit" if "admin" on "organization";
  "delete" if "admin" on "organization";
}

# [U] "The removed user's workspace and assets in storage will remain accessible to
# existing users." Owning counts only while the owner is a user of the account: a removed
# user (whose workspace and assets stay, still naming them as owner) keeps no rights.
has_role(actor: User, "owner", workspace: Workspace) if
    actor.owns(workspace) and account_user(actor, workspace.organization);
has_role(actor: User, "owner", asset: Asset) if
    actor.owns(asset) and account_user(actor, asset.organization);
account_user(actor: User, org: Organization) if
    role in ["admin", "member"] and has_role(actor, role, org);
has_relation(org: Organization, "organization", workspace: Workspace) if org = workspace.organization;
has_relation(org: Organization, "organization", asset: Asset) if org = asset.organization;

# ---------------------------------------------------------------- management
# The roles the management rules may hand out (see rank in _shared.polar): an admin ranks
# above a member. A new role of the Organization block needs its line here.
rank("admin", 2);
rank("member", 1);
# A role the account defines (see _shared.polar) ranks as a Member: an Admin hands it out,
# changes it and removes its holders ([U] "To remove a user, their role must be Member"),
# and hands it out only if they hold everything it gives (hands_out_more).
rank(role: String, 1) if role.startswith("custom:");

resource NewOrganization {
  permissions = ["create"];
}
# [U] "The merging of accounts isn't supported. To be able to receive an invitation to join
# your account, the user must first delete their current account." Read as: a user belongs
# to one UP42 account at most, so one who already has one cannot create another.
has_permission(_actor: User, "create", request: NewOrganization) if
    request.creator_in_style_org = false;

resource Invitation {
  permissions = ["invite", "cancel", "accept", "change_role"];
}
# [U] "Admins can add new users to an existing account". The page has no role picker;
# an admin may invite either role, since an admin may change either role afterwards.
has_permission(actor: User, "invite", invitation: Invitation) if
    has_permission(actor, "invite_members", invitation.organization) and
    rank(invitation.role, _);
# [U] "Admins can cancel a pending user invitation".
has_permission(actor: User, "cancel", invitation: Invitation) if
    has_permission(actor, "invite_members", invitation.organization);
# A pending invitation's role: as for a member's ([U] table: Change user roles: Member no,
# Admin yes), to a role UP42 has.
has_permission(actor: User, "change_role", invitation: Invitation) if
    has_permission(actor, "change_roles", invitation.organization) and
    rank(invitation.to_role, _);
# Only the invited person, and only one who has no other UP42 account ([U] "The merging
# of accounts isn't supported.").
has_permission(_actor: User, "accept", invitation: Invitation) if
    invitation.email_matches = true and
    invitation.actor_in_other_org = false;

resource RoleChange {
  permissions = ["change_role"];
}
# [U] "If the user is a member, click Change to admin. If the user is an admin, click
# Change to member." An account keeps at least one admin (docs/API.md: "the last Owner/Admin
# ... demoted" is refused): someone must be able to manage users.
has_permission(actor: User, "change_role", change: RoleChange) if
    has_permission(actor, "change_roles", change.organization) and
    rank(change.to_role, _) and
    not (change.from_role = "admin" and change.last_of_role = true);

resource Membership {
  permissions = ["remove"];
}
# [U] "Find the user you want to remove. To remove a user, their role must be Member."
# Removing is an admin's action ([U] table: Remove a user: Member no); the page gives
# members no way to leave by themselves, so none is allowed: an admin removes them.
has_permission(actor: User, "remove", membership: Membership) if
    has_permission(actor, "remove_members", membership.organization) and
    rank(membership.role, 1);

resource Grant {
  permissions = ["grant", "revoke"];
}
# UP42 has no per-resource roles: access comes from the account role alone, so no grant
# is ever allowed (there is no has_permission rule for Grant).

# ---------------------------------------------------------------- teams
# The page names no teams. Reading chosen: a team hands its account role to its members,
# so teams are managed by those who change user roles ([U] table: Change user roles:
# Member no, Admin yes), who may give a team either role (or none). UP42 has no resource
# roles, so a team holds no grant (no Grant rule allows one).
resource Team {
  permissions = ["manage", "assign_role"];
}
has_permission(actor: User, "manage", team: Team) if
    has_permission(actor, "change_roles", team.organization);
has_permission(actor: User, "assign_role", team: Team) if
    has_permission(actor, "change_roles", team.organization) and
    team_role_declared(team.to_role);
team_role_declared(role) if role = nil;
team_role_declared(role: String) if rank(role, _);

# ---------------------------------------------------------------- why a refusal
# reason(actor, action, resource, text) (see _shared.polar): one per limit of the rules
# above; a refusal shows the first that holds.
# [U] "The merging of accounts isn't supported."
reason(_actor: User, "create", request: NewOrganization,
       "a user belongs to one UP42 account at most (merging accounts isn't supported), and this user already belongs to one") if
    request.creator_in_style_org = true;

# [U] table: Invite new users: Member no, Admin yes.
reason(actor: User, "invite", invitation: Invitation,
       "{a actor_role} may not invite users; Admins do") if
    not has_permission(actor, "invite_members", invitation.organization);
reason(_actor: User, "invite", invitation: Invitation,
       "UP42 has no role {role}: a user is an Admin or a Member") if
    not rank(invitation.role, _);
reason(actor: User, "cancel", invitation: Invitation,
       "{a actor_role} may not cancel invitations; Admins do") if
    not has_permission(actor, "invite_members", invitation.organization);
reason(actor: User, "change_role", invitation: Invitation,
       "{a actor_role} may not change the role of an invitation; Admins do") if
    not has_permission(actor, "change_roles", invitation.organization);
reason(_actor: User, "change_role", invitation: Invitation,
       "UP42 has no role {to_role}: a user is an Admin or a Member") if
    not rank(invitation.to_role, _);
reason(_actor: User, "accept", invitation: Invitation,
       "this invitation was sent to another email address") if
    not invitation.email_matches = true;
# [U] "To be able to receive an invitation to join your account, the user must first
# delete their current account."
reason(_actor: User, "accept", invitation: Invitation,
       "this user already belongs to another UP42 account, and accounts cannot be merged: they must first delete that account") if
    invitation.actor_in_other_org = true;

# [U] table: Change user roles: Member no, Admin yes.
reason(actor: User, "change_role", change: RoleChange,
       "{a actor_role} may not change roles; Admins do") if
    not has_permission(actor, "change_roles", change.organization);
reason(_actor: User, "change_role", change: RoleChange,
       "UP42 has no role {to_role}: a user is an Admin or a Member") if
    not rank(change.to_role, _);
reason(_actor: User, "change_role", change: RoleChange,
       "an account keeps at least one Admin, and this member is the last one; make another user Admin first") if
    change.from_role = "admin" and change.last_of_role = true;

# [U] table: Remove a user: Member no, Admin yes. "To remove a user, their role must be
# Member."
reason(actor: User, "remove", membership: Membership,
       "{a actor_role} may not remove users, themselves included; an Admin removes them") if
    membership.is_self = true and
    not has_permission(actor, "remove_members", membership.organization);
reason(actor: User, "remove", membership: Membership,
       "{a actor_role} may not remove users; Admins do") if
    membership.is_self = false and
    not has_permission(actor, "remove_members", membership.organization);
reason(actor: User, "remove", membership: Membership,
       "to remove a user, their role must be Member, and this user is {a role}: admins must first be demoted to Member") if
    has_permission(actor, "remove_members", membership.organization) and
    not rank(membership.role, 1);

reason(_actor: User, "grant", _grant: Grant,
       "UP42 has no roles on resources: access comes from the account role alone");
reason(_actor: User, "revoke", _grant: Grant,
       "UP42 has no roles on resources: access comes from the account role alone");


# Teams: [U] table: Change user roles: Member no, Admin yes.
reason(actor: User, "manage", team: Team,
       "{a actor_role} may not manage teams; Admins do") if
    not has_permission(actor, "change_roles", team.organization);
reason(actor: User, "assign_role", team: Team,
       "{a actor_role} may not give teams roles; Admins do") if
    not has_permission(actor, "change_roles", team.organization);
reason(_actor: User, "assign_role", team: Team,
       "UP42 has no role {to_role}: a user is an Admin or a Member") if
    not team_role_declared(team.to_role);
# ---------------------------------------------------------------- verified domains and requests to join (issue 28)
# The page describes neither; these readings follow the rules for inviting, since a
# verified domain and an approved request both bring people in without an invitation.
# A request to join lives as long as an invitation ([U] "The invitations are valid for 48
# hours."), and asks to be a Member ([U] "A regular user.").
setting("join_request_lifetime_hours", 48);
setting("join_request_role", "member");

resource Domain {
  permissions = ["manage", "configure"];
}
# [U] table: Invite new users: Member no, Admin yes.
has_permission(actor: User, "manage", domain: Domain) if
    has_permission(actor, "invite_members", domain.organization);
# Suggesting the account (or nothing), or joining at once with a role UP42 has: as inviting.
has_permission(actor: User, "configure", domain: Domain) if
    has_permission(actor, "manage", domain) and
    not domain.join_mode = "auto";
has_permission(actor: User, "configure", domain: Domain) if
    has_permission(actor, "manage", domain) and
    domain.join_mode = "auto" and
    rank(domain.role, _);

reason(actor: User, "manage", domain: Domain,
       "{a actor_role} may not manage verified domains; Admins do") if
    not has_permission(actor, "invite_members", domain.organization);
reason(actor: User, "configure", domain: Domain,
       "{a actor_role} may not manage verified domains; Admins do") if
    not has_permission(actor, "invite_members", domain.organization);

# ---------------------------------------------------------------- roles an account defines
# The page names no custom roles. Reading chosen: an account's own role is a set of the
# permissions of its table's "Ordering and asset management" and "Finance and compliance"
# rows, defined by Admins (they "Change user roles"), never with one they do not hold
# (hands_out_more in _shared.polar). "User management" stays with the Admin role. An Admin
# holds every delegable permission, so that rule never refuses here, and has no reason.
delegable(_: Organization, action) if action in
    ["view", "view_members", "create_catalog_order", "create_tasking_order",
     "accept_tasking_quotation", "create_processing_job", "buy_credits", "view_transactions",
     "edit_details", "edit_legal", "edit_billing"];
delegable(_: Workspace, action) if action in ["view", "switch_to"];
delegable(_: Asset, action) if action in ["view", "download", "create", "edit", "delete"];
# What such a role gives: what it lists, of the permissions above (see _shared.polar).
has_permission(actor: User, action: String, resource: Resource) if
    action in actor.custom_on(resource) and delegable(resource, action);
resource CustomRole {
  permissions = ["define"];
}
has_permission(actor: User, "define", role: CustomRole) if
    has_permission(actor, "change_roles", role.organization);
reason(actor: User, "define", role: CustomRole,
       "{a actor_role} may not define roles; Admins do") if
    not has_permission(actor, "change_roles", role.organization);
