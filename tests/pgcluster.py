"""PostgreSQL servers of a test's own (a primary, streaming replicas made with
``pg_basebackup -R``, each on its own port of 127.0.0.1, run as the postgres user) and the
whole local cluster (nodes, nginx, PgBouncer): the code is deploy/localcluster.py; here are
the skip markers for machines that cannot run them."""

import os
import shutil

import pytest

from deploy.localcluster import (  # noqa: F401 (re-exported for the tests)
    NGINX,
    PG_BIN,
    PGBOUNCER,
    Cluster,
    LocalCluster,
    Server,
    as_postgres,
    free_port,
    wait_until_replayed,
)

needs_pg_server = pytest.mark.skipif(
    PG_BIN is None or shutil.which("runuser") is None or os.geteuid() != 0,
    reason="needs PostgreSQL's server binaries and root to run them as postgres",
)
needs_cluster = pytest.mark.skipif(
    PG_BIN is None or shutil.which("runuser") is None or os.geteuid() != 0 or NGINX is None,
    reason="needs PostgreSQL's server binaries, root to run them as postgres, and nginx",
)
needs_pgbouncer = pytest.mark.skipif(
    PGBOUNCER is None, reason="Debian's pgbouncer is not installed (apt-get install pgbouncer)"
)
