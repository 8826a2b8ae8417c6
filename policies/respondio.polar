# respond.io organizations.
# Sources, cited by key beside each rule:
#   [R1] respond.io help, "Organization Users"
#   [R2] respond.io help, "Organization Overview"
# Quotes below are from those pages.
#
# Four roles that are NOT a ladder: org_admin (Organization Admin), billing_admin,
# user_admin and member. No role includes another; each permission names the roles that
# have it. Every admin role is also a member of the organization for space access only
# where stated.

# ---------------------------------------------------------------- settings
# The pages state no lifetime for invitations. Chosen: 7 days.
setting("invitation_lifetime_hours", 168);
# The pages invite one email at a time; no cap is stated: the service-wide cap of 100.
setting("invitation_batch_limit", 100);
# [R1] "You can only assign a user to 10 spaces at this point."
setting("grant_batch_limit", 10);
# docs/API.md: the creator becomes Organization Admin. [R2] "Upon the first sign-in, the
# platform will prompt the you to create an Organization."
setting("creator_role", "org_admin");
# [R2] "Once the details are submitted and the Organization is created, a new Workspace is
# automatically created with a default name provided by the platform."
setting("initial_resource_type", "Space");
setting("initial_resource_name", "My Workspace");

# ---------------------------------------------------------------- request context
# docs/API.md 1.3, "Request context"; kept together here, apart from the role rules. The
# organization's setting `admin_ip_allowlist` (a list of CIDR ranges) limits where its
# settings may be changed from: the edits of details, legal and billing information ([R2]
# "Organization settings"). A check of one of these actions on the Organization of an org
# that set a list is allowed only when its context names an `ip` in the list; without one,
# or outside it, it is refused with the reason below. Without a list (or null) nothing
# changes. [R1] and [R2] state no restriction by network (the Security link of [R2] leads to
# no setting): our addition, reading "Organization settings" as the three edit_* actions.
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

# ---------------------------------------------------------------- organization
resource Organization {
  roles = ["org_admin", "billing_admin", "user_admin", "member"];
  permissions = [
    "view", "edit_details", "edit_legal", "edit_billing",
    "view_billing", "manage_billing", "manage_subscription", "cancel_subscription",
    "view_users", "view_members", "view_invitations", "view_audit", "view_closed_audit",
    "invite_members", "edit_members", "remove_members",
    "view_spaces", "manage_spaces", "assign_spaces", "close"
  ];

  # [R2] "Organization settings can only be accessed by Organization Admins, Billing Admins
  # and User Admins. Organization members cannot access organization settings".
  # [R1] Billing Admin and User Admin: "View the organization's information".
  "view" if "org_admin";
  "view" if "billing_admin";
  "view" if "user_admin";

  # [R1] Organization Admin: "Manage the organization's information". Billing Admin and
  # User Admin only view it.
  "edit_details" if "org_admin";
  "edit_legal" if "org_admin";

  # [R1] Billing Admin: "Manage the organization's billing information", User Admin:
  # "View the organization's billing information".
  "view_billing" if "org_admin";
  "view_billing" if "billing_admin";
  "view_billing" if "user_admin";
  "manage_billing" if "org_admin";
  "manage_billing" if "billing_admin";
  "edit_billing" if "org_admin";
  "edit_billing" if "billing_admin";

  # [R1] "Manage the organization's subscription": Organization Admin ✅, Billing Admin ✅,
  # User Admin ✖. [R1] Billing Admin "can ... make changes to the subscription".
  "manage_subscription" if "org_admin";
  "manage_subscription" if "billing_admin";
  "cancel_subscription" if "org_admin";
  "cancel_subscription" if "billing_admin";

  # [R1] Organization Admin "Manage all organization users"; Billing Admin "View all
  # organization users"; User Admin "Manage all organization users with the following
  # limitations". [R1] "This setting is accessible by Organization Admin, Billing Admin and
  # User Admin!"
  "view_users" if "org_admin";
  "view_users" if "billing_admin";
  "view_users" if "user_admin";
  "view_members" if "org_admin";
  "view_members" if "billing_admin";
  "view_members" if "user_admin";
  # [R1] "These following features are only available to Organization Admin and User Admin!"
  # (adding, editing, deleting users). "Billing Admins can only view users and make no
  # changes."
  "invite_members" if "org_admin";
  "invite_members" if "user_admin";
  "view_invitations" if "org_admin";
  "view_invitations" if "user_admin";
  "edit_members" if "org_admin";
  "edit_members" if "user_admin";
  "remove_members" if "org_admin";
  "remove_members" if "user_admin";
  # Our addition: the audit trail, for the role that manages everything.
  "view_audit" if "org_admin";
  # Our addition: a closed organization allows nothing else, but its audit trail stays
  # readable to those who read it before (asked on the facts as they stood when it closed).
  "view_closed_audit" if "org_admin";

  # [R1] "Manage all spaces": Organization Admin ✅, User Admin ✅; Billing Admin "View all
  # spaces".
  "view_spaces" if "org_admin";
  "view_spaces" if "billing_admin";
  "view_spaces" if "user_admin";
  "manage_spaces" if "org_admin";
  "manage_spaces" if "user_admin";
  # [R1] User Admin: "Edit Assigned Spaces of all users".
  "assign_spaces" if "org_admin";
  "assign_spaces" if "user_admin";

  # [R1] "Delete organization": Organization Admin ✅, Billing Admin ✖, User Admin ✖.
  "close" if "org_admin";
}

