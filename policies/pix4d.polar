# Pix4D organizations.
# Sources, cited by key beside each rule:
#   [P1] Pix4D help, "Organization management" (current page)
#   [P0] Pix4D help, "Organization Support" (older version of the same page)
# Where they disagree, [P1] wins. Quotes below are from those pages.
#
# Roles are a ladder, each including the one below it ([P1] "Includes Reader permissions",
# "Includes Editor permissions", "Includes Manager permissions"):
#   member < reader < editor < manager < owner
# A member sees the organization and only what is assigned to them (a grant). One exception
# to the ladder: an assigned desktop License (see "licenses" below).

# ---------------------------------------------------------------- settings
# [P1] "Invitations are valid for 15 days. After 15 days, they automatically expire."
setting("invitation_lifetime_hours", 360);
# The pages state no limit on invitations per request: the service-wide cap of 100 applies.
setting("invitation_batch_limit", 100);
setting("grant_batch_limit", 100);
# docs/API.md: the creator of an organization becomes its top role.
# [P1] "Organization ... Requires at least one Owner."
setting("creator_role", "owner");

# The only caller attribute this policy reads, and its values (docs/VOCABULARY.md: cloud or
# desktop).
attribute("License", "kind");
attribute_value("License", "kind", "cloud");
attribute_value("License", "kind", "desktop");

# ---------------------------------------------------------------- request context
# docs/API.md 1.3, "Request context"; kept together here, apart from the role rules. The
# organization's setting `admin_ip_allowlist` (a list of CIDR ranges) limits where its
# settings may be changed from: the edits of details, legal and billing information ([P1]
# "Edit Organization Settings (Owners only)"). A check of one of these actions on the
# Organization of an org that set a list is allowed only when its context names an `ip` in
# the list; without one, or outside it, it is refused with the reason below. Without a list
# (or null) nothing changes. [P1] and [P0] state no restriction by network: our addition,
# reading "Organization Settings" as the three edit_* actions.
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
  roles = ["owner", "manager", "editor", "reader", "member"];
  permissions = [
    "view", "view_credits", "view_members", "view_invitations", "view_audit", "view_closed_audit",
    "edit_details", "edit_legal", "edit_billing", "close",
    "invite_members", "remove_members", "assign_roles",
    "manage_share_links", "share_to_cloud", "manage_licenses", "redeem_license",
    "buy_support_upgrade", "purchase_licenses", "buy_credits", "manage_auto_topup",
    "cancel_license", "resume_license", "configure_notifications"
  ];

  # The ladder ([P1] "Includes ... permissions and").
  "member" if "reader";
  "reader" if "editor";
  "editor" if "manager";
  "manager" if "owner";

  # [P1] Member: "View Organization information."
  "view" if "member";
  # [P1] dashboard "displays: Company and legal details, Credit balance, The user's current
  # role". Reading chosen: every member opens the dashboard, so every member sees credits.
  "view_credits" if "member";

  # [P0] "Owners and Managers can invite users to the organization and assign different roles."
  # [P1] Manager: "Invite, remove, and assign roles up to Manager." (limits: see below)
  "invite_members" if "manager";
  "remove_members" if "manager";
  "assign_roles" if "manager";
  # [P1] "Invite Users (Available to Owner and Managers.)": Manage People shows users, role,
  # email and invitation status ([P0]), so listing members and invitations goes with it.
  "view_members" if "manager";
  "view_invitations" if "manager";
  # Our addition: the audit trail of member changes, for those who manage members.
  "view_audit" if "manager";
  # Our addition: a closed organization allows nothing else, but its audit trail stays
  # readable to those who read it before (asked on the facts as they stood when it closed).
  "view_closed_audit" if "manager";

  # [P1] Manager: "Enable/disable share links." Reader and Editor: "Cannot manage share links."
  "manage_share_links" if "manager";
  # [P1] Manager: "Use Share to Cloud in supported Pix4D software."
  "share_to_cloud" if "manager";
  # [P1] Manager: "Full access to licenses."
  "manage_licenses" if "manager";
  # [P1] Manager: "Redeem new licenses"
  "redeem_license" if "manager";
  # [P1] Manager: "Buy Support & Upgrade options."
  "buy_support_upgrade" if "manager";
  # [P1] "Owners and Managers can add any email address" (Configure Email Notifications).
  "configure_notifications" if "manager";

  # [P1] Owner: "Edit billing and legal information." [P0] "Only a User with an Owner role
  # can edit the legal information". [P1] "Edit Organization Settings (Owners only)".
  "edit_details" if "owner";
  "edit_legal" if "owner";
  "edit_billing" if "owner";
  # [P1] Owner: "Close the Organization."
  "close" if "owner";
  # [P1] Owner: "Purchase licenses and credits." The same page also heads its procedures
  # "Purchase Licenses (Owners and Managers only)" and "Purchase Credits (Owners and
  # Managers only)". Reading chosen: the role list, Owner only, the narrower of the two.
  "purchase_licenses" if "owner";
  "buy_credits" if "owner";
  # [P1] Owner: "Enable automatic credit top-up." [P0] "Owners can modify the auto top-up
  # settings" ([P0]'s "Editors can enable the auto top-up when processing projects" is
  # superseded by [P1]).
  "manage_auto_topup" if "owner";
  # [P1] Owner: "Cancel or resume licenses."
  "cancel_license" if "owner";
  "resume_license" if "owner";
}

