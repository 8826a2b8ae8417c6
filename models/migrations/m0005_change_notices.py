"""Per-organization change notices and the indexes list queries walk.

PostgreSQL: the statement-level triggers that bump the change counter (0001) are replaced
by triggers with transition tables that bump it once per statement and ``NOTIFY`` what the
statement touched, on the channel ``orgauthz:<schema>``, as JSON:

    {"g": <position>, "o": [org ids], "n": true}     memberships, grants, resources, orgs
    {"g": <position>, "u": [user ids]}               users created or deleted
    {"g": <position>, "k": true}                     API keys
    {"g": <position>, "all": true}                   TRUNCATE, or a statement over 100 orgs

``"n"``: rows were created (or renamed), so "no such resource/org" answers may be out of
date. A notification is delivered when its transaction commits, in commit order (the counter
row is locked until then), so a worker that has applied the notice of position P holds no
fact older than P (access/cache.py). A statement that changes no row neither bumps nor
notifies. TRUNCATE triggers (0002) keep calling ``orgauthz_bump``, which now also notifies.

Both databases: ``(org_id, type, rid)``, and the subtree index gains ``rid`` after ``path``,
so a list query over a large subtree reads each folder's rows in id order instead of sorting
the subtree (access/listing.py); on PostgreSQL both carry the columns the list filters on,
so no plan visits the table. SQLite keeps its per-request counter read (no NOTIFY there).
"""

import peewee

WATCHED = {  # table: (kind, the column naming the org or the user)
    "membership": ("org", "org_id"),
    "grant": ("org", "org_id"),
    "resource": ("org+new", "org_id"),
    "organization": ("org+new", "id"),
    "user": ("user", "id"),
    "api_key": ("key", None),
}
MAX_IDS = 100  # beyond this many orgs or users in one statement, notify "all"

_CHANGED = """
CREATE OR REPLACE FUNCTION orgauthz_changed() RETURNS trigger AS $$
DECLARE
  kind text := TG_ARGV[0];
  col text := TG_ARGV[1];
  ids text[];
  pos bigint;
  note json;
BEGIN
  IF kind = 'key' THEN
    IF TG_OP = 'DELETE' THEN
      PERFORM 1 FROM old_rows LIMIT 1;
    ELSE
      PERFORM 1 FROM new_rows LIMIT 1;
    END IF;
    IF NOT FOUND THEN RETURN NULL; END IF;
  ELSIF TG_OP = 'INSERT' THEN
    EXECUTE format('SELECT array_agg(DISTINCT %I::text) FROM new_rows', col) INTO ids;
  ELSIF TG_OP = 'DELETE' THEN
    EXECUTE format('SELECT array_agg(DISTINCT %I::text) FROM old_rows', col) INTO ids;
  ELSE
    EXECUTE format('SELECT array_agg(DISTINCT x) FROM (SELECT %I::text AS x FROM new_rows'
                   ' UNION SELECT %I::text FROM old_rows) s', col, col) INTO ids;
  END IF;
  IF kind <> 'key' AND ids IS NULL THEN RETURN NULL; END IF;
  UPDATE "generation" SET value = value + 1 WHERE id = 1 RETURNING value INTO pos;
  IF kind = 'key' THEN
    note := json_build_object('g', pos, 'k', true);
  ELSIF array_length(ids, 1) > {MAX_IDS} THEN
    note := json_build_object('g', pos, 'all', true);
  ELSIF kind = 'user' THEN
    note := json_build_object('g', pos, 'u', ids);
  ELSE
    note := json_build_object('g', pos, 'o', ids,
                              'n', kind = 'org+new' AND TG_OP <> 'DELETE');
  END IF;
  PERFORM pg_notify('orgauthz:' || TG_TABLE_SCHEMA, note::text);
  RETURN NULL;
END $$ LANGUAGE plpgsql
"""

_BUMP = """
CREATE OR REPLACE FUNCTION orgauthz_bump() RETURNS trigger AS $$
DECLARE pos bigint;
BEGIN
  UPDATE "generation" SET value = value + 1 WHERE id = 1 RETURNING value INTO pos;
  PERFORM pg_notify('orgauthz:' || TG_TABLE_SCHEMA, json_build_object('g', pos, 'all', true)::text);
  RETURN NULL;
END $$ LANGUAGE plpgsql
"""


def up(database: peewee.Database) -> None:
    if isinstance(database, peewee.SqliteDatabase):
        database.execute_sql(
            'CREATE INDEX IF NOT EXISTS "resource_org_type_rid" ON "resource" (org_id, type, rid)'
        )
        database.execute_sql(
            'CREATE INDEX IF NOT EXISTS "resource_org_type_path_rid" ON "resource" '
            "(org_id, type, path, rid)"
        )
        return
    # the driver formats parameters: its % must be doubled
    database.execute_sql(_CHANGED.replace("{MAX_IDS}", str(MAX_IDS)).replace("%", "%%"))
    database.execute_sql(_BUMP)
    for table, (kind, col) in WATCHED.items():
        database.execute_sql(f'DROP TRIGGER IF EXISTS "bump_{table}" ON "{table}"')
        events = ("INSERT", "DELETE") if table == "user" else ("INSERT", "UPDATE", "DELETE")
        for event in events:
            refs = {
                "INSERT": "NEW TABLE AS new_rows",
                "DELETE": "OLD TABLE AS old_rows",
                "UPDATE": "NEW TABLE AS new_rows OLD TABLE AS old_rows",
            }[event]
            database.execute_sql(
                f'CREATE OR REPLACE TRIGGER "changed_{table}_{event.lower()}" AFTER {event} '
                f'ON "{table}" REFERENCING {refs} FOR EACH STATEMENT '
                f"EXECUTE FUNCTION orgauthz_changed('{kind}', '{col or ''}')"
            )
    # List queries (access/listing.py): ids in order within an org's type, and a subtree by
    # path, each with the columns the list filters on, so neither plan visits the table.
    database.execute_sql(
        'CREATE INDEX IF NOT EXISTS "resource_org_type_rid" ON "resource" (org_id, type, rid) '
        "INCLUDE (path, shape, owner)"
    )
    database.execute_sql('DROP INDEX IF EXISTS "resource_subtree"')
    database.execute_sql(
        'CREATE INDEX "resource_subtree" ON "resource" '
        "(org_id, type, path varchar_pattern_ops, rid) INCLUDE (shape, owner)"
    )
