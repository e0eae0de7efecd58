/*
 * evolu/id.h - Base64Url, Id and OwnerId (spec 2.4).
 *
 * An Id is 16 bytes, written as 22 characters of unpadded Base64Url (RFC 4648 5).
 */
#ifndef EVOLU_ID_H
#define EVOLU_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evolu/bytes.h"
#include "evolu/error.h"
#include "evolu/port.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EVOLU_ID_BYTES 16
#define EVOLU_ID_CHARS 22

/* Unpadded Base64Url of n bytes: (4n + 2) / 3 characters. */
static inline size_t evolu_base64url_len(size_t n) { return (n / 3) * 4 + ((n % 3) ? (n % 3) + 1 : 0); }

/* Writes the unpadded Base64Url text of p[0..n) (no NUL). */
void evolu_base64url_encode(evolu_writer *w, const uint8_t *p, size_t n);

/* True iff s is canonical unpadded Base64Url: every character in the alphabet,
 * length mod 4 != 1, and the unused low bits of the last character are zero
 * (decode then re-encode gives s back). The empty string is canonical. */
bool evolu_base64url_is_canonical(const char *s, size_t n);

/* Decodes canonical Base64Url; EVOLU_E_BASE64URL if s is not canonical. */
evolu_err evolu_base64url_decode(evolu_writer *w, const char *s, size_t n);

/* Id text <-> bytes. evolu_id_from_string fails with EVOLU_E_ID unless s is a
 * valid Id (22 characters, canonical Base64Url). */
void evolu_id_to_string(const uint8_t id[EVOLU_ID_BYTES], char out[EVOLU_ID_CHARS]);
evolu_err evolu_id_from_string(const char *s, size_t n, uint8_t id[EVOLU_ID_BYTES]);
bool evolu_is_id(const char *s, size_t n);

/* createIdFromString: the first 16 bytes of SHA-256(s). */
void evolu_id_from_hash(const evolu_port *port, const uint8_t *s, size_t n,
                        uint8_t id[EVOLU_ID_BYTES]);

/* createId: 16 random bytes. */
void evolu_id_random(const evolu_port *port, uint8_t id[EVOLU_ID_BYTES]);

#ifdef __cplusplus
}
#endif
#endif