# The roles the service stores for a user on a resource: a membership's on the organization,
# a grant's on a resource below it. One rule for every resource type of this policy (one per
# type gave the same answers, with more for Polar to try on every question).
has_role(actor: User, role: String, resource: Resource) if role in actor.roles_on(resource);

# ---------------------------------------------------------------- cloud resources
# [P1] "Resource: A dataset, site, or folder in PIX4Dcloud." Roles apply to the whole
# organization ([P1] "Roles apply globally to the Organization."); a member holds a role on
# a resource only by a grant ([P1] Member: "Access assigned licenses and resources."), and a
# grant on a Folder flows down to its sub-folders, sites' datasets and datasets.
#
# Resource roles: reader ([P1] Reader: "View all Organization resources. Temporarily annotate
# datasets (no saving). Download annotations and PDF reports") and editor ([P1] Editor:
# "Full access to datasets, sites, and folders. Upload images and outputs.").

resource Folder {
  roles = ["reader", "editor"];
  permissions = ["view", "annotate", "save_annotations", "download_report",
                 "create", "edit", "delete", "upload"];
  relations = { organization: Organization, folder: Folder };

  "reader" if "reader" on "organization";
  "editor" if "editor" on "organization";
  "reader" if "reader" on "folder";
  "editor" if "editor" on "folder";
  "reader" if "editor";

  "view" if "reader";
  "annotate" if "reader";
  "download_report" if "reader";
  "save_annotations" if "editor";
  "create" if "editor";
  "edit" if "editor";
  "delete" if "editor";
  "upload" if "editor";
}

resource Site {
  roles = ["reader", "editor"];
  permissions = ["view", "annotate", "save_annotations", "download_report",
                 "create", "edit", "delete", "upload"];
  relations = { organization: Organization, folder: Folder };

  "reader" if "reader" on "organization";
  "editor" if "editor" on "organization";
  "reader" if "reader" on "folder";
  "editor" if "editor" on "folder";
  "reader" if "editor";

  "view" if "reader";
  "annotate" if "reader";
  "download_report" if "reader";
  "save_annotations" if "editor";
  "create" if "editor";
  "edit" if "editor";
  "delete" if "editor";
  "upload" if "editor";
}