# The roles the service stores for a user on a resource: a membership's on the organization,
# a grant's on a resource below it. One rule for every resource type of this policy (one per
# type gave the same answers, with more for Polar to try on every question).
has_role(actor: User, role: String, resource: Resource) if role in actor.roles_on(resource);

# ---------------------------------------------------------------- spaces
# A Space is a workspace users are assigned to; an assignment is a grant of "member" on it.
resource Space {
  roles = ["member"];
  permissions = ["view", "use", "create", "edit", "delete", "assign_users"];
  relations = { organization: Organization };

  # [R1] Member: "allowed to access spaces within an organization when given permission to
  # do so"; "the organization member's access is only limited to the spaces they are
  # granted access to."
  "view" if "member";
  "use" if "member";
  # [R1] "Organization admins have access to all spaces".
  "member" if "org_admin" on "organization";
  # [R1] Organization Admin "Manage all spaces"; User Admin "Manage all spaces" (managing
  # is not access: a User Admin uses a space only when assigned to it).
  "view" if "user_admin" on "organization";
  "create" if "org_admin" on "organization";
  "create" if "user_admin" on "organization";
  "edit" if "org_admin" on "organization";
  "edit" if "user_admin" on "organization";
  "delete" if "org_admin" on "organization";
  "delete" if "user_admin" on "organization";
  "assign_users" if "org_admin" on "organization";
  "assign_users" if "user_admin" on "organization";
  # [R1] Billing Admin: "View all spaces".
  "view" if "billing_admin" on "organization";
}

has_relation(org: Organization, "organization", space: Space) if org = space.organization;

# ---------------------------------------------------------------- management
# The roles an Organization Admin may give (see rank in _shared.polar). They are not a
# ladder: every role has rank 1, none above another. A new role of the Organization block
# needs its line here.
rank("org_admin", 1);
rank("billing_admin", 1);
rank("user_admin", 1);
rank("member", 1);
# A role the organization defines (see _shared.polar) has rank 1 too: an Organization Admin
# hands it out, changes it and removes its holders, and hands it out only if they hold
# everything it gives (hands_out_more). User Admins, limited to Members, do not.
rank(role: String, 1) if role.startswith("custom:");
# How the pages name the roles ([R1]).
role_label("org_admin", "Organization Admin");
role_label("billing_admin", "Billing Admin");
role_label("user_admin", "User Admin");
role_label("member", "Member");

resource NewOrganization {
  permissions = ["create"];
}
# [R2] "A User can only create one Organization. If you require more than one
# Organization, contact us". Belonging to others by invitation is fine ([R2] "Users can
# belong to multiple Organizations by invitation").
has_permission(_actor: User, "create", request: NewOrganization) if
    request.creator_created_in_style = false;

