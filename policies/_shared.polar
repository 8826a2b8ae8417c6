# Loaded into every style, before the style's own file.
#
# The service asks one question: allow(actor, action, resource). Every style answers it
# through has_permission, from its resource blocks and the rules beside them.
#
# What the policy is shown (see authz/view.py): the acting User holds roles directly on
# resources (`actor.roles_on(resource)`: its membership role on the Organization, its grants
# on anything else) and may own some (`actor.owns(resource)`). Every resource has
# `organization` (the root of its chain) and `parent` (the resource it sits in: the
# Organization for a top-level one). A style declares the caller attributes it reads with
# attribute(Type, name); it sees no other.
#
# Management resources, built by the service for its own endpoints (docs/VOCABULARY.md):
#   NewOrganization  create        creator_in_style_org, creator_created_in_style
#   Invitation       invite, cancel, accept, change_role
#                                  role, email_matches, actor_in_other_org; to_role (the
#                                  role a change_role gives a pending invitation)
#   RoleChange       change_role   from_role, to_role, is_self, last_of_role
#   Membership       remove        role, is_self, last_of_role
#   Grant            grant, revoke role; its parent is the resource the role is on
#                    (to a member or to a team: the same rules)
#   Team             manage (create, rename, delete, add and remove members), assign_role
#                                  role (the org role the team holds; nil: none),
#                                  to_role (the role assign_role gives; nil: none)
# A team's members hold its roles as their own (its org role and its grants): who may
# manage a team is who may hand out what it holds.
# `last_of_role` is true when no other active member of the organization holds that role.
# These are the only attributes a management resource shows the policy, and the service
# computes them, for a preview on /v1/authorize as for the write (access/previews.py):
attribute("NewOrganization", "creator_in_style_org");
attribute("NewOrganization", "creator_created_in_style");
attribute("Invitation", "role");
attribute("Invitation", "email_matches");
attribute("Invitation", "actor_in_other_org");
attribute("Invitation", "to_role");
attribute("RoleChange", "from_role");
attribute("RoleChange", "to_role");
attribute("RoleChange", "is_self");
attribute("RoleChange", "last_of_role");
attribute("Membership", "role");
attribute("Membership", "is_self");
attribute("Membership", "last_of_role");
attribute("Grant", "role");
attribute("Team", "role");
attribute("Team", "to_role");
# The permissions of a role the organization defined itself that the action hands out
# (nil for a built-in role): see "roles an organization defines" below.
attribute("Invitation", "role_permissions");
attribute("RoleChange", "role_permissions");
attribute("Grant", "role_permissions");
attribute("Team", "role_permissions");
attribute("Domain", "role_permissions");
attribute("CustomRole", "role_permissions");

actor User {}

allow(actor, action, resource) if
  has_permission(actor, action, resource) and
  not context_refuses(actor, action, resource) and
  not hands_out_more(actor, action, resource);

# ---------------------------------------------------------------- request context
# A check may carry a `context` object (docs/API.md 1.3, "Request context"): facts about the
# request itself, such as the caller's IP address. A style declares the ones its rules read,
# on which resource type and of which kind (string, boolean, integer, ip), with
# context_attribute(Type, name, kind); a rule reads them as `actor.context.<name>` (nil when
# the check did not send it), and `actor.context.ip_in(list)` says whether the context's ip
# lies in one of a list of CIDR ranges. Nothing else of the request is shown, and only on
# that type, so the answer stays a function of the view and those attributes (the memo keys
# on them). A style refuses what its roles allow with context_refuses(actor, action,
# resource): a rule that needs context it was not sent refuses, with a reason(...). Read it
# in permission rules only: the roles a has_role rule derives are kept without it.
context_attribute(_type, _name, _kind) if false;
context_refuses(_actor, _action, _resource) if false;

