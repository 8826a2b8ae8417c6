"""Deployment files (nginx, PgBouncer) and the local multi-node cluster (localcluster.py)."""
