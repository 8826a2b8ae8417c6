"""The service through PgBouncer in transaction mode (deploy/pgbouncer.ini): two nodes whose
DATABASE_URL goes through PgBouncer and whose DATABASE_LISTEN_URL goes straight to the
primary, behind nginx. A customer's journey over HTTP: a founder creates an organization,
a folder and a dataset, invites a member who accepts, grants, checks allowed and denied,
revokes, and a check carrying the revoke's consistency token is denied on every node. One
cluster for the module."""

import uuid

import httpx
import psycopg2
import pytest
from orgauthz_client import Client

from tests.pgcluster import LocalCluster, needs_cluster, needs_pgbouncer

pytestmark = [needs_cluster, needs_pgbouncer]


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(replicas=0, nodes=2, pgbouncer=True) as c:
        yield c


def bouncer_admin(cluster, command: str) -> list:
    """Rows of a PgBouncer admin console command (SHOW POOLS, SHOW SERVERS...) as dicts."""
    conn = psycopg2.connect(
        f"postgresql://postgres@127.0.0.1:{cluster.bouncer.port}/pgbouncer", connect_timeout=5
    )
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(command)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]
    finally:
        conn.close()


def transactions_through_bouncer(cluster) -> int:
    [stats] = [s for s in bouncer_admin(cluster, "SHOW STATS") if s["database"] == "orgauthz"]
    return int(stats["total_xact_count"])


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def check(http, url: str, actor: str, action: str, dataset: str, token: str) -> bool:
    """``allowed`` of a check at ``url`` that must see every change up to ``token``."""
    answer = http.post(
        f"{url}/v1/authorize",
        json={
            "actor": {"id": actor},
            "action": action,
            "resource": {"type": "Dataset", "id": dataset},
            "consistency": {"mode": "at_least_as_fresh", "token": token},
        },
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["allowed"]


def test_a_journey_through_pgbouncer(cluster):
    """Each check after a write carries that write's token (the write went to one node, the
    check may go to the other, whose cache learns of it by a notice)."""
    before = transactions_through_bouncer(cluster)
    everywhere = [node.url for node in cluster.nodes] + [cluster.url] * 2
    with (
        Client(cluster.url, cluster.key, timeout=10) as client,
        httpx.Client(headers=cluster.headers, timeout=10) as http,
    ):
        founder, member, outsider = unique("founder"), unique("member"), unique("outsider")
        for user in (founder, outsider):
            client.put_user(user, f"{user}@example.com")
        me = client.as_actor(founder)
        org = me.create_org("Acme", "pix4d")
        folder = me.put_resource(org.id, "Folder", unique("folder"))
        dataset = me.put_resource(org.id, "Dataset", unique("scan"), parent=("Folder", folder.id))
        [invitation] = me.invite(org.id, [(f"{member}@example.com", "member")])
        joined = client.accept_invitation(invitation.token, member, f"{member}@example.com")
        assert member in {m.user_id for m in me.list_members(org.id)}
        assert joined.consistency_token
        # a member sees no dataset of a folder not granted to it
        assert not check(http, cluster.url, member, "view", dataset.id, joined.consistency_token)

        granted = me.grant(org.id, "Folder", folder.id, member, "reader")
        assert granted.consistency_token
        for url in everywhere:
            assert check(http, url, member, "view", dataset.id, granted.consistency_token)
            assert not check(http, url, member, "delete", dataset.id, granted.consistency_token)
            assert not check(http, url, outsider, "view", dataset.id, granted.consistency_token)

        # The revoke through nginx (one node) and its token: the check with that token is
        # denied on each node directly and through nginx.
        revoked = http.delete(
            f"{cluster.url}/v1/orgs/{org.id}/resources/Folder/{folder.id}/grants/{member}",
            headers={"X-Actor-Id": founder},
        )
        assert revoked.status_code == 204
        token = revoked.headers["X-Consistency-Token"]
        for url in everywhere:
            assert not check(http, url, member, "view", dataset.id, token), url

    # The nodes' transactions went through PgBouncer.
    assert transactions_through_bouncer(cluster) > before


def test_only_the_listeners_connect_to_the_primary_directly(cluster):
    """Every connection of the nodes to the primary is one of PgBouncer's server
    connections, except one per gunicorn worker: its fact cache's LISTEN connection
    (DATABASE_LISTEN_URL), which PgBouncer in transaction mode could not carry."""
    bouncer_ports = {int(s["local_port"]) for s in bouncer_admin(cluster, "SHOW SERVERS")}
    assert bouncer_ports  # the journey's pool connections
    sessions = cluster.primary.sql(
        "SELECT client_port FROM pg_stat_activity"
        " WHERE datname = current_database() AND backend_type = 'client backend'"
        " AND pid <> pg_backend_pid()"
    )
    direct = [port for (port,) in sessions if port not in bouncer_ports]
    assert len(direct) == cluster.n_nodes * cluster.workers, (
        f"{len(direct)} direct connections to the primary besides PgBouncer's "
        f"{len(bouncer_ports)}; expected one LISTEN connection per worker"
    )
