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

actor User {}

allow(actor, action, resource) if has_permission(actor, action, resource);

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
