/* floor_sql.h - the SQL of bench_sqlite_floor.c: one application table and
 * the statements spec 8.2 requires for a received change, over the client's
 * own evolu_* tables. Included by that one file only. */
#ifndef EVOLU_BENCH_FLOOR_SQL_H
#define EVOLU_BENCH_FLOOR_SQL_H

/* What the bench adds to the client's own evolu_* tables (cdb_create_sql,
 * the spec 8.1 / 7.2 layout the client creates): the clock's row and one
 * application table as spec 8.1 lays it out. */
static const char k_schema_extra[] =
    "insert into evolu_config (\"clock\") values (zeroblob(16));"
    "create table \"reading\" (\"id\" text, \"createdAt\" any, \"updatedAt\" any,"
    " \"isDeleted\" any, \"ownerId\" any, \"sensor\" any, \"value\" any,"
    " primary key (\"ownerId\", \"id\")) without rowid, strict;";

/* The three per-change statements as prefix + row + suffix, so one
 * statement can carry 1 or MULTI rows (the client writes up to 32 rows per
 * statement, src/store/client_db_history.c). ?1 is the owner; a row's own
 * parameters start at ?B. */
#define MULTI 32
enum { R_HIST, R_APP, R_TS, R_COUNT };
static const struct {
    const char *head, *row, *tail;
    int first, per_row; /* the first row's B, parameters per row */
} k_rows[R_COUNT] = {
    [R_HIST] = {"insert into evolu_history (\"ownerId\", \"table\", \"id\", \"column\","
                " \"value\", \"timestamp\") values",
                "(?1, ?2, ?%d, ?%d, ?%d, ?%d)", " on conflict do nothing", 3, 4},
    [R_APP] = {"insert into \"reading\" (\"ownerId\", \"id\", \"createdAt\", \"sensor\","
               " \"value\") values",
               "(?1, ?%d, ?%d, ?%d, ?%d)",
               " on conflict (\"ownerId\", \"id\") do update set"
               " \"createdAt\" = excluded.\"createdAt\", \"sensor\" = excluded.\"sensor\","
               " \"value\" = excluded.\"value\"", 2, 4},
    [R_TS] = {"insert into evolu_timestamp (\"ownerId\", \"t\", \"h1\", \"h2\", \"c\", \"l\")"
              " values", "(?1, ?%d, ?%d, ?%d, 1, 1)", " on conflict do nothing", 2, 3},
};

enum { ST_COL0, ST_COL1, ST_COL2, ST_CLOCK, ST_USAGE, ST_COUNT };
static const char *const k_sql[ST_COUNT] = {
    [ST_COL0] = "insert into \"reading\" (\"ownerId\", \"id\", \"createdAt\") values (?1, ?2, ?3)"
                " on conflict (\"ownerId\", \"id\") do update set \"createdAt\" = ?3",
    [ST_COL1] = "insert into \"reading\" (\"ownerId\", \"id\", \"sensor\") values (?1, ?2, ?3)"
                " on conflict (\"ownerId\", \"id\") do update set \"sensor\" = ?3",
    [ST_COL2] = "insert into \"reading\" (\"ownerId\", \"id\", \"value\") values (?1, ?2, ?3)"
                " on conflict (\"ownerId\", \"id\") do update set \"value\" = ?3",
    [ST_CLOCK] = "update evolu_config set \"clock\" = ?1",
    [ST_USAGE] = "insert into evolu_usage (\"ownerId\", \"storedBytes\", \"firstTimestamp\","
                 " \"lastTimestamp\") values (?1, 1, ?2, ?3) on conflict (\"ownerId\") do update"
                 " set \"firstTimestamp\" = min(coalesce(\"firstTimestamp\","
                 " excluded.\"firstTimestamp\"), excluded.\"firstTimestamp\"),"
                 " \"lastTimestamp\" = max(coalesce(\"lastTimestamp\","
                 " excluded.\"lastTimestamp\"), excluded.\"lastTimestamp\")",
};

#endif