# docs/VOCABULARY.md: a Dataset sits in a Folder or a Site, or directly in the organization.
resource Dataset {
  roles = ["reader", "editor"];
  permissions = ["view", "annotate", "save_annotations", "download_report",
                 "create", "edit", "delete", "upload"];
  relations = { organization: Organization, folder: Folder, site: Site };

  "reader" if "reader" on "organization";
  "editor" if "editor" on "organization";
  "reader" if "reader" on "folder";
  "editor" if "editor" on "folder";
  "reader" if "reader" on "site";
  "editor" if "editor" on "site";
  "reader" if "editor";

  "view" if "reader";
  "annotate" if "reader";
  "download_report" if "reader";
  "save_annotations" if "editor";
  "create" if "editor";
  "edit" if "editor";
  "delete" if "editor";
  "upload" if "editor";
}

has_relation(org: Organization, "organization", folder: Folder) if org = folder.organization;
has_relation(org: Organization, "organization", site: Site) if org = site.organization;
has_relation(org: Organization, "organization", dataset: Dataset) if org = dataset.organization;
# The parent is handed back (not compared) so Oso can walk up the tree.
has_relation(parent: Folder, "folder", folder: Folder) if parent = folder.parent;
has_relation(parent: Folder, "folder", site: Site) if parent = site.parent;
has_relation(parent: Folder, "folder", dataset: Dataset) if parent = dataset.parent;
has_relation(parent: Site, "site", dataset: Dataset) if parent = dataset.parent;

# ---------------------------------------------------------------- licenses
# A License has the attribute kind: "cloud" or "desktop" (docs/VOCABULARY.md).
resource License {
  roles = ["assignee"];
  permissions = ["use", "assign", "create", "edit", "delete"];
  relations = { organization: Organization };

  # [P1] Manager: "Full access to licenses."
  "assign" if "manager" on "organization";
  "create" if "manager" on "organization";
  "edit" if "manager" on "organization";
  "delete" if "manager" on "organization";
  # "use": by the has_permission rules below (it depends on the kind and the org role).
}

has_relation(org: Organization, "organization", license: License) if org = license.organization;

# [P1] Reader: "Cannot use desktop licenses." [P0] Reader: "can only access cloud licenses."
has_permission(actor: User, "use", license: License) if
    license.kind = "cloud" and has_role(actor, "reader", license.organization);
# [P1] Member: "Access assigned licenses and resources." against [P1] Reader: "Cannot use
# desktop licenses." The page lists the Reader without "Includes Member permissions" (the
# Editor, Manager and Owner each say "Includes ... permissions"), so it gives a Reader no
# assigned licenses. Reading chosen: an assignment (the role "assignee" on the License) lets
# a Member use that license, cloud or desktop; a Reader is refused a desktop license even
# when assigned it (and uses cloud licenses by the rule above); Editors and up use every
# license by the rule below. This is the one place where the ladder is not monotone: a
# Member may use an assigned desktop license that a Reader may not.
has_permission(actor: User, "use", license: License) if
    has_role(actor, "assignee", license) and
    not has_role(actor, "reader", license.organization);
# [P1] Editor: "Use desktop licenses." (and every license: "Full access to ... licenses")
has_permission(actor: User, "use", license: License) if
    has_role(actor, "editor", license.organization);

# ---------------------------------------------------------------- management
# The rank of each role, to say "up to" (see rank in _shared.polar): a new role of the
# Organization block needs its line here, or no one may invite as it or give it.
rank("member", 1);
rank("reader", 2);
rank("editor", 3);
rank("manager", 4);
rank("owner", 5);
# A role the organization defines (see _shared.polar) ranks as a Member: whoever may
# assign roles hands it out, changes it and removes its holders, as for a Member, and
# hands it out only if they hold everything it gives (hands_out_more).
rank(role: String, 1) if role.startswith("custom:");

# [P1] Manager: "Invite, remove, and assign roles up to Manager." Read as: whoever may
# assign roles may hand out, take away or change any role up to their own rank (a Manager
# up to Manager, an Owner up to Owner), never above it.
may_handle_role(actor: User, role: String, org: Organization) if
    has_permission(actor, "assign_roles", org) and
    own in actor.roles_on(org) and
    rank(own, own_rank) and rank(role, role_rank) and
    role_rank <= own_rank;