resource Invitation {
  permissions = ["invite", "cancel", "accept", "change_role"];
}
# [R1] "Select appropriate organization access for this new user." (Organization Admin)
has_permission(actor: User, "invite", invitation: Invitation) if
    has_role(actor, "org_admin", invitation.organization) and
    rank(invitation.role, _);
# [R1] "User Admins can only add users with Member access to prevent the misuse of
# unauthorised action."
has_permission(actor: User, "invite", invitation: Invitation) if
    has_role(actor, "user_admin", invitation.organization) and
    invitation.role = "member";
# Cancelling a pending invitation: whoever could have sent it.
has_permission(actor: User, "cancel", invitation: Invitation) if
    has_permission(actor, "invite", invitation);
# A pending invitation's role, as a member's: [R1] "User Admins cannot promote or demote an
# organization member"; "Billing Admins can only view users and make no changes." So only an
# Organization Admin changes it (a User Admin's invitations are for Members already, and
# "User Admins can only add users with Member access").
has_permission(actor: User, "change_role", invitation: Invitation) if
    has_role(actor, "org_admin", invitation.organization) and
    rank(invitation.to_role, _);
# Only the invited person ([R1] "The new user will have to click on a link embedded in the
# invitation email").
has_permission(_actor: User, "accept", invitation: Invitation) if
    invitation.email_matches = true;

resource RoleChange {
  permissions = ["change_role"];
}
# [R1] "User Admins cannot promote or demote an organization member"; "Billing Admins can
# only view users and make no changes." So only an Organization Admin changes roles.
# [R1] "Each organization has to have at least one organization admin."
has_permission(actor: User, "change_role", change: RoleChange) if
    has_role(actor, "org_admin", change.organization) and
    rank(change.to_role, _) and
    not (change.from_role = "org_admin" and change.last_of_role = true);

resource Membership {
  permissions = ["remove"];
}
# [R1] "A user cannot delete himself from the organization as it requires another
# authorised user to do so." So is_self is never allowed, by any rule here.
# [R1] Organization Admin: "Manage all organization users". "Each organization has to
# have at least one organization admin."
has_permission(actor: User, "remove", membership: Membership) if
    membership.is_self = false and
    has_role(actor, "org_admin", membership.organization) and
    not (membership.role = "org_admin" and membership.last_of_role = true);
# [R1] "User Admins can only delete users with Member access".
has_permission(actor: User, "remove", membership: Membership) if
    membership.is_self = false and
    has_role(actor, "user_admin", membership.organization) and
    membership.role = "member";

resource Grant {
  permissions = ["grant", "revoke"];
}
# [R1] User Admin: "Edit Assigned Spaces of all users"; "Assign this User to Space(s)".
has_permission(actor: User, "grant", grant: Grant) if
    space_assigner(actor, grant.parent) and grant.role = "member";
has_permission(actor: User, "revoke", grant: Grant) if
    space_assigner(actor, grant.parent);
space_assigner(actor: User, space: Space) if
    has_permission(actor, "assign_users", space);

# ---------------------------------------------------------------- teams
# The pages name no organization teams. Reading chosen: a team hands its organization role
# to its members, so it is managed as members are: [R1] "User Admins can only add users
# with Member access" and "cannot promote or demote an organization member", so a User
# Admin manages teams that hold no role or Member, an Organization Admin every team, and
# only an Organization Admin gives a team a role. A team's spaces are Grants (the rules
# above: assigned as a user is, Member only).
resource Team {
  permissions = ["manage", "assign_role"];
}
has_permission(actor: User, "manage", team: Team) if
    has_role(actor, "org_admin", team.organization);
has_permission(actor: User, "manage", team: Team) if
    has_role(actor, "user_admin", team.organization) and
    team_of_members(team);
team_of_members(team: Team) if team.role = nil;
team_of_members(team: Team) if team.role = "member";
has_permission(actor: User, "assign_role", team: Team) if
    has_role(actor, "org_admin", team.organization) and
    team_role_declared(team.to_role);
