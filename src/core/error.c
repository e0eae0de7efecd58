/* error.c - messages for the one error enum (see evolu/error.h); the names
 * are in error_name.c. */
#include "evolu/error.h"

const char *evolu_strerror(evolu_err e) {
    switch (e) {
#define EVOLU_ERR_MSG_(name, value, msg) \
    case name:                           \
        return msg;
        EVOLU_ERRORS(EVOLU_ERR_MSG_)
#undef EVOLU_ERR_MSG_
    }
    return "unknown error";
}