resource NewOrganization {
  permissions = ["create"];
}
# A user may belong to and create several organizations ([P0] "A user can belong to more
# than one organization and have a different role for each one").
has_permission(_actor: User, "create", _new: NewOrganization);

resource Invitation {
  permissions = ["invite", "cancel", "accept", "change_role"];
}
# [P1] "Invite Users (Available to Owner and Managers.)", roles up to the inviter's own.
has_permission(actor: User, "invite", invitation: Invitation) if
    has_permission(actor, "invite_members", invitation.organization) and
    may_handle_role(actor, invitation.role, invitation.organization);
# [P1] "Invitations can be removed before acceptance." By those who could have sent it.
has_permission(actor: User, "cancel", invitation: Invitation) if
    has_permission(actor, "invite_members", invitation.organization) and
    may_handle_role(actor, invitation.role, invitation.organization);
# [P0] "The role can be changed by a Manager or an Owner after the invitation is sent."
# [P1] "assign roles up to Manager": the invitation's role now and the role given must both
# be within reach (a Manager changes a Reader's invitation to Manager, not to Owner, and
# leaves an Owner's invitation alone).
has_permission(actor: User, "change_role", invitation: Invitation) if
    has_permission(actor, "invite_members", invitation.organization) and
    may_handle_role(actor, invitation.role, invitation.organization) and
    may_handle_role(actor, invitation.to_role, invitation.organization);
# Only the invited person ([P1] "Users receive an email containing an Accept invitation
# button").
has_permission(_actor: User, "accept", invitation: Invitation) if
    invitation.email_matches = true;

resource RoleChange {
  permissions = ["change_role"];
}
# [P0] "The role can be changed by a Manager or an Owner after the invitation is sent."
# [P1] "assign roles up to Manager": both the old and the new role must be within reach.
# [P1] "Requires at least one Owner": the last Owner is never demoted.
has_permission(actor: User, "change_role", change: RoleChange) if
    has_permission(actor, "assign_roles", change.organization) and
    may_handle_role(actor, change.from_role, change.organization) and
    may_handle_role(actor, change.to_role, change.organization) and
    not (change.from_role = "owner" and change.last_of_role = true);

resource Membership {
  permissions = ["remove"];
}
# [P1] "Remove Users: Owners and Managers only." Manager: "remove ... up to Manager".
# [P1] "Requires at least one Owner."
has_permission(actor: User, "remove", membership: Membership) if
    membership.is_self = false and
    has_permission(actor, "remove_members", membership.organization) and
    may_handle_role(actor, membership.role, membership.organization) and
    not (membership.role = "owner" and membership.last_of_role = true);
# [P0] "A member of an organization can leave at any time." Except the last Owner
# ([P1] "Requires at least one Owner").
has_permission(_actor: User, "remove", membership: Membership) if
    membership.is_self = true and
    not (membership.role = "owner" and membership.last_of_role = true);

resource Grant {
  permissions = ["grant", "revoke"];
}
# Assigning resources and licenses to a user ([P1] Member: "Access assigned licenses and
# resources"): licenses by those with full access to licenses, resources by those who
# assign roles (Manager and up).
has_permission(actor: User, "grant", grant: Grant) if
    grant_manager(actor, grant.parent);
has_permission(actor: User, "revoke", grant: Grant) if
    grant_manager(actor, grant.parent);
grant_manager(actor: User, license: License) if
    has_permission(actor, "assign", license);
grant_manager(actor: User, resource) if
    not resource matches License and
    has_permission(actor, "assign_roles", resource.organization);

# ---------------------------------------------------------------- teams
# The pages name no teams. Reading chosen: a team hands its org role and its resource roles
# to each of its members, so it is managed as those roles are handed out one by one ([P1]
# Manager: "Invite, remove, and assign roles up to Manager."): whoever may assign roles
# creates, renames, deletes and fills teams whose org role is within their reach (or that
# hold none), and gives a team only a role within it. Its grants on resources are Grants,
# decided by the rules above as for a member.
resource Team {
  permissions = ["manage", "assign_role"];
}
has_permission(actor: User, "manage", team: Team) if
    has_permission(actor, "assign_roles", team.organization) and
    team_role_within_reach(actor, team.role, team.organization);