# A style states its settings with setting(name, value) and the caller attributes it reads
# with attribute(Type, name). These never hold; they only let a style state none.
setting(_name, _value) if false;
attribute(_type, _name) if false;
# attribute_value(Type, name, value): the values of an attribute worth showing apart in the
# effective role matrix (e.g. a cloud and a desktop License). Only the matrix reads it.
attribute_value(_type, _name, _value) if false;

# rank(role, n): each Organization role's place in the order the management rules read
# (who may hand out, take away or change which role). Every role of a style's Organization
# block needs one, beside the rules that read it: `policy check` fails on a role without,
# since no management rule could ever give it. Equal ranks are fine.
rank(_role, _n) if false;
# role_label(role, label): how a role is named in sentences ("Organization Admin");
# without one, "org_admin" reads "Org Admin".
role_label(_role, _label) if false;
# reason(actor, action, resource, text): why the policy refuses, one rule per limit of the
# rules that allow, in the words of the page it cites. A refusal shows the first that holds,
# as "<style>: <text>". In the text, {role}, {from_role}, {to_role} (the request's roles),
# {actor_role} (the actor's role in the organization) and {type} (the resource a Grant is
# on) are filled in by the service; {a role} puts "a" or "an" before it.
reason(_actor, _action, _resource, _text) if false;

# ---------------------------------------------------------------- verified domains (issue 28)
# A management resource of the verified domains (access/domains.py), built by the service:
#   Domain           manage        (adding a domain, verifying its DNS token, removing it)
#                    configure     join_mode ("off", "suggest" or "auto") and role (the role
#                                  an automatic join gives; asked only for "auto")
# Joining through a domain and approving a request to join are decided as an Invitation of
# that role is (invite, by whoever configured or approves; accept, by the user who joins).
attribute("Domain", "join_mode");
attribute("Domain", "role");

# ---------------------------------------------------------------- roles an organization defines
# An organization may define roles of its own (docs/API.md 1.3, "Custom roles"): a key
# "custom:<name>" and a list of [type, permission] pairs, each one its style declares
# delegable with delegable(resource: Type, permission). Such a role is held as a built-in
# one is: as a membership's role, a team's role, or a grant on a resource. The policy is
# shown what it gives, not its key: on each resource, the permissions of that resource's
# type listed by the org's roles that the actor holds on it or on a resource it sits in
# (actor.custom_on(resource)). A pair counts only while the style declares it delegable.
# A style that lets organizations define roles states, beside its delegable facts,
#   has_permission(actor: User, action: String, resource: Resource) if
#     action in actor.custom_on(resource) and delegable(resource, action);
# and the rank such a role takes: rank(role: String, n) if role.startswith("custom:") (of a
# text, a rule may ask only whether it starts with another).
delegable(_resource, _permission) if false;

# Never more than you hold. Defining such a role (a CustomRole: define, redefine, delete)
# and handing one out (an Invitation, a RoleChange, a Grant, a Team's role, a Domain's
# automatic-join role) show the role's permissions as role_permissions (nil for a built-in
# role), and are allowed only to an actor who holds every one of them on every resource of
# its type in the organization, from what the actor holds on the organization (a grant of
# such a role on one folder too: holding a permission in that folder alone is not enough). This is the rule "grant only
# up to your own role" for roles that have no place in a style's ranks: each style says
# beside its rank facts which built-in rank such a role takes for everything else.
# Taking a role away (cancel, revoke, remove) and accepting one hand nothing out. Each
# style words the refusal for the actions it allows (reason ... if hands_out_more).
hands_out_more(actor: User, action: String, resource) if
  action in ["invite", "change_role", "grant", "manage", "assign_role", "configure", "define"] and
  resource.role_permissions != nil and
  not holds_all(actor, resource.role_permissions, resource.organization);
holds_all(actor: User, permissions, place) if
  forall(p in permissions, holds_one(actor, p, place));
holds_one(actor: User, [kind, action], place) if
  resource = place.inside(kind) and resource != nil and has_permission(actor, action, resource);
