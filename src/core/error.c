/* error.c - messages for the one error enum (see evolu/error.h). */
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