has_permission(actor: User, "assign_role", team: Team) if
    has_permission(actor, "assign_roles", team.organization) and
    team_role_within_reach(actor, team.role, team.organization) and
    team_role_within_reach(actor, team.to_role, team.organization);
team_role_within_reach(_actor: User, role, _org: Organization) if role = nil;
team_role_within_reach(actor: User, role: String, org: Organization) if
    may_handle_role(actor, role, org);

# ---------------------------------------------------------------- why a refusal
# reason(actor, action, resource, text) (see _shared.polar): one per limit of the rules
# above; a refusal shows the first that holds.
reason(actor: User, "use", license: License,
       "a Reader may not use desktop licenses, even one assigned to them") if
    license.kind = "desktop" and
    has_role(actor, "reader", license.organization) and
    not has_role(actor, "editor", license.organization);
reason(actor: User, "use", license: License,
       "{a actor_role} may use only the licenses assigned to them") if
    not has_role(actor, "reader", license.organization) and
    not has_role(actor, "assignee", license);

# [P1] "Invite Users (Available to Owner and Managers.)"
reason(actor: User, "invite", invitation: Invitation,
       "{a actor_role} may not invite people; Owners and Managers do") if
    not has_permission(actor, "invite_members", invitation.organization);
# [P1] Manager: "Invite, remove, and assign roles up to Manager."
reason(actor: User, "invite", invitation: Invitation,
       "{a actor_role} may invite people only up to {actor_role}, and this invitation is for {a role}") if
    has_permission(actor, "invite_members", invitation.organization) and
    not may_handle_role(actor, invitation.role, invitation.organization);
reason(actor: User, "cancel", invitation: Invitation,
       "{a actor_role} may not cancel invitations; Owners and Managers do") if
    not has_permission(actor, "invite_members", invitation.organization);
reason(actor: User, "cancel", invitation: Invitation,
       "{a actor_role} may cancel invitations only up to {actor_role}, and this one is for {a role}") if
    has_permission(actor, "invite_members", invitation.organization) and
    not may_handle_role(actor, invitation.role, invitation.organization);
# [P0] "The role can be changed by a Manager or an Owner after the invitation is sent."
reason(actor: User, "change_role", invitation: Invitation,
       "{a actor_role} may not change the role of an invitation; Owners and Managers do") if
    not has_permission(actor, "invite_members", invitation.organization);
# [P1] "assign roles up to Manager": the invitation's role now, then the role given.
reason(actor: User, "change_role", invitation: Invitation,
       "{a actor_role} may change invitations only up to {actor_role}, and this one is for {a role}") if
    has_permission(actor, "invite_members", invitation.organization) and
    not may_handle_role(actor, invitation.role, invitation.organization);
reason(actor: User, "change_role", invitation: Invitation,
       "{a actor_role} may change invitations only up to {actor_role}, not to {to_role}") if
    has_permission(actor, "invite_members", invitation.organization) and
    not may_handle_role(actor, invitation.to_role, invitation.organization);
reason(_actor: User, "accept", invitation: Invitation,
       "this invitation was sent to another email address") if
    not invitation.email_matches = true;

# [P0] "The role can be changed by a Manager or an Owner"
reason(actor: User, "change_role", change: RoleChange,
       "{a actor_role} may not change roles; Owners and Managers do") if
    not has_permission(actor, "assign_roles", change.organization);
# [P1] "assign roles up to Manager": the member's role now, then the role given.
reason(actor: User, "change_role", change: RoleChange,
       "{a actor_role} may change roles only up to {actor_role}, and this member is {a from_role}") if
    has_permission(actor, "assign_roles", change.organization) and
    not may_handle_role(actor, change.from_role, change.organization);
reason(actor: User, "change_role", change: RoleChange,
       "{a actor_role} may change roles only up to {actor_role}, not to {to_role}") if
    has_permission(actor, "assign_roles", change.organization) and
    not may_handle_role(actor, change.to_role, change.organization);
