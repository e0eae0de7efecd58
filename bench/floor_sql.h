/* floor_sql.h - the SQL of bench_sqlite_floor.c: the client database schema
 * as spec 8.1 / 7.2 give it, one application table, and the statements spec
 * 8.2 requires for a received change. Included by that one file only. */
#ifndef EVOLU_BENCH_FLOOR_SQL_H
#define EVOLU_BENCH_FLOOR_SQL_H

/* Spec 8.1 with evolu_timestamp / evolu_usage of 7.2, copied as they are
 * (the same text as the client's), and one application table. */
static const char k_schema[] =
    "create table evolu_version (\"protocolVersion\" integer not null) strict;"
    "insert into evolu_version (\"protocolVersion\") values (1);"
    "create table evolu_config (\"clock\" blob not null) strict;"
    "insert into evolu_config (\"clock\") values (zeroblob(16));"
    "create table evolu_history (\"ownerId\" blob not null, \"table\" text not null,"
    " \"id\" blob not null, \"column\" text not null, \"timestamp\" blob not null,"
    " \"value\" any) strict;"
    "create index evolu_history_ownerId_timestamp on evolu_history (\"ownerId\", \"timestamp\");"
    "create unique index evolu_history_ownerId_table_id_column_timestampDesc"
    " on evolu_history (\"ownerId\", \"table\", \"id\", \"column\", \"timestamp\" desc);"
    "create table evolu_message_quarantine (\"ownerId\" blob not null,"
    " \"timestamp\" blob not null, \"table\" text not null, \"id\" blob not null,"
    " \"column\" text not null, \"value\" any,"
    " primary key (\"ownerId\", \"timestamp\", \"table\", \"id\", \"column\")) strict;"
    "create table evolu_timestamp (\"ownerId\" blob not null, \"t\" blob not null,"
    " \"h1\" integer, \"h2\" integer, \"c\" integer, \"l\" integer not null,"
    " primary key (\"ownerId\", \"t\")) strict;"
    "create index evolu_timestamp_index on evolu_timestamp"
    " (\"ownerId\", \"l\", \"t\", \"h1\", \"h2\", \"c\");"
    "create table evolu_usage (\"ownerId\" blob primary key, \"storedBytes\" integer not null,"
    " \"firstTimestamp\" blob, \"lastTimestamp\" blob) strict;"
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
