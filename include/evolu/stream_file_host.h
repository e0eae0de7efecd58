/*
 * evolu/stream_file_host.h - the untrusted host side of the stream store
 * (evolu/stream_store.h) as files in one directory, for a PC or phone that
 * keeps a device's index and changes:
 *
 *   DIR/index       the committed index generation
 *   DIR/index.new   the generation being written (commit renames it over
 *                   index after fsync: atomic on POSIX file systems)
 *   DIR/blobs/HEX   one change per timestamp (32 hex digits), written to a
 *                   temporary file and renamed
 *
 * A host layer (src/store/): it uses stdio and POSIX calls and allocates.
 * Nothing here is trusted by the device: it verifies what it reads.
 */
#ifndef EVOLU_STREAM_FILE_HOST_H
#define EVOLU_STREAM_FILE_HOST_H

#include "evolu/error.h"
#include "evolu/stream_store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct evolu_stream_file_host evolu_stream_file_host;

/* Opens (creating it and DIR/blobs if needed) the host directory dir.
 * EVOLU_E_STORAGE if it cannot; EVOLU_E_NOMEM. */
evolu_err evolu_stream_file_host_open(const char *dir, evolu_stream_file_host **out);
/* Closes h (NULL is fine); an unfinished generation is dropped. */
void evolu_stream_file_host_close(evolu_stream_file_host *h);
/* The host table over h (valid while h is open). */
void evolu_stream_file_host_table(evolu_stream_file_host *h, evolu_stream_host *out);

#ifdef __cplusplus
}
#endif
#endif