# [P1] "Requires at least one Owner."
reason(_actor: User, "change_role", change: RoleChange,
       "an organization keeps at least one Owner, and this member is the last one; make another member Owner first") if
    change.from_role = "owner" and change.last_of_role = true;

# [P1] "Remove Users: Owners and Managers only."
reason(actor: User, "remove", membership: Membership,
       "{a actor_role} may not remove members; Owners and Managers do") if
    membership.is_self = false and
    not has_permission(actor, "remove_members", membership.organization);
# [P1] Manager: "Invite, remove, and assign roles up to Manager."
reason(actor: User, "remove", membership: Membership,
       "{a actor_role} may remove members only up to {actor_role}, and this member is {a role}") if
    membership.is_self = false and
    has_permission(actor, "remove_members", membership.organization) and
    not may_handle_role(actor, membership.role, membership.organization);

# [P1] "Requires at least one Owner." (leaving included)
reason(_actor: User, "remove", membership: Membership,
       "an organization keeps at least one Owner, and this member is the last one; make another member Owner first") if
    membership.role = "owner" and membership.last_of_role = true;

# Assigning resources and licenses: Managers and Owners.
reason(actor: User, "grant", grant: Grant,
       "{a actor_role} may not give members roles on a {type}; Owners and Managers do") if
    not grant_manager(actor, grant.parent);
reason(actor: User, "revoke", grant: Grant,
       "{a actor_role} may not take back roles on a {type}; Owners and Managers do") if
    not grant_manager(actor, grant.parent);

# Teams: as assigning roles ([P1] "assign roles up to Manager").
reason(actor: User, "manage", team: Team,
       "{a actor_role} may not manage teams; Owners and Managers do") if
    not has_permission(actor, "assign_roles", team.organization);
reason(actor: User, "manage", team: Team,
       "{a actor_role} may manage teams only up to {actor_role}, and this team is {a role}") if
    has_permission(actor, "assign_roles", team.organization) and
    not team_role_within_reach(actor, team.role, team.organization);
reason(actor: User, "assign_role", team: Team,
       "{a actor_role} may not give teams roles; Owners and Managers do") if
    not has_permission(actor, "assign_roles", team.organization);
reason(actor: User, "assign_role", team: Team,
       "{a actor_role} may give teams roles only up to {actor_role}, and this team is {a role}") if
    has_permission(actor, "assign_roles", team.organization) and
    not team_role_within_reach(actor, team.role, team.organization);
reason(actor: User, "assign_role", team: Team,
       "{a actor_role} may give teams roles only up to {actor_role}, not {to_role}") if
    has_permission(actor, "assign_roles", team.organization) and
    not team_role_within_reach(actor, team.to_role, team.organization);
# ---------------------------------------------------------------- verified domains and requests to join (issue 28)
# The pages describe neither; these readings follow the rules for inviting, since a
# verified domain and an approved request both bring people in without an invitation.
# A request to join lives as long as an invitation ([P1] "Invitations are valid for 15
# days"), and asks for the lowest role (a member sees "only what is assigned to them").
setting("join_request_lifetime_hours", 360);
setting("join_request_role", "member");

resource Domain {
  permissions = ["manage", "configure"];
}
# [P1] "Invite Users (Available to Owner and Managers.)": a domain invites its users.
has_permission(actor: User, "manage", domain: Domain) if
    has_permission(actor, "invite_members", domain.organization);
# Suggesting the organization to the domain's users (or nothing): whoever manages domains.
has_permission(actor: User, "configure", domain: Domain) if
    has_permission(actor, "manage", domain) and
    not domain.join_mode = "auto";
# Joining at once with a role: as inviting with that role ([P1] Manager: "Invite ... up to
# Manager").
has_permission(actor: User, "configure", domain: Domain) if
    has_permission(actor, "manage", domain) and
    domain.join_mode = "auto" and
    may_handle_role(actor, domain.role, domain.organization);

