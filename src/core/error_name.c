/* error_name.c - the names of the error enum (see evolu/error.h).
 *
 * Apart from the messages (error.c) because a compiler merges all string
 * literals of one file into one section: with both here, an image that only
 * names its errors (the firmware's report lines) carried every message too
 * (~1.6 KB of flash). */
#include "evolu/error.h"

const char *evolu_errname(evolu_err e) {
    switch (e) {
#define EVOLU_ERR_NAME_(name, value, msg) \
    case name:                            \
        return #name;
        EVOLU_ERRORS(EVOLU_ERR_NAME_)
#undef EVOLU_ERR_NAME_
    }
    return "EVOLU_E_UNKNOWN";
}
