/* err.c - names for the error enum. */
#include "core/err.h"

const char *fd_err_name(enum fd_err rc)
{
	static const char *const names[FD_ERR_COUNT] = {
	    [FD_OK] = "ok",
	    [FD_ENOMEM] = "out_of_memory",
	    [FD_EBADREQ] = "bad_request",
	    [FD_EUNAUTH] = "unauthorized",
	    [FD_EFORBIDDEN] = "forbidden",
	    [FD_ENOTFOUND] = "not_found",
	    [FD_EMETHOD] = "method_not_allowed",
	    [FD_ECONFLICT] = "conflict",
	    [FD_EPRECOND] = "precondition_failed",
	    [FD_ETOOLARGE] = "too_large",
	    [FD_EMEDIA] = "unsupported_media_type",
	    [FD_EINVALID] = "validation",
	    [FD_ETOOMANY] = "too_many_requests",
	    [FD_EBUSY] = "unavailable",
	    [FD_EIO] = "internal",
	};
	if ((unsigned)rc >= FD_ERR_COUNT)
		return "internal";
	return names[rc];
}