reason(actor: User, "manage", domain: Domain,
       "{a actor_role} may not manage verified domains; Owners and Managers do") if
    not has_permission(actor, "invite_members", domain.organization);
reason(actor: User, "configure", domain: Domain,
       "{a actor_role} may not manage verified domains; Owners and Managers do") if
    not has_permission(actor, "invite_members", domain.organization);
reason(actor: User, "configure", domain: Domain,
       "{a actor_role} may let a domain's users join only up to {actor_role}, and this domain would make them {a role}") if
    has_permission(actor, "invite_members", domain.organization) and
    domain.join_mode = "auto" and
    not may_handle_role(actor, domain.role, domain.organization);

# ---------------------------------------------------------------- roles an organization defines
# The pages name no custom roles. Reading chosen: an organization's own role is a set of
# the permissions its roles give on content, licenses and settings, so it is defined as
# roles are handed out ([P1] Manager: "Invite, remove, and assign roles up to Manager."):
# by whoever may assign roles, never with a permission they do not hold themselves
# (hands_out_more in _shared.polar). What may go in one (delegable): the content actions
# of folders, sites and datasets, using a license, and the organization's views and
# settings; never inviting, removing or assigning roles, which the rules above keep to
# the ladder's roles.
delegable(_: Organization, action) if action in
    ["view", "view_credits", "view_members", "edit_details", "edit_legal", "edit_billing",
     "buy_credits"];
delegable(_: License, "use");
delegable(_: Folder, action) if content_action(action);
delegable(_: Site, action) if content_action(action);
delegable(_: Dataset, action) if content_action(action);
content_action(action) if action in
    ["view", "annotate", "save_annotations", "download_report", "create", "edit", "delete",
     "upload"];
# What such a role gives: what it lists, of the permissions above (see _shared.polar).
has_permission(actor: User, action: String, resource: Resource) if
    action in actor.custom_on(resource) and delegable(resource, action);
resource CustomRole {
  permissions = ["define"];
}
has_permission(actor: User, "define", role: CustomRole) if
    has_permission(actor, "assign_roles", role.organization);
reason(actor: User, "define", role: CustomRole,
       "{a actor_role} may not define roles; Owners and Managers do") if
    not has_permission(actor, "assign_roles", role.organization);
# A Manager holds less than an Owner (settings, billing, credits): a role the organization
# defines that gives more is refused them, whatever the action that hands it out.
reason(actor: User, "invite", invitation: Invitation,
       "{a actor_role} may hand out only what they hold, and this role gives more") if
    has_permission(actor, "invite", invitation) and hands_out_more(actor, "invite", invitation);
reason(actor: User, "change_role", invitation: Invitation,
       "{a actor_role} may hand out only what they hold, and this role gives more") if
    has_permission(actor, "change_role", invitation) and hands_out_more(actor, "change_role", invitation);
reason(actor: User, "change_role", change: RoleChange,
       "{a actor_role} may hand out only what they hold, and this role gives more") if
    has_permission(actor, "change_role", change) and hands_out_more(actor, "change_role", change);
reason(actor: User, "grant", grant: Grant,
       "{a actor_role} may hand out only what they hold, and this role gives more") if
    has_permission(actor, "grant", grant) and hands_out_more(actor, "grant", grant);
reason(actor: User, "manage", team: Team,
       "{a actor_role} may hand out only what they hold, and this role gives more") if
    has_permission(actor, "manage", team) and hands_out_more(actor, "manage", team);
reason(actor: User, "assign_role", team: Team,
       "{a actor_role} may hand out only what they hold, and this role gives more") if
    has_permission(actor, "assign_role", team) and hands_out_more(actor, "assign_role", team);
reason(actor: User, "configure", domain: Domain,
       "{a actor_role} may hand out only what they hold, and this role gives more") if
    has_permission(actor, "configure", domain) and hands_out_more(actor, "configure", domain);
reason(actor: User, "define", role: CustomRole,
       "{a actor_role} may hand out only what they hold, and this role gives more") if
    has_permission(actor, "define", role) and hands_out_more(actor, "define", role);