team_role_declared(role) if role = nil;
team_role_declared(role: String) if rank(role, _);

# ---------------------------------------------------------------- why a refusal
# reason(actor, action, resource, text) (see _shared.polar): one per limit of the rules
# above; a refusal shows the first that holds.
# [R2] "A User can only create one Organization. If you require more than one
# Organization, contact us"
reason(_actor: User, "create", request: NewOrganization,
       "a user may create one respond.io organization only, and this user already created one (more need respond.io's support)") if
    request.creator_created_in_style = true;

# [R1] adding users: "only available to Organization Admin and User Admin"
reason(actor: User, "invite", invitation: Invitation,
       "{a actor_role} may not invite users; Organization Admins and User Admins do") if
    not has_role(actor, "org_admin", invitation.organization) and
    not has_role(actor, "user_admin", invitation.organization);
# [R1] "User Admins can only add users with Member access"
reason(actor: User, "invite", invitation: Invitation,
       "a User Admin may invite only Members, and this invitation is for {a role}") if
    has_role(actor, "user_admin", invitation.organization) and
    not has_role(actor, "org_admin", invitation.organization) and
    not invitation.role = "member";
reason(actor: User, "cancel", invitation: Invitation,
       "{a actor_role} may not cancel invitations; Organization Admins and User Admins do") if
    not has_role(actor, "org_admin", invitation.organization) and
    not has_role(actor, "user_admin", invitation.organization);
reason(actor: User, "cancel", invitation: Invitation,
       "a User Admin may cancel only invitations for Members, and this one is for {a role}") if
    has_role(actor, "user_admin", invitation.organization) and
    not has_role(actor, "org_admin", invitation.organization) and
    not invitation.role = "member";
# [R1] "User Admins cannot promote or demote an organization member"
reason(actor: User, "change_role", invitation: Invitation,
       "{a actor_role} may not change the role of an invitation; only Organization Admins do") if
    not has_role(actor, "org_admin", invitation.organization);
reason(_actor: User, "accept", invitation: Invitation,
       "this invitation was sent to another email address") if
    not invitation.email_matches = true;

# [R1] "User Admins cannot promote or demote an organization member"
reason(actor: User, "change_role", change: RoleChange,
       "{a actor_role} may not change roles; only Organization Admins do") if
    not has_role(actor, "org_admin", change.organization);
# [R1] "Each organization has to have at least one organization admin."
reason(_actor: User, "change_role", change: RoleChange,
       "an organization keeps at least one Organization Admin, and this member is the last one; make another member Organization Admin first") if
    change.from_role = "org_admin" and change.last_of_role = true;

# [R1] "A user cannot delete himself from the organization as it requires another
# authorised user to do so."
reason(_actor: User, "remove", membership: Membership,
       "a user cannot remove themselves: another authorised user must do it") if
    membership.is_self = true;
reason(actor: User, "remove", membership: Membership,
       "{a actor_role} may not remove users; Organization Admins and User Admins do") if
    not has_role(actor, "org_admin", membership.organization) and
    not has_role(actor, "user_admin", membership.organization);
# [R1] "User Admins can only delete users with Member access"
reason(actor: User, "remove", membership: Membership,
       "a User Admin may remove only Members, and this member is {a role}") if
    has_role(actor, "user_admin", membership.organization) and
    not has_role(actor, "org_admin", membership.organization) and
    not membership.role = "member";
reason(_actor: User, "remove", membership: Membership,
       "an organization keeps at least one Organization Admin, and this member is the last one; make another member Organization Admin first") if
    membership.role = "org_admin" and membership.last_of_role = true;

# [R1] User Admin: "Edit Assigned Spaces of all users".
reason(actor: User, "grant", grant: Grant,
       "{a actor_role} may not assign users to spaces; Organization Admins and User Admins do") if
    not space_assigner(actor, grant.parent);
reason(actor: User, "revoke", grant: Grant,
       "{a actor_role} may not take users off spaces; Organization Admins and User Admins do") if
    not space_assigner(actor, grant.parent);


