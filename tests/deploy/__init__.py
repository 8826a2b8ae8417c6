"""The multi-node deployment (deploy/localcluster.py): nodes behind nginx, replicas, PgBouncer."""