# Teams: [R1] "User Admins can only add users with Member access", "cannot promote or
# demote an organization member".
reason(actor: User, "manage", team: Team,
       "{a actor_role} may not manage teams; Organization Admins and User Admins do") if
    not has_role(actor, "org_admin", team.organization) and
    not has_role(actor, "user_admin", team.organization);
reason(actor: User, "manage", team: Team,
       "a User Admin manages only teams of Members, and this team is {a role}") if
    has_role(actor, "user_admin", team.organization) and
    not has_role(actor, "org_admin", team.organization) and
    not team_of_members(team);
reason(actor: User, "assign_role", team: Team,
       "{a actor_role} may not give teams roles; only Organization Admins do") if
    not has_role(actor, "org_admin", team.organization);
reason(_actor: User, "assign_role", team: Team,
       "respond.io has no role {to_role}") if
    not team_role_declared(team.to_role);
# ---------------------------------------------------------------- verified domains and requests to join (issue 28)
# The pages describe neither; these readings follow the rules for adding users, since a
# verified domain and an approved request both bring people in without an invitation.
# A request to join lives as long as an invitation (7 days, chosen above), and asks to be
# a Member.
setting("join_request_lifetime_hours", 168);
setting("join_request_role", "member");

resource Domain {
  permissions = ["manage", "configure"];
}
# [R1] adding users: "only available to Organization Admin and User Admin".
has_permission(actor: User, "manage", domain: Domain) if
    has_permission(actor, "invite_members", domain.organization);
# Suggesting the organization (or nothing): whoever manages domains.
has_permission(actor: User, "configure", domain: Domain) if
    has_permission(actor, "manage", domain) and
    not domain.join_mode = "auto";
# Joining at once with a role: as adding a user with it ([R1] "Select appropriate
# organization access for this new user."; "User Admins can only add users with Member
# access").
has_permission(actor: User, "configure", domain: Domain) if
    domain.join_mode = "auto" and
    has_role(actor, "org_admin", domain.organization) and
    rank(domain.role, _);
has_permission(actor: User, "configure", domain: Domain) if
    domain.join_mode = "auto" and
    has_role(actor, "user_admin", domain.organization) and
    domain.role = "member";

reason(actor: User, "manage", domain: Domain,
       "{a actor_role} may not manage verified domains; Organization Admins and User Admins do") if
    not has_permission(actor, "invite_members", domain.organization);
reason(actor: User, "configure", domain: Domain,
       "{a actor_role} may not manage verified domains; Organization Admins and User Admins do") if
    not has_permission(actor, "invite_members", domain.organization);
reason(actor: User, "configure", domain: Domain,
       "a User Admin may let a domain's users join only as Members, and this domain would make them {a role}") if
    domain.join_mode = "auto" and
    has_role(actor, "user_admin", domain.organization) and
    not has_role(actor, "org_admin", domain.organization) and
    not domain.role = "member";

# ---------------------------------------------------------------- roles an organization defines
# The pages name no custom roles. Reading chosen: an organization's own role is a set of
# the views and the billing and space actions of the built-in roles, defined by an
# Organization Admin ([R1] "Manage all organization users"), never with one they do not
# hold (hands_out_more in _shared.polar). Managing users stays with the admin roles. An
# Organization Admin holds every delegable permission, so that rule never refuses here, and
# has no reason.
delegable(_: Organization, action) if action in
    ["view", "view_billing", "manage_billing", "view_users", "view_members", "view_spaces",
     "edit_details"];
delegable(_: Space, action) if action in ["view", "use"];
# What such a role gives: what it lists, of the permissions above (see _shared.polar).
has_permission(actor: User, action: String, resource: Resource) if
    action in actor.custom_on(resource) and delegable(resource, action);
resource CustomRole {
  permissions = ["define"];
}
has_permission(actor: User, "define", role: CustomRole) if
    has_role(actor, "org_admin", role.organization);
reason(actor: User, "define", role: CustomRole,
       "only an Organization Admin defines roles") if
    not has_role(actor, "org_admin", role.organization);
